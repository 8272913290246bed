"""Start the desktop app: ``python main.py [--db FILE]`` opens the user's library (or the given database).
An installed copy starts it as ``semisup-music`` (``app.launch``)."""

from __future__ import annotations

import sys

from app.launch import main

if __name__ == "__main__":
    sys.exit(main(program="main.py"))
