"""Read tags and stream facts from a file with mutagen (ID3, Vorbis comments, MP4 atoms, ASF).

Tags never make a file a problem: an unreadable tag block gives empty fields, and decoding decides
whether the audio is usable.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

MAX_TAG_BPM = 1000.0  # a BPM tag above this is no tempo (DJ software stops at 999)
# Field name → keys to try, per tag family; the first non-empty value wins.
ID3_FRAMES = {
    "title": ["TIT2"], "artist": ["TPE1"], "album": ["TALB"], "album_artist": ["TPE2"], "genre": ["TCON"],
    "year": ["TDRC", "TYER", "TDOR"], "track_number": ["TRCK"], "bpm": ["TBPM"],
    "key": ["TKEY", "TXXX:initialkey", "TXXX:INITIALKEY"],  # some taggers write the Vorbis name as a TXXX frame
    "mood": ["TMOO", "TXXX:MOOD", "TXXX:mood"], "grouping": ["GRP1", "TIT1"],
}
VORBIS_FIELDS = {
    "title": ["title"], "artist": ["artist"], "album": ["album"], "album_artist": ["albumartist", "album artist"],
    "genre": ["genre"], "year": ["date", "year", "originaldate"], "track_number": ["tracknumber"],
    "key": ["initialkey", "key"], "bpm": ["bpm"], "mood": ["mood"], "grouping": ["grouping", "contentgroup"],
}
MP4_ATOMS = {
    "title": ["\xa9nam"], "artist": ["\xa9ART"], "album": ["\xa9alb"], "album_artist": ["aART"], "genre": ["\xa9gen"],
    "year": ["\xa9day"], "track_number": ["trkn"],
    "key": ["----:com.apple.iTunes:initialkey", "----:com.apple.iTunes:KEY", "----:com.apple.iTunes:INITIALKEY"],
    "bpm": ["tmpo", "----:com.apple.iTunes:BPM"], "mood": ["----:com.apple.iTunes:MOOD", "----:com.apple.iTunes:mood"],
    "grouping": ["\xa9grp"],
}
APE_FIELDS = {  # APEv2 keys (case-insensitive), as foobar2000 and old rippers write them on MP3s
    "title": ["title"], "artist": ["artist"], "album": ["album"], "album_artist": ["album artist", "albumartist"],
    "genre": ["genre"], "year": ["year", "date"], "track_number": ["track"], "key": ["initialkey", "key"],
    "bpm": ["bpm"], "mood": ["mood"], "grouping": ["grouping"],
}
ASF_ATTRIBUTES = {
    "title": ["Title"], "artist": ["Author", "WM/AlbumArtist"], "album": ["WM/AlbumTitle"],
    "album_artist": ["WM/AlbumArtist"], "genre": ["WM/Genre"], "year": ["WM/Year"], "track_number": ["WM/TrackNumber"],
    "key": ["WM/InitialKey"], "bpm": ["WM/BeatsPerMinute"], "mood": ["WM/Mood"], "grouping": ["WM/ContentGroupDescription"],
}
YEAR_PATTERN = re.compile(r"(\d{4})")
LEADING_NUMBER_PATTERN = re.compile(r"\s*(\d+)")
MULTI_VALUE_SEPARATOR = "; "  # how a tag with several values reads (library tag training splits on ";")


@dataclass
class TrackMetadata:
    """Tags and stream facts of one file; any field may be None when the file does not say."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    album_artist: str | None = None
    genre: str | None = None
    year: int | None = None
    track_number: int | None = None
    duration: float | None = None
    codec: str | None = None
    bitrate: int | None = None
    sample_rate: int | None = None
    key: str | None = None  # the key tag as written in the file (TKEY / INITIALKEY), unparsed
    bpm: float | None = None
    mood: str | None = None
    grouping: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_metadata(path: str) -> TrackMetadata:
    """Tags and stream info of ``path``; empty metadata if mutagen cannot read the file."""
    import mutagen  # here: the store imports TrackMetadata, and reading commands never open a file's tags

    try:
        audio = mutagen.File(path)
    except Exception:  # mutagen raises many unrelated types on garbage input; tags are optional
        return TrackMetadata()
    if audio is None:
        return TrackMetadata()
    raw = _raw_fields(audio)
    for field, value in _fallback_fields(path, audio).items():  # tags mutagen's reader of the format skips
        raw.setdefault(field, value)
    info = getattr(audio, "info", None)
    return TrackMetadata(
        title=raw.get("title"),
        artist=raw.get("artist"),
        album=raw.get("album"),
        album_artist=raw.get("album_artist"),
        genre=raw.get("genre"),
        year=_leading_year(raw.get("year")),
        track_number=_leading_int(raw.get("track_number")),
        duration=_positive_float(getattr(info, "length", None)),
        codec=_codec_name(audio),
        bitrate=_positive_int(getattr(info, "bitrate", None)),
        sample_rate=_positive_int(getattr(info, "sample_rate", None)),
        key=raw.get("key"),
        bpm=tag_bpm(raw.get("bpm")),
        mood=raw.get("mood"),
        grouping=raw.get("grouping"),
    )


