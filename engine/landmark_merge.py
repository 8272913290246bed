"""The landmark index's sorted rows, built and merged in bounded memory, straight into a file.

The index is one (3, N) uint32 array (hash, track id, frame bits) sorted by hash, 12 bytes per landmark. Sorting
all of it in memory held every track's landmarks, their concatenation and an argsort at once: about five times
the index (2.4 GB for 30k tracks of 25 s clips). Here rows are sorted in runs of ``RUN_ROWS`` that go to
temporary files, and the runs are merged block by block into three row files that become the ``.npy``; memory
stays at a few blocks whatever the library's size. Ties (equal hashes) keep run order, then order within a run,
so a merge of the saved index with new rows gives exactly the rows a rebuild would.

The runs (and the saved index, when a catch-up merges into it) are read through memory maps (``RowFile``) whose
pages are handed back as the merge moves past them: a page read stays in the system's file cache but leaves the
process's resident set, which would otherwise grow by the whole index (255 MiB of 457 at 30k tracks).
"""

from __future__ import annotations

import mmap
import os
import shutil
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


class RowFile:
    """A saved (3, n) uint32 rows ``.npy`` mapped read-only, whose pages are handed back to the system as the merge
    passes them (``release_before``). A page handed back and read again is simply read again from the file."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(handle)
            offset = handle.tell()
            if dtype != ROW_DTYPE or fortran_order or len(shape) != 2 or shape[0] != len(ROW_NAMES):
                raise ValueError(f"not a rows file: {path}")
            if os.fstat(handle.fileno()).st_size < offset + shape[0] * shape[1] * ROW_DTYPE.itemsize:
                raise ValueError(f"rows file cut short: {path}")
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self.rows = np.ndarray(shape, ROW_DTYPE, buffer=self._map, offset=offset)
        self._offset = offset
        self._released = 0  # columns before this one have been handed back

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows.shape

    def release_before(self, column: int) -> None:
        """Hand back the whole pages of each row that lie before ``column`` (no-op where madvise is missing). Each
        call goes back to the row's start: reading ahead maps the whole cached block (folio) around a page, which
        may reach back before the last call's ``column``."""
        if column <= self._released or not hasattr(mmap, "MADV_DONTNEED"):
            return
        length, width = self.rows.shape[1], ROW_DTYPE.itemsize
        for row in range(self.rows.shape[0]):
            start = self._offset + row * length * width
            stop = start + column * width
            start -= start % mmap.PAGESIZE  # the page it starts in may hold the row before's end: read again if so
            stop -= stop % mmap.PAGESIZE  # a page partly after ``column`` is still to be read
            if stop > start:
                self._map.madvise(mmap.MADV_DONTNEED, start, stop - start)
        self._released = column


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
    """Merge sorted (3, n) runs (arrays, or ``RowFile``s whose pages are handed back as the merge passes them) into
    one sorted (3, N) uint32 ``.npy`` at ``target``; returns N. ``dropped_from_first`` (a bool lookup by track id)
    leaves out the first run's rows of those tracks (the saved index's rows of removed or changed tracks; their new
    rows come in later runs)."""
    runs = [source.rows if isinstance(source, RowFile) else source for source in sources]
    files = [(i, source) for i, source in enumerate(sources) if isinstance(source, RowFile)]
    positions = [0] * len(runs)
    lengths = [int(run.shape[1]) for run in runs]
    per_run = max(MIN_RUN_BLOCK_ROWS, MERGE_BLOCK_ROWS // max(1, len(runs)))
    parts = [work_folder / f"merged-{name}.u32" for name in ROW_NAMES]
    total = 0
    with open(parts[0], "wb") as hashes_out, open(parts[1], "wb") as tracks_out, open(parts[2], "wb") as frames_out:
        while any(position < length for position, length in zip(positions, lengths)):
            takes = _safe_takes(runs, positions, lengths, per_run)
            pieces = []
            for i, take in takes.items():
                piece = np.asarray(runs[i][:, positions[i]:positions[i] + take])
                if i == 0 and dropped_from_first is not None and take:
                    piece = piece[:, ~_in_lookup(piece[1], dropped_from_first)]
                pieces.append(piece)
                positions[i] += take
            merged = np.concatenate(pieces, axis=1)  # the pieces are views of the maps: copied here
            merged = merged[:, np.argsort(merged[0], kind="stable")]
            for row, handle in zip(merged, (hashes_out, tracks_out, frames_out)):
                handle.write(np.ascontiguousarray(row).tobytes())
            total += merged.shape[1]
            for i, source in files:
                source.release_before(positions[i])
    _assemble(parts, target, total)
    for part in parts:
        part.unlink()
    return total


def _safe_takes(runs: Sequence[np.ndarray], positions: list[int], lengths: list[int], per_run: int) -> dict[int, int]:
    """How many rows of each unfinished run to emit now: those below the smallest last hash of the next blocks of
    the runs that go on past their block (a later block may hold more of that hash), so all rows of one hash go
    out in one step and ties keep run order. When that leaves nothing (one hash fills a whole block), every row
    of that hash, from every run, goes out together."""
    active = [i for i in range(len(runs)) if positions[i] < lengths[i]]
    open_ends = [runs[i][0, positions[i] + per_run - 1] for i in active if positions[i] + per_run < lengths[i]]
    if not open_ends:
        return {i: lengths[i] - positions[i] for i in active}
    cutoff = min(open_ends)
    takes = {i: int(np.searchsorted(runs[i][0, positions[i]:min(lengths[i], positions[i] + per_run)], cutoff,
                                    side="left")) for i in active}
    if not any(takes.values()):  # one hash fills a whole block: all of its rows, however far they reach
        takes = {i: int(np.searchsorted(runs[i][0, positions[i]:], cutoff, side="right")) for i in active}
    return takes


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
