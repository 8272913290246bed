"""What a tag write must leave as it was: every tag of a file except the fields being written, as values.

mutagen re-serialises a whole tag block when it saves one field, and that can change others: repeated ID3v2.3
text frames are merged on reading and saved joined with "/" (two ReplayGain frames become one value no player
parses, two key frames "Am/8A", which no key reader parses). A write compares this snapshot of the original with
the copy's and refuses when anything else would change, instead of writing a file that has lost something.
"""

from __future__ import annotations

from mutagen._vorbis import VComment
from mutagen.id3 import ID3

IGNORED_FRAME_SPECS = frozenset({"encoding"})  # how an ID3 frame's text is stored, not what it says: an ID3v2.3
# tag cannot hold UTF-8, so mutagen saves such frames as UTF-16 with the same text


def tag_snapshot(tags, excluded_keys: set[str]) -> dict[str, object]:
    """The tag block's values by key, leaving out ``excluded_keys`` (the keys a write changes; Vorbis comment names
    compared case-insensitively), comparable with ``==`` between two readings of a file."""
    if isinstance(tags, ID3):
        snapshot: dict[str, object] = {key: _frame_values(frame) for key, frame in tags.items() if key not in excluded_keys}
        snapshot["(frames mutagen does not know)"] = sorted(bytes(frame) for frame in getattr(tags, "unknown_frames", []))
        return snapshot
    if isinstance(tags, VComment):
        excluded = {key.lower() for key in excluded_keys}
        values: dict[str, list[str]] = {}
        for key, value in tags:
            if key.lower() not in excluded:
                values.setdefault(key.lower(), []).append(value)
        return values
    return {key: repr(value) for key, value in tags.items() if key not in excluded_keys}


def changed_keys(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """Keys whose values differ between two snapshots (added, removed or changed), sorted."""
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))


def _frame_values(frame) -> tuple:
    specs = [*frame._framespec, *getattr(frame, "_optionalspec", [])]
    return tuple((spec.name, repr(getattr(frame, spec.name, None))) for spec in specs
                 if spec.name not in IGNORED_FRAME_SPECS)
