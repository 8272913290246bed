"""What a library search compares a typed word with, as SQL functions every library connection has.

SQLite's ``LIKE`` folds the case of ASCII letters only ("ωμέγα" never found "Ωμέγα", nor "björk" "BJÖRK"), and a
word matched against a track's whole path matched the folders above it too ("1" found every track of a library
under ``lib-10000/``). The table's search box promises title, artist, album, genre or file name.
"""

from __future__ import annotations

import os


def fold_case(text: str | None) -> str | None:
    """``text`` case-folded as Python folds any script's letters (None stays None)."""
    return None if text is None else text.casefold()


def file_name(path: str | None) -> str | None:
    """The last part of a stored path (None stays None)."""
    return None if path is None else os.path.basename(path)


SQL_FUNCTIONS = {"fold_case": fold_case, "file_name": file_name}


def register_functions(dbapi_connection) -> None:
    """Make ``SQL_FUNCTIONS`` callable from SQL on a sqlite3 connection."""
    for name, function in SQL_FUNCTIONS.items():
        dbapi_connection.create_function(name, 1, function, deterministic=True)
