"""The value types the ``Library`` API hands out (to the CLI and the Qt app): plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.keys import Key
from engine.tag_suggestions import TagSuggestion

if TYPE_CHECKING:  # annotations only: reading commands import these types without numpy or mutagen
    import numpy as np

    from engine.tag_writer import TagWriteResult
    from engine.tempo import TempoEstimate


@dataclass(frozen=True)
class KeyInfo:
    """A key with every notation shown to users; ``source`` is "analysis" or "tag"."""

    name: str  # "A minor"
    tonic: str  # "A"
    pitch_class: int
    mode: str  # "major" | "minor"
    camelot: str  # "8A"
    open_key: str  # "1m"
    confidence: float | None
    source: str

    @classmethod
    def from_key(cls, key: Key, confidence: float | None, source: str) -> "KeyInfo":
        return cls(key.name, key.tonic, key.pitch_class, key.mode, key.camelot, key.open_key, confidence, source)

    def to_key(self) -> Key:
        return Key(self.pitch_class, self.mode)


@dataclass(frozen=True)
class BpmWrite:
    """Writing a file's tempo tag: the tempo found (None when there was none to write) and what the write did."""

    tempo: TempoEstimate | None
    write: TagWriteResult


@dataclass(frozen=True)
class KeyWrite:
    """Writing a track's key tag: the analysed key (None when there was none to write) and what the write did."""

    key: KeyInfo | None
    write: TagWriteResult


@dataclass(frozen=True)
class TrackRow:
    """One library track as listed: tags, stream facts, and (if analysed by the active model) key and tags."""

    id: int
    path: str  # str with surrogate escapes for non-UTF-8 names: use as-is with open()/os functions
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
    bpm: float | None
    key: KeyInfo | None
    top_tags: list[tuple[str, float]] = field(default_factory=list)
    analysed: bool = False
    display_path: str = ""
    estimated_bpm: float | None = None  # the active model's analysis' tempo; ``bpm`` is the file's own BPM tag
    bpm_confidence: float | None = None
    tempo_version: int | None = None  # the estimator (engine.tempo.TEMPO_VERSION) that made ``estimated_bpm``

    @property
    def mixing_bpm(self) -> float | None:
        """The tempo to match on: the estimate, else the file's tag (as a key falls back to the key tag)."""
        return self.estimated_bpm if self.estimated_bpm is not None else self.bpm


@dataclass(frozen=True)
class SimilarTrack:
    """A neighbour of a query: cosine similarity ``score`` in [-1, 1], best first. ``same_recording``: its
    landmark hashes show the same recording as the query (a copy, re-encode or excerpt); such tracks come
    first, with score 1.0."""

    track: TrackRow
    score: float
    same_recording: bool = False
    aligned_hashes: int = 0  # landmark hashes that line up with the query (0 unless same_recording)


@dataclass
class FileAnalysis:
    """The analysis of one file, not stored: ``embedding`` (D,) unit length float32."""

    path: str
    embedding: np.ndarray
    key: KeyInfo | None
    tags: dict[str, float]
    window_count: int
    model_id: str
    silent: bool = False  # every window under the silence level: no key (``key`` is None) and no tags

    @property
    def no_key_reason(self) -> str:
        """Why ``key`` is None."""
        return "no key: the audio is silent" if self.silent else "the model has no key head"


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str
    display_path: str = ""


@dataclass(frozen=True)
class TrackSuggestions:
    """Tags a model's head proposes for the empty genre / mood / grouping fields of one track, best first."""

    track_id: int
    path: str  # str with surrogate escapes, as ``TrackRow.path``
    title: str | None
    artist: str | None
    suggestions: list[TagSuggestion]


@dataclass(frozen=True)
class ModelInfo:
    model_id: str
    name: str
    folder: str
    embedding_dim: int
    tag_names: list[str]
    analysed_tracks: int
    active: bool


@dataclass(frozen=True)
class LibraryInfo:
    tracks: int
    problems: int
    model: str | None  # active model id, None when no usable model
    folders: list[str]
    analysed_tracks: int
    database: str


@dataclass
class IndexProgress:
    """A snapshot for progress displays; ``phase`` is "scan", "analyse" or "done"."""

    phase: str
    files_done: int
    files_total: int
    seconds: float
    audio_seconds: float
    current_path: str = ""
    # The scan streams into analysis: ``files_found`` is what it has found so far and, until ``scan_finished``,
    # ``files_total`` (the files to analyse) is an estimate that grows with it.
    files_found: int = 0
    scan_finished: bool = True

    @property
    def files_per_second(self) -> float:
        return self.files_done / self.seconds if self.seconds > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """At the rate so far; None before the first file is done."""
        rate = self.files_per_second
        return max(0, self.files_total - self.files_done) / rate if rate > 0 else None

    @property
    def realtime_factor(self) -> float:
        """Audio duration processed / wall time."""
        return self.audio_seconds / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class TrackRemoval:
    """What ``Library.remove_tracks`` did: the ids that left the library, and the paths now on the exclusion list
    (empty when asked not to exclude)."""

    removed: list[int]
    excluded: list[str]


@dataclass
class IndexReport:
    """What an index run did. ``analysed`` counts tracks run through the model (0 on a no-change re-run)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    problems: int = 0
    seconds: float = 0.0
    moved: int = 0
    analysed: int = 0
    audio_seconds: float = 0.0
    cancelled: bool = False
    excluded: int = 0  # files found in the folders but skipped: the user took them out of the library
    # library folders not there this run (an unmounted drive): not scanned, their tracks kept
    missing_folders: list[str] = field(default_factory=list)
    # library folders there but empty while the library knows tracks in them (an empty mount point): their tracks kept
    empty_folders: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "added": self.added, "updated": self.updated, "unchanged": self.unchanged, "removed": self.removed,
            "problems": self.problems, "seconds": round(self.seconds, 3), "moved": self.moved,
            "analysed": self.analysed, "audio_seconds": round(self.audio_seconds, 1),
            "realtime_factor": round(self.audio_seconds / self.seconds, 1) if self.seconds > 0 else 0.0,
            "cancelled": self.cancelled, "excluded": self.excluded, "missing_folders": list(self.missing_folders),
            "empty_folders": list(self.empty_folders),
        }
