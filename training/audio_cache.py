"""The decoded-audio cache: every track decoded once to mono int16 at the model's sample rate, in a few shards.

    <cache_dir>/<sample_rate>/shards/shard-<id>.pcm          raw int16 samples of up to SHARD_TRACKS tracks
    <cache_dir>/<sample_rate>/shards/shard-<id>.index.json   {"tracks": {key: [offset, length]}, "problems": {...}}

A shard is written by one decode process and becomes visible only when its index is renamed into place, so
builds are resumable (an interrupted build loses at most the shards in flight) and several processes or
ranks may build disjoint parts at once. A build killed mid-shard leaves ``*.partial`` files behind; they
are never read, and can be deleted whenever no build is running. Readers map each shard once: a library of 65k tracks takes ~260
open files and memory maps, not 65k of each (``ulimit -n`` 1024 and ``vm.max_map_count`` 65530 are the
limits one file per track hit). Per-track ``<key>.npy`` files of the earlier layout are copied into shards
instead of being decoded again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
import multiprocessing
import signal
from pathlib import Path
from typing import Callable, Iterable, Protocol

import numpy as np

from engine.audio import AudioDecodeError, decode_mono, probe

INT16_SCALE = 32767.0
CACHE_PROBLEMS_FILE = "problems.jsonl"
SHARDS_DIR = "shards"
SHARD_DATA_SUFFIX = ".pcm"
SHARD_INDEX_SUFFIX = ".index.json"
PARTIAL_SUFFIX = ".partial"
SAMPLE_DTYPE = np.dtype("<i2")
# Tracks per shard: bounds what an interrupted build loses (the shards in flight) while keeping the file and
# memory-map count ~250x below the track count.
SHARD_TRACKS = 256
LEGACY_SUFFIX = ".npy"
PROGRESS_SECONDS = 0.5  # how often a build reports the tracks decoded so far
_decoded_tracks = None  # in a decode process: the shared count of tracks done (``_start_decode_worker``)


class CachedEntry(Protocol):
    path: Path


def _cache_name(path: Path, sample_rate: int, max_seconds: float = 0.0) -> str:
    """The per-track file name of the earlier layout; its stem is the track's key in the shard index."""
    stat = path.stat()
    identity = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{sample_rate}"
    if max_seconds > 0:
        identity += f"|excerpt {max_seconds:g}"
    return hashlib.sha1(identity.encode("utf-8", "surrogateescape")).hexdigest() + LEGACY_SUFFIX


def _decode(path: str, sample_rate: int, max_seconds: float) -> np.ndarray:
    """Mono int16 samples of ``path`` (its middle ``max_seconds`` when > 0); raises ``AudioDecodeError``."""
    if max_seconds > 0:
        start = max(0.0, (probe(path).duration_seconds - max_seconds) / 2)
        audio = decode_mono(path, sample_rate, start, max_seconds)
    else:
        audio = decode_mono(path, sample_rate)
    return np.clip(np.round(audio * INT16_SCALE), -INT16_SCALE, INT16_SCALE).astype(SAMPLE_DTYPE)


def _write_shard(
    items: list[tuple[str, str, str]], shard_stem: str, sample_rate: int, max_seconds: float
) -> dict[str, str]:
    """Worker: decode ``items`` (path, key, legacy .npy path) into one shard and publish it; returns
    {path: problem reason} for the tracks that failed to decode."""
    tracks: dict[str, list[int]] = {}
    problems: dict[str, str] = {}
    data_partial = shard_stem + SHARD_DATA_SUFFIX + PARTIAL_SUFFIX
    offset = 0
    with open(data_partial, "wb") as handle:
        for path, key, legacy in items:
            try:
                samples = np.load(legacy).astype(SAMPLE_DTYPE) if os.path.isfile(legacy) else _decode(path, sample_rate, max_seconds)
            except AudioDecodeError as error:
                problems[path] = error.reason
                _count_decoded()
                continue
            handle.write(np.ascontiguousarray(samples).tobytes())
            tracks[key] = [offset, int(samples.shape[0])]
            offset += int(samples.shape[0])
            _count_decoded()
    index_partial = shard_stem + SHARD_INDEX_SUFFIX + PARTIAL_SUFFIX
    with open(index_partial, "w", encoding="utf-8") as handle:
        json.dump({"sample_rate": sample_rate, "tracks": tracks, "problems": problems}, handle)
    os.replace(data_partial, shard_stem + SHARD_DATA_SUFFIX)
    os.replace(index_partial, shard_stem + SHARD_INDEX_SUFFIX)  # the shard exists from here on
    return problems


def _start_decode_worker(counter) -> None:
    """In each decode process: Ctrl-C is the parent's to handle (it ends the pool), SIGTERM (how the pool ends
    it) ends the process without a word, whatever handler it inherited, and each decoded track is counted for the
    parent's progress."""
    global _decoded_tracks
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _decoded_tracks = counter


def _count_decoded() -> None:
    if _decoded_tracks is not None:
        with _decoded_tracks.get_lock():
            _decoded_tracks.value += 1


