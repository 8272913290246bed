"""Where each writable field lives in each tag family (ID3, Vorbis comments, MP4 atoms, ASF), with mutagen.

The keys come from ``engine.metadata``'s reading tables: a field is written into the first key our reader
tries, so the library reads back exactly what was written. Replacing a field also removes its other
spellings (a stale "KEY" beside a new "INITIALKEY"), except keys that mean something else elsewhere.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import mutagen
from mutagen._vorbis import VComment
from mutagen.asf import ASFTags
from mutagen.id3 import ID3, TXXX, Frames
from mutagen.mp4 import AtomDataType, MP4FreeForm, MP4Tags
from mutagen.wave import WAVE

from engine.file_problem import FileProblem
from engine.metadata import ASF_ATTRIBUTES, ID3_FRAMES, MP4_ATOMS, VORBIS_FIELDS

WRITABLE_FIELDS = ("key", "genre", "mood", "grouping", "bpm")
MP4_INTEGER_ATOMS = frozenset({"tmpo"})  # MP4 atoms that hold integers, not text (the tempo)
ID3_V23_MISSING_FRAMES = frozenset({"TMOO"})  # v2.4 frames an ID3v2.3 tag cannot hold (mutagen drops them)
ID3_V23_SEPARATOR = "/"  # ID3v2.3 has no multi-value text frames: mutagen joins values with this
NEVER_REMOVED = frozenset({"TIT1"})  # read as grouping, but iTunes uses it for "work"
MP4_FREEFORM_PREFIX = "----:"
ID3V1_SIZE = 128  # an ID3v1 tag: the last 128 bytes of the file, starting with "TAG"
ID3_DATE = re.compile(r"\d{4}(-\d\d(-\d\d)?)?")  # what an ID3 TDRC frame holds: 2003, 2003-05, 2003-05-12
RIFF_INFO_FRAMES = {"title": "TIT2", "artist": "TPE1", "album": "TALB", "genre": "TCON", "year": "TDRC",
                    "track_number": "TRCK"}  # a WAV's LIST/INFO fields (engine.riff_info) as ID3 frames


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
    """The mutagen file of ``path`` with a tag block (added when it has none) and its ``TagFamily``.

    An ID3v2.3 or v2.4 tag is read as it is (mutagen's default turns v2.3 frames into v2.4 ones, dropping RVAD,
    TSIZ, EQUA …, and fills it from the ID3v1 tag, which saving would then keep), so that saving one field leaves
    the others as they were; an ID3v2.2 tag, which mutagen cannot write, is read translated and saved as v2.4."""
    try:
        audio = mutagen.File(path)
        if audio is not None and isinstance(audio.tags, ID3) and audio.tags.version >= (2, 3, 0):
            audio = type(audio)(path, translate=False, load_v1=False)
    except Exception as error:  # mutagen raises many unrelated types on garbage input
        raise TagFormatError(path, f"cannot read its tags ({_short(error)})") from None
    if audio is None:
        raise TagFormatError(path, "not an audio file mutagen can tag")
    if audio.tags is None:
        try:
            audio.add_tags()
        except Exception as error:
            raise TagFormatError(path, f"cannot add tags to this format ({_short(error)})") from None
        if isinstance(audio, WAVE):
            _seed_from_riff_info(path, audio.tags)
    return audio, _family(path, audio.tags)


def _seed_from_riff_info(path: str, tags: ID3) -> None:
    """A WAV's new ID3 chunk starts with the tags of its LIST/INFO chunk (which stays as it is): a reader that
    takes a WAV's ID3 chunk alone when there is one would otherwise lose the title and artist once a key or tempo
    is written, and every reader here sees the same values either way (``engine.metadata`` reads INFO where ID3
    does not say)."""
    from engine.riff_info import riff_info_fields

    for field, text in riff_info_fields(path).items():
        frame = RIFF_INFO_FRAMES.get(field)
        if field == "year" and not ID3_DATE.fullmatch(text.strip()):
            continue  # "12/05/2003" would be read back as the year 12; the reader keeps taking INFO's
        if frame is not None and text and frame not in tags:
            tags.add(Frames[frame](encoding=3, text=[text.strip() if field == "year" else text]))


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


def touched_keys(family: TagFamily, field: str) -> set[str]:
    """The keys ``set_field`` writes or removes for ``field``."""
    first, *others = family.keys_by_field[field]
    return {first, *(key for key in others if key not in NEVER_REMOVED)}


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
    """Save the tag block in the family's version; an ID3v1 tag at the end of the file stays byte for byte (mutagen
    would rewrite it from the ID3v2 frames)."""
    id3v1 = _id3v1_block(audio.filename) if family.name.startswith("ID3") else None
    if family.name == "ID3v2.3":
        audio.save(v2_version=3, v23_sep=ID3_V23_SEPARATOR)
    else:
        audio.save()
    if id3v1 is not None:
        _put_back_id3v1(audio.filename, id3v1)


def _id3v1_block(path: str) -> bytes | None:
    """The file's last ``ID3V1_SIZE`` bytes when they are an ID3v1 tag."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() < ID3V1_SIZE:
            return None
        handle.seek(-ID3V1_SIZE, os.SEEK_END)
        block = handle.read(ID3V1_SIZE)
    return block if block.startswith(b"TAG") else None


def _put_back_id3v1(path: str, block: bytes) -> None:
    """Write ``block`` over the ID3v1 tag that saving left at the end of ``path`` (mutagen updates one that is there)."""
    if _id3v1_block(path) is None:
        raise TagFormatError(path, "saving would drop the file's ID3v1 tag")
    with open(path, "r+b") as handle:
        handle.seek(-ID3V1_SIZE, os.SEEK_END)
        handle.write(block)


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
