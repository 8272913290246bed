"""Training data: JSONL manifests, label vocabularies, a decoded-audio cache and the labeled/unlabeled batch composer.

Manifest: one JSON object per line, ``{"path": "...", "labels": ["rock", ...], "split": "train", "key": "A minor"}``;
``labels`` and ``key`` are optional, other fields are kept in ``ManifestEntry.extra``. Relative paths are
relative to the manifest's folder.

The cache decodes every track once (in parallel, resumably) to a mono int16 ``.npy`` at the model's sample
rate; steps then read memory-mapped slices and never wait on MP3 decoding.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from engine.audio import AudioDecodeError, decode_mono, probe
from engine.keys import parse_key

INT16_SCALE = 32767.0
CACHE_PROBLEMS_FILE = "problems.jsonl"


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
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            audio_path = Path(record.pop("path"))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise ManifestError(f"{path}:{number}: expected a JSON object with a \"path\"") from None
        entry = ManifestEntry(
            path=audio_path if audio_path.is_absolute() else path.parent / audio_path,
            labels=[str(label) for label in record.pop("labels", []) or []],
            split=str(record.pop("split", "train")),
            key=record.pop("key", None),
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


# ---------------------------------------------------------------- audio cache


def _cache_name(path: Path, sample_rate: int, max_seconds: float = 0.0) -> str:
    stat = path.stat()
    identity = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{sample_rate}"
    if max_seconds > 0:
        identity += f"|excerpt {max_seconds:g}"
    return hashlib.sha1(identity.encode("utf-8", "surrogateescape")).hexdigest() + ".npy"


def _decode_to_cache(path: str, target: str, sample_rate: int, max_seconds: float = 0.0) -> str | None:
    """Worker: decode one file (or the middle ``max_seconds`` of it) to an int16 .npy (atomically); returns a
    problem reason or None."""
    try:
        if max_seconds > 0:
            start = max(0.0, (probe(path).duration_seconds - max_seconds) / 2)
            audio = decode_mono(path, sample_rate, start, max_seconds)
        else:
            audio = decode_mono(path, sample_rate)
    except AudioDecodeError as error:
        return error.reason
    pcm = np.clip(np.round(audio * INT16_SCALE), -INT16_SCALE, INT16_SCALE).astype(np.int16)
    partial = target + f".{os.getpid()}.partial"
    with open(partial, "wb") as handle:
        np.save(handle, pcm)
    os.replace(partial, target)
    return None


class AudioCache:
    """Decoded mono int16 arrays at one sample rate under ``folder/<sample_rate>/``, one per source file.
    ``max_seconds`` > 0 keeps only the middle excerpt of that length of each file (bounds the disk a large
    library's cache takes: 16 kHz int16 is 1.9 MB a minute)."""

    def __init__(self, folder: Path | str, sample_rate: int, max_seconds: float = 0.0) -> None:
        self.folder = Path(folder) / str(sample_rate)
        self.sample_rate = sample_rate
        self.max_seconds = max_seconds
        self.folder.mkdir(parents=True, exist_ok=True)

    def file_for(self, path: Path) -> Path:
        return self.folder / _cache_name(path, self.sample_rate, self.max_seconds)

    def build(
        self, entries: list[ManifestEntry], workers: int = 2, on_progress: Callable[[int, int], None] | None = None
    ) -> dict[str, str]:
        """Decode what is missing (resumable: finished files are kept); returns {path: problem} for failures."""
        problems: dict[str, str] = {}
        missing: list[tuple[str, str]] = []
        for entry in entries:
            if not entry.path.is_file():
                problems[str(entry.path)] = "file not found"
                continue
            target = self.file_for(entry.path)
            if not target.is_file():
                missing.append((str(entry.path), str(target)))
        done = 0
        if missing:
            with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
                futures = {
                    pool.submit(_decode_to_cache, path, target, self.sample_rate, self.max_seconds): path
                    for path, target in missing
                }
                for future in as_completed(futures):
                    reason = future.result()
                    if reason is not None:
                        problems[futures[future]] = reason
                    done += 1
                    if on_progress:
                        on_progress(done, len(missing))
        if problems:
            with open(self.folder / CACHE_PROBLEMS_FILE, "a", encoding="utf-8") as handle:
                for path, reason in problems.items():
                    handle.write(json.dumps({"path": path, "reason": reason}) + "\n")
        return problems

    def open(self, path: Path) -> np.ndarray:
        """The cached int16 samples of ``path``, memory-mapped (read-only)."""
        return np.load(self.file_for(path), mmap_mode="r")

    def usable(self, entries: list[ManifestEntry]) -> list[ManifestEntry]:
        return [entry for entry in entries if entry.path.is_file() and self.file_for(entry.path).is_file()]


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


class BatchComposer:
    """Makes batches of ``batch_size`` clips: the first ``labeled_share`` labeled, the rest unlabeled.

    Each clip is a random stretch of one track cut into ``views`` adjacent windows. ``state()`` /
    ``load_state()`` capture the random state and positions, so a resumed run sees the same batches.
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
    ) -> None:
        if not labeled and not unlabeled:
            raise ValueError("no usable tracks: every manifest entry is missing or failed to decode")
        self.labeled, self.unlabeled = labeled, unlabeled
        self.label_count, self.batch_size, self.views = label_count, batch_size, views
        self.window_samples, self.view_samples = window_samples, view_samples
        if not unlabeled:
            self.labeled_count = batch_size
        elif not labeled:
            self.labeled_count = 0
        else:
            self.labeled_count = int(batch_size * labeled_share)  # as the reference: int(B * b_s)
        self.rng = np.random.default_rng(seed)
        self.labeled_pool = _ShuffledPool(len(labeled), self.rng) if labeled else None
        self.unlabeled_pool = _ShuffledPool(len(unlabeled), self.rng) if unlabeled else None

    def _clip(self, track: Track) -> np.ndarray:
        span = (self.views - 1) * self.window_samples + self.view_samples
        latest = track.samples.shape[0] - span
        start = int(self.rng.integers(0, latest + 1)) if latest > 0 else 0
        return read_views(track.samples, self.views, self.window_samples, self.view_samples, start)

    def next_batch(self) -> Batch:
        chosen: list[Track] = []
        if self.labeled_count:
            chosen += [self.labeled[i] for i in self.labeled_pool.take(self.labeled_count)]
        if self.batch_size - self.labeled_count:
            chosen += [self.unlabeled[i] for i in self.unlabeled_pool.take(self.batch_size - self.labeled_count)]
        audio = torch.from_numpy(np.stack([self._clip(track) for track in chosen]))
        labeled = torch.arange(self.batch_size) < self.labeled_count
        labels = None
        if self.labeled:
            labels = torch.from_numpy(np.stack([track.labels for track in chosen]))
            labels[~labeled] = 0.0
        key_index = torch.tensor([track.key_index for track in chosen], dtype=torch.long)
        if audio.device.type == "cpu" and torch.cuda.is_available():
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
    "AudioCache", "Batch", "BatchComposer", "LabelVocabulary", "ManifestEntry", "ManifestError", "Track",
    "make_tracks", "read_manifest", "read_views", "split_labeled", "write_manifest",
]