def _decode_in_processes(jobs: list[tuple], workers: int, total: int,
                         on_progress: Callable[[int, int], None] | None) -> list[dict[str, str]]:
    """``_write_shard`` of each job in ``workers`` processes, with progress by track. Ctrl-C or SIGTERM (a
    ``KeyboardInterrupt`` here) ends the processes at once: the shards they were writing stay ``.partial`` and are
    never read; the finished ones are kept for the next build."""
    context = multiprocessing.get_context()
    counter = context.Value("q", 0)
    pool = context.Pool(max(1, workers), initializer=_start_decode_worker, initargs=(counter,))
    try:
        pending = pool.starmap_async(_write_shard, jobs, chunksize=1)
        while not pending.ready():
            pending.wait(PROGRESS_SECONDS)
            if on_progress:
                on_progress(min(counter.value, total), total)
        results = pending.get()
        pool.close()
        return results
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def split_work(count: int, workers: int, limit: int = SHARD_TRACKS) -> list[slice]:
    """Slices of ``count`` items into shards: at most ``limit`` each, and at least ``workers`` of them when
    there is that much, so that every decode process has work."""
    if count == 0:
        return []
    size = max(1, min(limit, math.ceil(count / max(1, workers))))
    return [slice(start, min(count, start + size)) for start in range(0, count, size)]


class AudioCache:
    """Decoded mono int16 audio at one sample rate under ``folder/<sample_rate>/``, stored in shards.
    ``max_seconds`` > 0 keeps only the middle excerpt of that length of each file (bounds the disk a large
    library's cache takes: 16 kHz int16 is 1.9 MB a minute)."""

    def __init__(self, folder: Path | str, sample_rate: int, max_seconds: float = 0.0) -> None:
        self.folder = Path(folder) / str(sample_rate)
        self.sample_rate = sample_rate
        self.max_seconds = max_seconds
        self.shards = self.folder / SHARDS_DIR
        self.shards.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, tuple[str, int, int]] = {}
        self._loaded_shards: set[str] = set()
        self._maps: dict[str, np.memmap] = {}
        self.refresh()

    def key_for(self, path: Path) -> str:
        return _cache_name(path, self.sample_rate, self.max_seconds)[: -len(LEGACY_SUFFIX)]

    def refresh(self) -> None:
        """Re-read the shard indexes (shards that other processes finished since become visible)."""
        for index_file in sorted(self.shards.glob("*" + SHARD_INDEX_SUFFIX)):
            shard = index_file.name[: -len(SHARD_INDEX_SUFFIX)]
            if shard in self._loaded_shards:
                continue
            self._loaded_shards.add(shard)
            tracks = json.loads(index_file.read_text(encoding="utf-8"))["tracks"]
            for key, (offset, length) in tracks.items():
                self._index.setdefault(key, (shard, int(offset), int(length)))

    def contains(self, path: Path) -> bool:
        return self.key_for(path) in self._index

    def missing(self, entries: Iterable[CachedEntry]) -> list[tuple[str, str]]:
        """(path, key) of existing files not cached yet, each once, in key order (a split every rank agrees on)."""
        wanted = {}
        for entry in entries:
            if entry.path.is_file():
                key = self.key_for(entry.path)
                if key not in self._index:
                    wanted.setdefault(key, str(entry.path))
        return sorted(((path, key) for key, path in wanted.items()), key=lambda item: item[1])

    def build(
        self,
        entries: list[CachedEntry],
        workers: int = 2,
        on_progress: Callable[[int, int], None] | None = None,
        part: tuple[int, int] = (0, 1),
    ) -> dict[str, str]:
        """Decode what is missing in parallel processes (resumable: finished shards are kept); returns
        {path: problem} for failures. ``part`` = (i, n) decodes only the i-th of n interleaved parts of the
        missing tracks, so that n processes or ranks share one build."""
        problems = {str(entry.path): "file not found" for entry in entries if not entry.path.is_file()}
        index, parts = part
        todo = self.missing(entries)[index::parts]
        items = [(path, key, str(self.folder / (key + LEGACY_SUFFIX))) for path, key in todo]
        chunks = [items[piece] for piece in split_work(len(items), workers)]
        if chunks:
            jobs = [(chunk, str(self.shards / f"shard-{uuid.uuid4().hex}"), self.sample_rate, self.max_seconds)
                    for chunk in chunks]
            for shard_problems in _decode_in_processes(jobs, min(workers, len(chunks)), len(items), on_progress):
                problems.update(shard_problems)
        if problems:
            with open(self.folder / CACHE_PROBLEMS_FILE, "a", encoding="utf-8") as handle:
                for path, reason in problems.items():
                    handle.write(json.dumps({"path": path, "reason": reason}) + "\n")
        self.refresh()
        return problems

    def open(self, path: Path) -> np.ndarray:
        """The cached int16 samples of ``path``: a read-only view into its shard's memory map."""
        shard, offset, length = self._index[self.key_for(path)]
        mapped = self._maps.get(shard)
        if mapped is None:
            mapped = self._maps[shard] = np.memmap(self.shards / (shard + SHARD_DATA_SUFFIX), dtype=SAMPLE_DTYPE, mode="r")
        return mapped[offset : offset + length]

    def usable(self, entries: list[CachedEntry]) -> list[CachedEntry]:
        return [entry for entry in entries if entry.path.is_file() and self.contains(entry.path)]

    @property
    def open_shards(self) -> int:
        """Shards mapped so far (each holds one file descriptor and one memory map)."""
        return len(self._maps)


__all__ = ["AudioCache", "CACHE_PROBLEMS_FILE", "INT16_SCALE", "SHARD_TRACKS", "split_work"]
