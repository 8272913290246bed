"""The type of every value in the ``engine`` CLI's JSON contract (DESIGN.md), for the tests that read its output."""

from __future__ import annotations

from key_wheel import KEY_WHEEL

NUMBER = (int, float)
OPTIONAL_TEXT = (str, type(None))
INDEX_TYPES = {"added": int, "updated": int, "unchanged": int, "removed": int, "problems": int, "seconds": NUMBER}
SIMILAR_TYPES = {"path": str, "track_id": int, "score": NUMBER, "title": OPTIONAL_TEXT, "artist": OPTIONAL_TEXT,
                 "key": OPTIONAL_TEXT, "same_recording": bool}
KEY_TYPES = {"path": str, "tonic": str, "pitch_class": int, "mode": str, "camelot": str, "confidence": NUMBER,
             "key": str, "open_key": str}
BPM_TYPES = {"path": str, "bpm": NUMBER, "confidence": NUMBER}
INFO_TYPES = {"tracks": int, "problems": int, "model": OPTIONAL_TEXT, "folders": list}
PROBLEM_TYPES = {"path": str, "reason": str}
ERROR_TYPES = {"path": str, "error": str}
WHEEL_BY_INDEX = {index: (name, camelot, open_key) for index, name, camelot, open_key in KEY_WHEEL}


def assert_types(row: dict, types: dict) -> None:
    """Every contract field is present with its type (a bool never passes for a number)."""
    for field, expected in types.items():
        assert field in row, (field, row)
        value = row[field]
        assert isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool), (field, value)
