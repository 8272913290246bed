"""The landmark index's sorted rows, built and merged in bounded memory, straight into a file.

The index is one (3, N) uint32 array (hash, track id, frame bits) sorted by hash, 12 bytes per landmark. Sorting
all of it in memory held every track's landmarks, their concatenation and an argsort at once: about five times
the index (2.4 GB for 30k tracks of 25 s clips). Here rows are sorted in runs of ``RUN_ROWS`` that go to
temporary files, and the runs are merged block by block into three row files that become the ``.npy``; memory
stays at a few blocks whatever the library's size. Ties (equal hashes) keep run order, then order within a run,
so a merge of the saved index with new rows gives exactly the rows a rebuild would.

The runs (and the saved index, when a catch-up merges into it) are read block by block with plain reads
(``RowFile``), not through their memory maps: a mapped page that has been read stays in the process's resident
set, and reading ahead maps whole cached blocks around it, so a merge through the maps grew the process by the
whole index (a 30k-track rebuild: 295 MiB file-backed of a 628 MiB peak).
"""

from __future__ import annotations

import bisect
import mmap
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from engine.landmarks import Landmarks

RUN_ROWS = 2_000_000  # rows sorted in memory at once: 24 MB of rows, 16 MB of argsort, their landmarks
MERGE_BLOCK_ROWS = 2_000_000  # rows taken from all runs together per merge step (~50 MB with their copies)
MIN_RUN_BLOCK_ROWS = 16_384  # per run and step, however many runs there are
COPY_CHUNK_BYTES = 16 << 20
ROW_NAMES = ("hashes", "tracks", "frames")
ROW_DTYPE = np.dtype(np.uint32)
BUCKET_READ_ROWS = 256  # hashes read at once after a bucket's start: most buckets end within them


class RowFile:
    """A saved (3, n) uint32 rows ``.npy``: mapped read-only as ``rows`` for lookups, and read block by block into
    memory (``hashes``, ``block``) by a merge, which then maps nothing."""

    def __init__(self, path: Path) -> None:
        handle = self._handle = open(path, "rb")  # kept open: reads see the file mapped, even once it is replaced
        try:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(handle)
            offset = handle.tell()
            if dtype != ROW_DTYPE or fortran_order or len(shape) != 2 or shape[0] != len(ROW_NAMES):
                raise ValueError(f"not a rows file: {path}")
            if os.fstat(handle.fileno()).st_size < offset + shape[0] * shape[1] * ROW_DTYPE.itemsize:
                raise ValueError(f"rows file cut short: {path}")
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except BaseException:
            handle.close()
            raise
        self.rows = np.ndarray(shape, ROW_DTYPE, buffer=self._map, offset=offset)
        self.length = int(shape[1])
        self._offset = offset

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows.shape

    def hashes(self, start: int, stop: int) -> np.ndarray:
        """The hashes of columns ``start:stop`` (clipped to the rows), read from the file."""
        return self._read((0,), start, stop)[0]

    def block(self, start: int, stop: int) -> np.ndarray:
        """Columns ``start:stop`` of all three rows, read from the file."""
        return self._read(range(len(ROW_NAMES)), start, stop)

    def search(self, values: np.ndarray, side: str = "left") -> np.ndarray:
        """``np.searchsorted(rows[0], values, side)`` by bisection over single hashes read from the file (about
        log2(n) reads a value), so that nothing gets mapped."""
        column = _HashColumn(self)
        find = bisect.bisect_left if side == "left" else bisect.bisect_right
        return np.array([find(column, value) for value in np.asarray(values).tolist()], dtype=np.int64)

    def bucket_end(self, start: int, value: int) -> int:
        """The end of the run of ``value`` hashes that starts at ``start`` (``search``'s left bound): one read of
        ``BUCKET_READ_ROWS`` hashes, a bisection only for a longer run."""
        ahead = self.hashes(start, start + BUCKET_READ_ROWS)
        end = start + int(np.searchsorted(ahead, value, side="right"))
        if end < start + ahead.size or end >= self.length:
            return end
        return bisect.bisect_right(_HashColumn(self), value, lo=end)

    def hash_at(self, column: int) -> int:
        offset = self._offset + column * ROW_DTYPE.itemsize
        if hasattr(os, "pread"):
            data = os.pread(self._handle.fileno(), ROW_DTYPE.itemsize, offset)
        else:
            self._handle.seek(offset)
            data = self._handle.read(ROW_DTYPE.itemsize)
        return int.from_bytes(data, sys.byteorder)  # np.save wrote the rows in this machine's order

    def _read(self, rows: Sequence[int], start: int, stop: int) -> np.ndarray:
        start, stop = min(start, self.length), min(stop, self.length)
        out = np.empty((len(rows), stop - start), dtype=ROW_DTYPE)
        for index, row in enumerate(rows):
            self._handle.seek(self._offset + (row * self.length + start) * ROW_DTYPE.itemsize)
            if self._handle.readinto(memoryview(out[index]).cast("B")) != out[index].nbytes:
                raise OSError(f"rows file cut short while merging: {self._handle.name}")
        return out


def sorted_rows(landmarks_by_track: Iterable[tuple[int, Landmarks]]) -> np.ndarray:
    """(3, N) uint32 rows (hash, track id, frame bits) of ``(track id, Landmarks)`` pairs, sorted by hash (stable:
    equal hashes keep the pairs' order)."""
    parts_hashes, parts_tracks, parts_frames = [], [], []
    for track_id, found in landmarks_by_track:
        parts_hashes.append(found.hashes)
        parts_frames.append(found.frames)
        parts_tracks.append(np.full(len(found), track_id, dtype=np.uint32))
    if not parts_hashes:
        return np.zeros((3, 0), dtype=np.uint32)
    hashes = np.concatenate(parts_hashes)
    order = np.argsort(hashes, kind="stable")
    return np.stack([hashes[order], np.concatenate(parts_tracks)[order],
                     np.concatenate(parts_frames).view(np.uint32)[order]])


