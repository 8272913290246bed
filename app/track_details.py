"""Gather what the details panel shows about one track (or one outside file); runs in a worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.tag_display import NO_USEFUL_TAGS_TEXT, active_calibration
from engine.audio import probe
from engine.library import LibraryError
from engine.results import KeyInfo
from engine.tag_calibration import has_shown_tags, informative_tags

NO_CONFIDENT_TAG_TEXT = "None of the model's tags is confident enough for this track to show."


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


def shown_tags(library: Any, tags: dict[str, float]) -> tuple[dict[str, float], str]:
    """The informative tags of a track and, when none is left, why (the model has no useful tags at all, or
    none fires confidently for this track)."""
    calibrations = active_calibration(library)
    shown = dict(informative_tags(tags, calibrations))
    if shown or calibrations is None or not tags:
        return shown, ""
    return shown, NO_CONFIDENT_TAG_TEXT if has_shown_tags(calibrations) else NO_USEFUL_TAGS_TEXT


def track_details(library: Any, track_id: int) -> TrackDetails:
    """A library track: its row, plus all tag probabilities from its stored analysis (the row has the top few)."""
    row = library.track(track_id)
    if row is None:
        raise LibraryError(f"track {track_id} is no longer in the library")
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


def file_details(library: Any, path: Path | str) -> TrackDetails:
    """Any audio file, analysed with the active model and not stored."""
    analysis = library.analyze_file(path)
    tags, note = shown_tags(library, dict(analysis.tags))
    return TrackDetails(
        path=str(path), display_path=str(path), title=Path(path).name, duration=probe(path).duration_seconds,
        key=analysis.key, tags=tags, tags_note=note,
    )
