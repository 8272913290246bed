"""Typed records the store hands out (as beets hands out ``Item``s): a stored track, a track's label tags, a model.

Callers read them through ``Library`` (``Library.tagged_tracks``, ``Library.models``, ...), never as dicts keyed
by column names. ``StoredTrack`` mirrors the store's track query column for column (the store checks this when
it is imported), so a column added to the schema is added here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # ``engine info`` and ``problems`` read records without importing numpy
    import numpy as np


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 3x a dict per row (``similar`` builds many)
class StoredTrack:
    """One ``tracks`` row with its analysis by the model asked for (the analysis fields None when it has none).

    ``path`` is the printable form; ``path_key`` the file name's exact bytes. ``tag_probs`` is the stored blob
    (float32 per tag of that model); ``estimated_bpm`` the analysis' tempo (by the estimator ``tempo_version``),
    ``bpm`` the file's own BPM tag.
    """

    id: int
    path_key: bytes
    path: str
    size: int
    mtime_ns: int
    quick_hash: str
    title: str | None
    artist: str | None
    album: str | None
    album_artist: str | None
    genre: str | None
    year: int | None
    track_number: int | None
    duration: float | None
    codec: str | None
    bitrate: int | None
    sample_rate: int | None
    tag_key: str | None
    bpm: float | None
    mood: str | None
    grouping: str | None
    added_at: float
    updated_at: float
    search_text: str | None
    key_index: int | None
    key_confidence: float | None
    tag_probs: bytes | None
    analysis_id: int | None
    estimated_bpm: float | None
    bpm_confidence: float | None
    tempo_version: int | None

    @property
    def analysed(self) -> bool:
        return self.analysis_id is not None


@dataclass(frozen=True)
class TaggedTrack:
    """A track's label tags (what ``engine train from-library`` learns from and tag suggestions fill in) with the
    key estimate (``key_index``) and tag probabilities (float32 per tag) of one model's analysis, None without one."""

    id: int
    path: str  # with surrogate escapes for non-UTF-8 names: use as-is with open()/os functions
    album: str | None = None
    album_artist: str | None = None
    genre: str | None = None
    mood: str | None = None
    grouping: str | None = None
    tag_key: str | None = None
    key_index: int | None = None
    title: str | None = None
    artist: str | None = None
    tag_probs: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StoredModel:
    """A registered model and how many tracks it has analysed."""

    model_id: str
    name: str
    weights_sha256: str
    folder: str
    embedding_dim: int
    tag_names: list[str]
    registered_at: float
    analysed: int


@dataclass(frozen=True)
class Crate:
    """A crate the user keeps in the library: a named, ordered list of tracks (``track_count`` of them)."""

    id: int
    name: str
    track_count: int


@dataclass(frozen=True)
class ExcludedFile:
    """A file taken out of the library that the scan skips (``path`` with surrogate escapes, usable with open())."""

    path: str
    excluded_at: float