def write_runs(landmarks_by_track: Iterable[tuple[int, Landmarks]], folder: Path) -> list[Path]:
    """Sorted runs of at most about ``RUN_ROWS`` rows each, saved as ``run-<n>.npy`` in ``folder``, in the pairs'
    order (so a merge keeps it for equal hashes)."""
    runs: list[Path] = []
    pending: list[tuple[int, Landmarks]] = []
    pending_rows = 0

    def flush() -> None:
        path = folder / f"run-{len(runs):05d}.npy"
        np.save(path, sorted_rows(pending), allow_pickle=False)
        runs.append(path)

    for track_id, found in landmarks_by_track:
        pending.append((track_id, found))
        pending_rows += len(found)
        if pending_rows >= RUN_ROWS:
            flush()
            pending, pending_rows = [], 0
    if pending or not runs:
        flush()
    return runs


def merge_runs(sources: Sequence[np.ndarray | RowFile], target: Path, work_folder: Path,
               dropped_from_first: np.ndarray | None = None) -> int:
    """Merge sorted (3, n) runs (arrays, or ``RowFile``s read block by block) into one sorted (3, N) uint32 ``.npy`` at ``target``; returns N. ``dropped_from_first`` (a bool lookup by track id)
    leaves out the first run's rows of those tracks (the saved index's rows of removed or changed tracks; their new
    rows come in later runs)."""
    runs = [source if isinstance(source, RowFile) else _ArrayRows(source) for source in sources]
    positions = [0] * len(runs)
    lengths = [run.length for run in runs]
    per_run = max(MIN_RUN_BLOCK_ROWS, MERGE_BLOCK_ROWS // max(1, len(runs)))
    parts = [work_folder / f"merged-{name}.u32" for name in ROW_NAMES]
    total = 0
    with open(parts[0], "wb") as hashes_out, open(parts[1], "wb") as tracks_out, open(parts[2], "wb") as frames_out:
        while any(position < length for position, length in zip(positions, lengths)):
            takes = _safe_takes(runs, positions, lengths, per_run)
            pieces = []
            for i, take in takes.items():
                piece = runs[i].block(positions[i], positions[i] + take)
                if i == 0 and dropped_from_first is not None and take:
                    piece = piece[:, ~_in_lookup(piece[1], dropped_from_first)]
                pieces.append(piece)
                positions[i] += take
            merged = np.concatenate(pieces, axis=1)
            merged = merged[:, np.argsort(merged[0], kind="stable")]
            for row, handle in zip(merged, (hashes_out, tracks_out, frames_out)):
                handle.write(np.ascontiguousarray(row).tobytes())
            total += merged.shape[1]
    _assemble(parts, target, total)
    for part in parts:
        part.unlink()
    return total


class _HashColumn:
    """A row file's hashes as a sequence for ``bisect``, each read when asked for."""

    def __init__(self, rows: RowFile) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return self._rows.length

    def __getitem__(self, column: int) -> int:
        return self._rows.hash_at(column)


class _ArrayRows:
    """Sorted (3, n) rows in memory, read as a ``RowFile`` is."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows, self.length = rows, int(rows.shape[1])

    def hashes(self, start: int, stop: int) -> np.ndarray:
        return self.rows[0, start:stop]

    def block(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.rows[:, start:stop])


def _safe_takes(runs: Sequence[RowFile | _ArrayRows], positions: list[int], lengths: list[int],
                per_run: int) -> dict[int, int]:
    """How many rows of each unfinished run to emit now: those below the smallest last hash of the next blocks of
    the runs that go on past their block (a later block may hold more of that hash), so all rows of one hash go
    out in one step and ties keep run order. When that leaves nothing (one hash fills a whole block), every row
    of that hash, from every run, goes out together."""
    active = [i for i in range(len(runs)) if positions[i] < lengths[i]]
    open_ends = [runs[i].hashes(positions[i] + per_run - 1, positions[i] + per_run)[0]
                 for i in active if positions[i] + per_run < lengths[i]]
    if not open_ends:
        return {i: lengths[i] - positions[i] for i in active}
    cutoff = min(open_ends)
    takes = {i: int(np.searchsorted(runs[i].hashes(positions[i], positions[i] + per_run), cutoff, side="left"))
             for i in active}
    if not any(takes.values()):  # one hash fills a whole block: all of its rows, however far they reach
        takes = {i: _rows_through(runs[i], positions[i], cutoff, per_run) for i in active}
    return takes


def _rows_through(run: RowFile | _ArrayRows, start: int, cutoff: int, chunk: int) -> int:
    """How many rows from ``start`` have a hash up to ``cutoff``, read ``chunk`` hashes at a time."""
    count = 0
    while start + count < run.length:
        hashes = run.hashes(start + count, start + count + chunk)
        found = int(np.searchsorted(hashes, cutoff, side="right"))
        count += found
        if found < hashes.size:
            break
    return count


def _in_lookup(track_ids: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    inside = track_ids < lookup.size
    return inside & lookup[np.where(inside, track_ids, 0)]


def _assemble(parts: Sequence[Path], target: Path, total: int) -> None:
    """A (3, total) uint32 ``.npy`` whose rows are the three raw files, copied in chunks."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint32)), "fortran_order": False, "shape": (3, total)}
    with open(target, "wb") as output:
        np.lib.format.write_array_header_1_0(output, header)
        for part in parts:
            with open(part, "rb") as source:
                shutil.copyfileobj(source, output, COPY_CHUNK_BYTES)
