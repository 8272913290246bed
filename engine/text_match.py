"""What a library search compares a typed word with: one case-folded text per track, stored with it.

SQLite's ``LIKE`` folds the case of ASCII letters only ("ωμέγα" never found "Ωμέγα", nor "björk" "BJÖRK"), and a
word matched against a track's whole path matched the folders above it too ("1" found every track of a library
under ``lib-10000/``). The table's search box promises title, artist, album, genre or file name: those, case-folded
in Python when the track is stored, one ``LIKE`` on one column at search time (folding every row in Python at each
keystroke was 8 times slower on 100k tracks).
"""

from __future__ import annotations

import os

FIELD_SEPARATOR = "\n"  # a typed word holds no line break, so it never matches across two fields


def search_text(path: str, title: str | None, artist: str | None, album: str | None, genre: str | None) -> str:
    """The ``tracks.search_text`` of a track: its title, artist, album, genre and file name, case-folded."""
    fields = (title, artist, album, genre, os.path.basename(path))
    return FIELD_SEPARATOR.join(field.casefold() for field in fields if field)


def search_pattern(word: str) -> str:
    """The ``LIKE`` pattern (escape character ``\\``) that finds ``word`` anywhere in a ``search_text``."""
    escaped = word.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
