"""Gather what the details panel shows about one track (or one outside file); runs in a worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from app import track_format
from app.tag_display import NO_USEFUL_TAGS_TEXT, active_calibration
from app.waveform import peak_envelope
from engine.audio import probe
from engine.library import LibraryError
from engine.results import KeyInfo
from engine.scan import display_path
from engine.search import ResolvedQuery
from engine.tag_calibration import has_shown_tags, informative_tags

NO_CONFIDENT_TAG_TEXT = QT_TRANSLATE_NOOP("TagDisplay", "None of the model's tags is confident enough for this track "
                                                        "to show.")


@dataclass
class TrackDetails:
    """Metadata, key and every tag probability; ``track_id`` is None for a file outside the library."""

    path: str
    display_path: str
    track_id: int | None = None
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    genre: str | None = None
    year: int | None = None
    duration: float | None = None
    bpm: float | None = None
    key: KeyInfo | None = None
    tags: dict[str, float] = field(default_factory=dict)  # only the informative ones (see engine.tag_calibration)
    tags_note: str = ""  # why no tag is shown, when the model's calibration hid them all
    # The waveform overview when the analysis decoded the whole file already (a short dropped file); else the
    # details panel decodes it for the overview.
    envelope: tuple[np.ndarray, np.ndarray] | None = None


def shown_tags(library: Any, tags: dict[str, float]) -> tuple[dict[str, float], str]:
    """The informative tags of a track and, when none is left, why (the model has no useful tags at all, or
    none fires confidently for this track)."""
    calibrations = active_calibration(library)
    shown = dict(informative_tags(tags, calibrations))
    if shown or calibrations is None or not tags:
        return shown, ""
    return shown, QCoreApplication.translate(
        "TagDisplay", NO_CONFIDENT_TAG_TEXT if has_shown_tags(calibrations) else NO_USEFUL_TAGS_TEXT)


def track_details(library: Any, track_id: int) -> TrackDetails:
    """A library track: its row, plus all tag probabilities from its stored analysis (the row has the top few)."""
    row = library.track(track_id)
    if row is None:
        raise LibraryError(QCoreApplication.translate("TrackDetails", "track {number} is no longer in the library")
                           .format(number=track_id))
    tags = dict(row.top_tags)
    if row.analysed:
        try:
            tags = library.analysis_for_path(row.path).tags or tags
        except LibraryError:
            pass  # the file changed or vanished since the scan: the stored top tags still describe it
    tags, note = shown_tags(library, tags)
    return TrackDetails(
        path=row.path, display_path=row.display_path or row.path, track_id=row.id, title=row.title,
        artist=row.artist, album=row.album, genre=row.genre, year=row.year, duration=row.duration, bpm=row.bpm,
        key=row.key, tags=tags, tags_note=note,
    )


@dataclass(frozen=True)
class DroppedFile:
    """A file dropped on the window, resolved once by the engine (``Library.resolve``: its analysis and landmarks,
    from one decode when it is not an unchanged library track), and what the panels show of it: the similar list
    searches with ``resolved`` (again on every filter change, never decoding the file again), the details panel
    shows ``details``."""

    resolved: ResolvedQuery
    details: TrackDetails


def analyse_dropped_file(library: Any, path: Path | str) -> DroppedFile:
    """Resolve a dropped file for every panel at once; runs in a worker. Raises ``LibraryError``."""
    resolved = library.resolve(path)
    return DroppedFile(resolved, file_details(library, path, resolved))


def file_details(library: Any, path: Path | str, resolved: ResolvedQuery) -> TrackDetails:
    """Any audio file, as ``Library.resolve`` found it (analysed with the active model, not stored). Its length and
    waveform come from that decode when there was one; an unchanged library track is only probed for its length."""
    analysis = resolved.analysis
    tags, note = shown_tags(library, dict(analysis.tags))
    audio = resolved.audio
    duration = audio.duration_seconds if audio is not None else probe(path).duration_seconds
    envelope = peak_envelope(audio.whole) if audio is not None and audio.whole is not None else None
    return TrackDetails(
        path=str(path), display_path=display_path(str(path)), title=track_format.file_name(path), duration=duration,
        key=analysis.key, tags=tags, tags_note=note, envelope=envelope,
    )
