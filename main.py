"""Start the desktop app: ``python main.py [--db FILE]`` opens the user's library (or the given database)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="main.py", description="SemiSup Music: browse, search by sound, train.")
    parser.add_argument("--db", type=Path, default=None, help="library database file (default: your library)")
    parser.add_argument("--model", type=Path, default=None, help="model folder to use for this session")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    from app.application import run

    return run(arguments.db, arguments.model)


if __name__ == "__main__":
    sys.exit(main())
