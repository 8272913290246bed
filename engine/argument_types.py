"""Command-line argument types shared by `engine` and `engine train`: a bad value is a usage error (exit 2)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from engine.library_reads import SQLITE_MAX_INTEGER

INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")  # ASCII digits only


def at_least(minimum: int, maximum: int = SQLITE_MAX_INTEGER) -> Callable[[str], int]:
    """An argparse type: an integer of ASCII digits from ``minimum`` to ``maximum`` (anything else is a usage error,
    exit 2). ``int`` alone would take "٣" for 3 and let a number past SQLite's integers reach the database."""

    def parse(text: str) -> int:
        if not INTEGER_TEXT.fullmatch(text):
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}: {value}")
        return value

    return parse
