"""The desktop app's command line: ``python main.py`` in a checkout, ``semisup-music`` once installed (a wheel
has no main.py). Opens the user's library, or the database given."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_arguments(argv: list[str], program: str = "semisup-music") -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=program, description="SemiSup Music: browse, search by sound, train.")
    parser.add_argument("--db", type=Path, default=None, help="library database file (default: your library)")
    parser.add_argument("--model", type=Path, default=None, help="model folder to use for this session")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, program: str = "semisup-music") -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv, program)
    from app.application import run

    return run(arguments.db, arguments.model)
