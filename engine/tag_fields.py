"""Where each writable field lives in each tag family (ID3, Vorbis comments, MP4 atoms, ASF), with mutagen.

The keys come from ``engine.metadata``'s reading tables: a field is written into the first key our reader
tries, so the library reads back exactly what was written. Replacing a field also removes its other
spellings (a stale "KEY" beside a new "INITIALKEY"), except keys that mean something else elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import mutagen
from mutagen._vorbis import VComment
from mutagen.asf import ASFTags
from mutagen.id3 import ID3, TXXX, Frames
from mutagen.mp4 import AtomDataType, MP4FreeForm, MP4Tags

from engine.file_problem import FileProblem
from engine.metadata import ASF_ATTRIBUTES, ID3_FRAMES, MP4_ATOMS, VORBIS_FIELDS

WRITABLE_FIELDS = ("key", "genre", "mood", "grouping", "bpm")
MP4_INTEGER_ATOMS = frozenset({"tmpo"})  # MP4 atoms that hold integers, not text (the tempo)
ID3_V23_MISSING_FRAMES = frozenset({"TMOO"})  # v2.4 frames an ID3v2.3 tag cannot hold (mutagen drops them)
ID3_V23_SEPARATOR = "/"  # ID3v2.3 has no multi-value text frames: mutagen joins values with this
NEVER_REMOVED = frozenset({"TIT1"})  # read as grouping, but iTunes uses it for "work"
MP4_FREEFORM_PREFIX = "----:"


class TagFormatError(FileProblem):
    """A file whose tags mutagen cannot read or we do not write."""


@dataclass(frozen=True)
class TagFamily:
    """A tag format and the keys of each writable field in it, the key written first."""

    name: str  # "ID3v2.4", "ID3v2.3", "Vorbis comments", "MP4", "ASF"
    keys_by_field: dict[str, list[str]]

    def stored_values(self, values: list[str]) -> list[str]:
        """The values as they read back after saving (ID3v2.3 joins several into one)."""
        if self.name == "ID3v2.3" and len(values) > 1:
            return [ID3_V23_SEPARATOR.join(values)]
        return list(values)


def open_tags(path: str):
    """The mutagen file of ``path`` with a tag block (added when it has none) and its ``TagFamily``."""
    try:
        audio = mutagen.File(path)
    except Exception as error:  # mutagen raises many unrelated types on garbage input
        raise TagFormatError(path, f"cannot read its tags ({_short(error)})") from None
    if audio is None:
        raise TagFormatError(path, "not an audio file mutagen can tag")
    if audio.tags is None:
        try:
            audio.add_tags()
        except Exception as error:
            raise TagFormatError(path, f"cannot add tags to this format ({_short(error)})") from None
    family = _family(path, audio.tags)
    if family.name == "ID3v2.3":
        audio.tags.update_to_v23()  # mutagen loads v2.3 as v2.4 in memory; saving as v2.3 needs this first
    return audio, family


def _family(path: str, tags) -> TagFamily:
    if isinstance(tags, ID3):
        if tags.version[:2] == (2, 3):  # keep the version the file has: old players may not read v2.4
            keys = {field: [key for key in ID3_FRAMES[field] if key not in ID3_V23_MISSING_FRAMES]
                    for field in WRITABLE_FIELDS}
            return TagFamily("ID3v2.3", keys)
        return TagFamily("ID3v2.4", _writable(ID3_FRAMES))
    if isinstance(tags, VComment):
        return TagFamily("Vorbis comments", _writable(VORBIS_FIELDS))
    if isinstance(tags, MP4Tags):
        return TagFamily("MP4", _writable(MP4_ATOMS))
    if isinstance(tags, ASFTags):
        return TagFamily("ASF", _writable(ASF_ATTRIBUTES))
    raise TagFormatError(path, f"writing {type(tags).__name__} tags is not supported")


def _writable(table: dict[str, list[str]]) -> dict[str, list[str]]:
    return {field: list(table[field]) for field in WRITABLE_FIELDS}


def field_values(audio, family: TagFamily, field: str) -> list[str]:
    """Every value of ``field`` under the first of its keys that has one; [] when none does."""
    for key in family.keys_by_field[field]:
        values = [text for text in (_text(value) for value in _raw_values(audio.tags, key)) if text]
        if values:
            return values
    return []


def set_field(audio, family: TagFamily, field: str, values: list[str]) -> None:
    """Put ``values`` under the field's first key and drop its other spellings (in memory; see ``save_tags``)."""
    first, *others = family.keys_by_field[field]
    tags = audio.tags
    for key in others:
        if key not in NEVER_REMOVED:
            _remove(tags, key)
    if isinstance(tags, ID3):
        tags.delall(first)
        tags.add(_id3_frame(first, values))
    elif isinstance(tags, VComment):
        _remove(tags, first)
        tags[first.upper()] = list(values)  # field names are case-insensitive; upper case is the convention
    elif isinstance(tags, MP4Tags) and first in MP4_INTEGER_ATOMS:
        tags[first] = [int(round(float(value))) for value in values]
    elif isinstance(tags, MP4Tags) and first.startswith(MP4_FREEFORM_PREFIX):
        tags[first] = [MP4FreeForm(value.encode("utf-8"), dataformat=AtomDataType.UTF8) for value in values]
    else:  # MP4 text atoms, ASF attributes: a list of strings
        tags[first] = list(values)


def save_tags(audio, family: TagFamily) -> None:
    if family.name == "ID3v2.3":
        audio.save(v2_version=3, v23_sep=ID3_V23_SEPARATOR)
    else:
        audio.save()


def _id3_frame(key: str, values: list[str]):
    frame_id, _, description = key.partition(":")
    if frame_id == "TXXX":
        return TXXX(encoding=3, desc=description, text=list(values))
    return Frames[frame_id](encoding=3, text=list(values))


def _raw_values(tags, key: str) -> list:
    if isinstance(tags, ID3):
        return list(getattr(tags.get(key), "text", None) or [])
    try:
        found = tags.get(key) if isinstance(tags, (MP4Tags, ASFTags)) else (tags[key] if key in tags else None)
    except (KeyError, ValueError, TypeError):
        return []
    return list(found or [])


def _remove(tags, key: str) -> None:
    if isinstance(tags, ID3):
        tags.delall(key)
    elif key in tags:
        del tags[key]


def _text(value) -> str:
    if isinstance(value, (bytes, bytearray)):  # MP4 freeform atom
        value = bytes(value).decode("utf-8", errors="replace")
    elif hasattr(value, "value"):  # ASF attribute
        value = value.value
    return str(value).strip().replace("\x00", "")


def _short(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]
