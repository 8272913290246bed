"""How a track's fields read on screen: durations, keys, tags and scores, the same in every list (words in the
user's language: these run on workers too, and ``QCoreApplication.translate`` may be called from any thread)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication

from engine.scan import display_path

UNKNOWN = ""
TOP_TAGS_SHOWN = 3
# Below this the key is shown dimmed and Write key offers to skip it. The model's confidence is calibrated on
# rendered scores (90 % of clean renders are right); on real game music its median was 23 %, with most wrong
# keys under 40 %, so a key the model itself rates below 40 % is shown as a guess, not as a fact.
KEY_CONFIDENCE_THRESHOLD = 0.40
BITS_PER_KILOBIT = 1000
BPM_TAG_DIFFERENCE = 0.02  # a file's BPM tag this far (2 %) from the estimate is shown beside it


def duration_text(seconds: float | None) -> str:
    """``245.2`` → ``"4:05"``; hours only when needed."""
    if seconds is None or seconds <= 0:
        return UNKNOWN
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def key_text(name: str | None, camelot: str | None) -> str:
    """``"A minor", "8A"`` → ``"A minor (8A)"``: the name musicians read and the number DJs mix by."""
    if not name:
        return UNKNOWN
    return f"{name} ({camelot})" if camelot else name


def track_key_text(track: Any) -> str:
    """The key column of any track list (``TrackRow.key`` is a ``KeyInfo`` or None)."""
    key = track.key
    return key_text(key.name, key.camelot) if key is not None else UNKNOWN


def key_is_doubtful(key: Any) -> bool:
    """An analysed key (``KeyInfo``) the model rates below KEY_CONFIDENCE_THRESHOLD; a key tag is not doubted."""
    confidence = getattr(key, "confidence", None)
    return confidence is not None and confidence < KEY_CONFIDENCE_THRESHOLD


def key_confidence_text(key: Any) -> str:
    """``"82% confidence"``, ``"23% confidence: a guess"`` or ``"from the file's key tag"``."""
    if key.confidence is None:
        return QCoreApplication.translate("TrackFormat", "from the file's key tag") if key.source == "tag" else ""
    percent = f"{key.confidence:.0%}"
    if key_is_doubtful(key):
        return QCoreApplication.translate("TrackFormat", "{percent} confidence: a guess").format(percent=percent)
    return QCoreApplication.translate("TrackFormat", "{percent} confidence").format(percent=percent)


def key_confidence_tip(key: Any) -> str:
    """A key cell's tooltip: the key in full and how sure the model is of it."""
    confidence = key_confidence_text(key)
    tip = QCoreApplication.translate("TrackFormat", "{name} · Camelot {camelot} · Open Key {open_key}").format(
        name=key.name, camelot=key.camelot, open_key=key.open_key)
    return f"{tip} — {confidence}" if confidence else tip


def file_name(path: str | Path) -> str:
    """A file's name as Qt can show it: bytes that are not UTF-8 (a Latin-1 name) as U+FFFD, not dropped."""
    return display_path(Path(path).name)


def folder_name(path: str | Path) -> str:
    """The folder a file is in, as its last two parts ("Artist/Album"): enough to tell copies apart."""
    parent = Path(path).parent
    return str(Path(parent.parent.name, parent.name)) if parent.parent.name else parent.name


# The codec names files report, as people name the formats: decoder variants ("mp3float"), MP4 object types
# ("mp4a.40.2") and PCM sample layouts read as what they are. Anything else is shown as reported, upper-cased.
FORMAT_NAMES = {"mp3float": "MP3", "mp3": "MP3", "mp4a.40.2": "AAC", "mp4a.40.5": "HE-AAC", "mp4a.40.29": "HE-AAC",
                "aac": "AAC", "alac": "ALAC"}
FORMAT_PREFIXES = (("pcm_", "PCM"), ("mp4a.", "AAC"), ("windows media audio", "WMA"))


def format_text(codec: str | None, path: str | Path) -> str:
    """``"MP3"``: the stream's codec when known (by its common name), else the file's extension."""
    if not codec:
        return Path(path).suffix.lstrip(".").upper()
    name = codec.lower()
    if name in FORMAT_NAMES:
        return FORMAT_NAMES[name]
    return next((shown for prefix, shown in FORMAT_PREFIXES if name.startswith(prefix)), codec.upper())


def bitrate_text(bits_per_second: int | None) -> str:
    if not bits_per_second:
        return UNKNOWN
    return QCoreApplication.translate("TrackFormat", "{kilobits} kbps").format(kilobits=round(bits_per_second / BITS_PER_KILOBIT))


def bpm_text(bpm: float | None) -> str:
    if not bpm:
        return UNKNOWN
    return f"{bpm:.0f}" if abs(bpm - round(bpm)) < 0.05 else f"{bpm:.1f}"


def bpm_tip(estimated_bpm: float | None, tag_bpm: float | None) -> str:
    """``"Estimated 176 BPM; the file's tag says 88 BPM"`` when the tag and the estimate differ by more than
    ``BPM_TAG_DIFFERENCE``; "" otherwise."""
    if not estimated_bpm or not tag_bpm or abs(tag_bpm / estimated_bpm - 1.0) <= BPM_TAG_DIFFERENCE:
        return ""
    return QCoreApplication.translate("TrackFormat", "Estimated {estimated} BPM; the file's tag says {tagged} BPM").format(
        estimated=bpm_text(estimated_bpm), tagged=bpm_text(tag_bpm))


def tags_text(tags: Mapping[str, float] | Iterable[Any] | None, limit: int = TOP_TAGS_SHOWN) -> str:
    """Top tags as ``"rock, calm"``; accepts ``{name: p}``, ``[(name, p)]`` or ``[name]``."""
    if not tags:
        return UNKNOWN
    if isinstance(tags, Mapping):
        names = [name for name, _ in sorted(tags.items(), key=lambda item: -item[1])]
    else:
        names = [item[0] if isinstance(item, (tuple, list)) else str(item) for item in tags]
    return ", ".join(names[:limit])


def score_text(score: float) -> str:
    return f"{score:.3f}"


def title_or_file_name(title: str | None, path: str | Path) -> str:
    """A track without a title tag is shown by its file name, so no row is blank."""
    return title if title else file_name(path)


def artist_title(artist: str | None, title: str | None, path: str | Path) -> str:
    name = title_or_file_name(title, path)
    return f"{artist} – {name}" if artist else name


BYTES_PER_UNIT = 1024
SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


def size_text(size: int | None) -> str:
    """``3_355_443`` → ``"3.2 MB"`` (binary units, as file managers show them)."""
    if size is None or size < 0:
        return UNKNOWN
    value, unit = float(size), 0
    while value >= BYTES_PER_UNIT and unit < len(SIZE_UNITS) - 1:
        value, unit = value / BYTES_PER_UNIT, unit + 1
    return f"{value:.0f} {SIZE_UNITS[unit]}" if unit == 0 else f"{value:.1f} {SIZE_UNITS[unit]}"