def _fallback_fields(path: str, audio) -> dict[str, str]:
    """Tags in a second block the format's reader does not read: APEv2 on an MP3, LIST/INFO in a WAV."""
    from mutagen.mp3 import MP3
    from mutagen.wave import WAVE

    if isinstance(audio, MP3):
        from mutagen.apev2 import APEv2

        try:
            tags = APEv2(path)
        except Exception:  # none there, or damaged: mutagen raises many unrelated types; tags are optional
            return {}
        return _fields_from(tags, APE_FIELDS, case_sensitive=True)  # mutagen's APEv2 keys ignore case already
    if isinstance(audio, WAVE):
        from engine.riff_info import riff_info_fields

        return riff_info_fields(path)
    return {}


def _raw_fields(audio) -> dict[str, str]:
    from mutagen.asf import ASFTags
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4Tags

    tags = getattr(audio, "tags", None)
    if tags is None:
        return {}
    case_sensitive = True
    if isinstance(tags, ID3):
        table = ID3_FRAMES
    elif isinstance(tags, MP4Tags):
        table = MP4_ATOMS
    elif isinstance(tags, ASFTags):
        table = ASF_ATTRIBUTES
    else:
        table, case_sensitive = VORBIS_FIELDS, False
    return _fields_from(tags, table, case_sensitive)


def _fields_from(tags, table: dict[str, list[str]], case_sensitive: bool) -> dict[str, str]:
    """{field: text} of a tag block: for each field the first of its keys that holds text."""
    fields = {}
    for field, keys in table.items():
        for key in keys:
            value = _first_text(tags, key, case_sensitive)
            if value:
                fields[field] = value
                break
    return fields


def _first_text(tags, key: str, case_sensitive: bool) -> str | None:
    try:
        value = tags.get(key) if hasattr(tags, "get") else None
        if value is None and not case_sensitive:
            value = tags.get(key.upper())
    except (KeyError, ValueError, TypeError):
        return None
    if value is None:
        return None
    if hasattr(value, "text"):  # ID3 frame
        value = value.text
    if isinstance(value, (list, tuple)):
        if not value:
            return None
        if len(value) > 1 and all(isinstance(item, str) for item in value):
            # A multi-value text tag (two artists, a title in two parts) is kept whole: its first value alone
            # made different tracks read the same ("Living Caves" seven times).
            texts = (item.strip().replace("\x00", "") for item in value)
            return MULTI_VALUE_SEPARATOR.join(text for text in texts if text) or None
        value = value[0]
    if isinstance(value, tuple):  # MP4 trkn (number, total)
        value = value[0]
    if isinstance(value, (bytes, bytearray)):  # MP4 freeform atom
        value = bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "value"):  # ASF attribute
        value = value.value
    text = str(value).strip().replace("\x00", "")
    return text or None


def _codec_name(audio) -> str | None:
    info = getattr(audio, "info", None)
    codec = getattr(info, "codec", None) or getattr(info, "codec_name", None)
    return codec if isinstance(codec, str) and codec else None


def _leading_year(text: str | None) -> int | None:
    match = YEAR_PATTERN.search(text or "")
    return int(match.group(1)) if match else None


def _leading_int(text: str | None) -> int | None:
    match = LEADING_NUMBER_PATTERN.match(text or "")
    return int(match.group(1)) if match else None


def _positive_float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < math.inf else None


def tag_bpm(value) -> float | None:
    """A BPM tag's tempo; None for none, for "0" (what some players write for "not known"), and for values no
    music has (``inf``, ``999999``), which would otherwise match every tempo filter as a half or double of
    anything. Text as people and other programs write it is read: "128 BPM", "127,5"."""
    if isinstance(value, str):
        value = value.strip()
        value = value[:-3].strip() if value.lower().endswith("bpm") else value
        value = value.replace(",", ".") if value.count(",") == 1 and "." not in value else value
    number = _positive_float(value)
    return number if number is not None and number <= MAX_TAG_BPM else None


def _positive_int(value) -> int | None:
    number = _positive_float(value)
    return int(number) if number else None
