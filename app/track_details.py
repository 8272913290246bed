"""Gather what the details panel shows about one track (or one outside file); runs in a worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audio import probe
from engine.library import LibraryError
from engine.results import KeyInfo


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
    tags: dict[str, float] = field(default_factory=dict)


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
    return TrackDetails(
        path=row.path, display_path=row.display_path or row.path, track_id=row.id, title=row.title,
        artist=row.artist, album=row.album, genre=row.genre, year=row.year, duration=row.duration, bpm=row.bpm,
        key=row.key, tags=tags,
    )


def file_details(library: Any, path: Path | str) -> TrackDetails:
    """Any audio file, analysed with the active model and not stored."""
    analysis = library.analyze_file(path)
    return TrackDetails(
        path=str(path), display_path=str(path), title=Path(path).name, duration=probe(path).duration_seconds,
        key=analysis.key, tags=dict(analysis.tags),
    )
