"""Training data: JSONL manifests, label vocabularies, a decoded-audio cache and the labeled/unlabeled batch composer.

Manifest: one JSON object per line, ``{"path": "...", "labels": ["rock", ...], "split": "train", "key": "A minor"}``;
``labels`` and ``key`` are optional, other fields are kept in ``ManifestEntry.extra``. Relative paths are
relative to the manifest's folder.

The cache (``training.audio_cache``) decodes every track once, in parallel and resumably, into a few large
shards; steps then read memory-mapped slices and never wait on MP3 decoding. The composer draws each step's
global batch (every rank draws the same one) and hands each rank its interleaved share of it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from engine.keys import parse_key
from training.audio_cache import CACHE_PROBLEMS_FILE, INT16_SCALE, AudioCache, _cache_name  # noqa: F401  (re-exported)


class ManifestError(ValueError):
    """A manifest line is not valid JSON or lacks a path; the message names the file and line."""


@dataclass
class ManifestEntry:
    path: Path
    labels: list[str] = field(default_factory=list)
    split: str = "train"
    key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key_index(self) -> int:
        """24-class key index (engine.keys convention), -1 when the entry has no readable key."""
        parsed = parse_key(self.key) if self.key else None
        return parsed.index if parsed else -1


def read_manifest(path: Path | str, split: str | None = None) -> list[ManifestEntry]:
    """Read a JSONL manifest, optionally keeping one split."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a manifest saved by Windows Notepad starts with a BOM
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not a text (UTF-8) JSONL manifest") from None
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            audio_path = Path(record.pop("path"))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise ManifestError(f"{path}:{number}: expected a JSON object with a \"path\"") from None
        labels = record.pop("labels", []) or []
        if not isinstance(labels, list):
            raise ManifestError(f"{path}:{number}: \"labels\" must be a list of names, like [\"rock\"], got "
                                f"{labels!r}")
        key = record.pop("key", None)
        if key is not None and not isinstance(key, str):
            raise ManifestError(f"{path}:{number}: \"key\" must be a key name, like \"A minor\", got {key!r}")
        relative = record.pop("relative_path", None)  # the corpora's manifests: the path from their own folder
        if isinstance(relative, str) and not audio_path.is_absolute():
            audio_path = Path(relative)
        entry = ManifestEntry(
            path=audio_path if audio_path.is_absolute() else path.parent / audio_path,
            labels=[str(label) for label in labels],
            split=str(record.pop("split", "train")),
            key=key,
            extra=record,
        )
        if split is None or entry.split == split:
            entries.append(entry)
    return entries


def write_manifest(path: Path | str, entries: Iterable[ManifestEntry]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for entry in entries:
            record = {"path": str(entry.path), "labels": entry.labels, "split": entry.split, **entry.extra}
            if entry.key is not None:
                record["key"] = entry.key
            handle.write(json.dumps(record) + "\n")


@dataclass
class LabelVocabulary:
    """Ordered label names; ``encode`` gives a multi-hot float32 vector (unknown labels are ignored)."""

    names: list[str]

    @classmethod
    def from_entries(cls, entries: Iterable[ManifestEntry]) -> "LabelVocabulary":
        return cls(sorted({label for entry in entries for label in entry.labels}))

    def __len__(self) -> int:
        return len(self.names)

    def encode(self, labels: Iterable[str]) -> np.ndarray:
        positions = {name: index for index, name in enumerate(self.names)}
        vector = np.zeros(len(self.names), dtype=np.float32)
        for label in labels:
            if label in positions:
                vector[positions[label]] = 1.0
        return vector


# ---------------------------------------------------------------- batches


@dataclass
class Batch:
    """``audio`` (clips, views, samples) float32; ``labels`` (clips, classes) multi-hot or None when no
    labeled data is configured; ``key_index`` (clips,) -1 = unknown; ``labeled`` (clips,) bool."""

    audio: torch.Tensor
    labels: torch.Tensor | None
    key_index: torch.Tensor
    labeled: torch.Tensor

    def to(self, device: torch.device) -> "Batch":
        non_blocking = device.type == "cuda"
        return Batch(
            self.audio.to(device, non_blocking=non_blocking),
            None if self.labels is None else self.labels.to(device, non_blocking=non_blocking),
            self.key_index.to(device),
            self.labeled.to(device),
        )


@dataclass
class Track:
    samples: np.ndarray  # int16 memmap
    labels: np.ndarray  # multi-hot float32 (classes,)
    key_index: int


def read_views(samples: np.ndarray, views: int, window_samples: int, view_samples: int, start: int) -> np.ndarray:
    """V adjacent non-overlapping windows from ``start``; each view carries ``view_samples`` >= window (the
    extra context the pitch shift reads). Short tracks are zero-padded. Returns float32 (views, view_samples)."""
    out = np.zeros((views, view_samples), dtype=np.float32)
    for view in range(views):
        begin = start + view * window_samples
        piece = samples[begin : begin + view_samples]
        out[view, : piece.shape[0]] = piece
    return out / INT16_SCALE


class _ShuffledPool:
    """Cycles through tracks in a fresh random order each pass (like an epoch-shuffled loader)."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size, self.rng = size, rng
        self.order = rng.permutation(size)
        self.cursor = 0

    def take(self, count: int) -> np.ndarray:
        chosen = []
        while len(chosen) < count:
            if self.cursor == self.size:
                self.order, self.cursor = self.rng.permutation(self.size), 0
            chosen.append(int(self.order[self.cursor]))
            self.cursor += 1
        return np.asarray(chosen)


class LabeledShareError(ValueError):
    """A non-zero labeled share rounds to no labeled clip per batch; the message names the settings."""


def labeled_clips(batch_size: int, labeled_share: float, has_labeled: bool, has_unlabeled: bool) -> int:
    """Labeled clips in a global batch, as the reference: ``int(B * b_s)``; all or none when only one kind
    exists. Refuses a share that rounds to zero, which would silently train SSL-only."""
    if not has_unlabeled:
        return batch_size
    if not has_labeled or labeled_share == 0.0:
        return 0
    count = int(batch_size * labeled_share)
    if count == 0:
        raise LabeledShareError(
            f"data.labeled_share {labeled_share:g} of data.batch_size {batch_size} rounds to 0 labeled clips per "
            f"batch (the run would be SSL-only); raise data.batch_size to at least {math.ceil(1 / labeled_share)} or the share"
        )
    return count


class BatchComposer:
    """Makes each step's global batch of ``batch_size`` clips, the first ``labeled_share`` labeled, the rest
    unlabeled, and returns this rank's share: global clips ``rank, rank + world_size, ...``.

    Every rank draws the same global batch (same seed) but reads only its own clips, so the labeled share is
    that of the whole batch, whatever the number of ranks, and one process (``world_size`` 1) sees exactly
    the global batch. Each clip is a random stretch of one track cut into ``views`` adjacent windows.
    ``state()`` / ``load_state()`` capture the random state and positions, so a resumed run sees the same batches.
    """

    def __init__(
        self,
        labeled: list[Track],
        unlabeled: list[Track],
        label_count: int,
        batch_size: int,
        views: int,
        window_samples: int,
        view_samples: int,
        labeled_share: float,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        pin_memory: bool | None = None,
    ) -> None:
        """``pin_memory``: page-lock each batch for fast copies to the GPU; None = when CUDA is available (give
        False in processes forked after CUDA started, such as DataLoader workers, which must not touch it)."""
        if not labeled and not unlabeled:
            raise ManifestError("no usable tracks: every manifest entry is missing or failed to decode (a "
                                "manifest's relative paths are read from its own folder)")
        if batch_size % world_size:
            raise ValueError(f"batch of {batch_size} clips does not split over {world_size} ranks")
        self.labeled, self.unlabeled = labeled, unlabeled
        self.label_count, self.batch_size, self.views = label_count, batch_size, views
        self.window_samples, self.view_samples = window_samples, view_samples
        self.rank, self.world_size = rank, world_size
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.labeled_count = labeled_clips(batch_size, labeled_share, bool(labeled), bool(unlabeled))
        self.rng = np.random.default_rng(seed)
        self.labeled_pool = _ShuffledPool(len(labeled), self.rng) if labeled else None
        self.unlabeled_pool = _ShuffledPool(len(unlabeled), self.rng) if unlabeled else None

    def _start(self, track: Track) -> int:
        span = (self.views - 1) * self.window_samples + self.view_samples
        latest = track.samples.shape[0] - span
        return int(self.rng.integers(0, latest + 1)) if latest > 0 else 0

    def next_batch(self) -> Batch:
        chosen: list[Track] = []
        if self.labeled_count:
            chosen += [self.labeled[i] for i in self.labeled_pool.take(self.labeled_count)]
        if self.batch_size - self.labeled_count:
            chosen += [self.unlabeled[i] for i in self.unlabeled_pool.take(self.batch_size - self.labeled_count)]
        starts = [self._start(track) for track in chosen]  # drawn for the whole batch: every rank stays in step
        mine = range(self.rank, self.batch_size, self.world_size)
        audio = torch.from_numpy(np.stack([
            read_views(chosen[i].samples, self.views, self.window_samples, self.view_samples, starts[i]) for i in mine
        ]))
        labeled = torch.tensor([i < self.labeled_count for i in mine])
        labels = None
        if self.labeled:
            labels = torch.from_numpy(np.stack([chosen[i].labels for i in mine]))
            labels[~labeled] = 0.0
        key_index = torch.tensor([chosen[i].key_index for i in mine], dtype=torch.long)
        if self.pin_memory:
            audio = audio.pin_memory()
        return Batch(audio, labels, key_index, labeled)

    def state(self) -> dict[str, Any]:
        pools = {}
        for name, pool in (("labeled", self.labeled_pool), ("unlabeled", self.unlabeled_pool)):
            if pool is not None:
                pools[name] = {"order": pool.order.tolist(), "cursor": pool.cursor}
        return {"rng": json.dumps(self.rng.bit_generator.state), "pools": pools}

    def load_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = json.loads(state["rng"])
        for name, pool in (("labeled", self.labeled_pool), ("unlabeled", self.unlabeled_pool)):
            if pool is not None and name in state["pools"]:
                pool.order = np.asarray(state["pools"][name]["order"])
                pool.cursor = int(state["pools"][name]["cursor"])


def split_labeled(entries: list[ManifestEntry], labeled_fraction: float, seed: int) -> tuple[list, list]:
    """p_s: keep a random ``labeled_fraction`` of the labeled set labeled; the rest become unlabeled clips."""
    order = np.random.default_rng(seed).permutation(len(entries))
    kept = int(round(labeled_fraction * len(entries)))
    return [entries[i] for i in order[:kept]], [entries[i] for i in order[kept:]]


def make_tracks(entries: list[ManifestEntry], cache: AudioCache, vocabulary: LabelVocabulary, with_labels: bool) -> list[Track]:
    empty = np.zeros(len(vocabulary), dtype=np.float32)
    return [
        Track(cache.open(entry.path), vocabulary.encode(entry.labels) if with_labels else empty, entry.key_index)
        for entry in cache.usable(entries)
    ]


__all__ = [
    "AudioCache", "Batch", "BatchComposer", "LabelVocabulary", "LabeledShareError", "ManifestEntry", "ManifestError",
    "Track", "labeled_clips", "make_tracks", "read_manifest", "read_views", "split_labeled", "write_manifest",
]
