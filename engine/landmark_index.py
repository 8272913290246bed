"""An inverted index of every track's landmark hashes, saved beside the database: which tracks are the same
recording as a query (a copy, a re-encode, an excerpt).

SQLite holds the landmarks; this file holds them sorted by hash so that a query's hashes are found by binary
search, memory-mapped so that a large library costs no load time. Its sidecar JSON records the (count,
max id) of the landmark rows it was built from, and a members file the (track id, row id) pairs. A catch-up
filters out the tracks whose rows are gone and merges in the rows added since, without re-sorting. Builds and
catch-ups run as external merges (``engine.landmark_merge``) written straight into the file, so their memory
does not grow with the library.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic_write import atomic_path, hidden_prefix, remove_stale, write_bytes_atomically
from engine.cache_files import beside_database, read_sidecar, report_unsaved
from engine.landmark_merge import RowFile, merge_runs, sorted_rows, write_runs
from engine.landmarks import LANDMARK_VERSION, Landmarks
from engine.store import Store

INDEX_FORMAT = 1
# A track is the same recording when this many query hashes agree with it at one time offset. On the held-out
# game music an excerpt's own track aligned 24.7 or more in 95 % of cases (lowest 10); no other track aligned
# more than 5 (BENCHMARKS.md, "Same-recording matching").
MIN_ALIGNED_HASHES = 10
# ... and lines up with at least this share of what the best match does: a jingle's excerpt aligned 644 hashes
# with its own track and 11 with a sibling sharing its motif (SuperTuxKart's lose / win themes).
MIN_SHARE_OF_BEST = 0.1
# Hashes this common in the library say little about identity (a held tone, a loop many tracks share) and
# would cost a lookup most of its time: like stop words, they are skipped. In a 100k-track library of game
# music this would skip about 1 % of a query's hashes (BENCHMARKS.md, "Same-recording matching").
MAX_BUCKET_ENTRIES = 1024
# A saved index is checked on load against this many tracks' stored landmarks, this many hashes each (~1 ms).
VERIFIED_TRACKS, VERIFIED_HASHES = 16, 8
_OFFSET_SPAN = 1 << 24  # offsets (frames) are shifted by half of this to pack (track, offset) into one int64


@dataclass(frozen=True)
class RecordingMatch:
    track_id: int
    aligned_hashes: int  # query hashes that agree with the track at its best time offset (± one frame)


def landmark_index_paths(database: Path) -> tuple[Path, Path, Path]:
    """``<db>.landmarks-v<version>.npy``, its ``.json`` sidecar and its ``.members.npy``, beside the database."""
    base = f".landmarks-v{LANDMARK_VERSION}"
    return tuple(beside_database(database, base + suffix) for suffix in (".npy", ".json", ".members.npy"))


class LandmarkIndex:
    """Sorted (hash, track id, frame) rows of every track, kept in step with SQLite by ``ensure_current``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.index_path, self.meta_path, self.members_path = landmark_index_paths(Path(store.path))
        self._rows: np.ndarray | None = None  # (3, N) uint32: hash, track id, frame (int32 bits)
        self._row_file: RowFile | None = None  # the mapping ``_rows`` lives in, when it is a file
        self._state: tuple[int, int] | None = None
        self._members: np.ndarray | None = None  # (M, 2) int64: (track id, landmark row id) of the rows held
        self._rows_saved = False  # the rows were merged straight into ``index_path``
        self._saved = False  # rows, members and sidecar on disk are the ones in memory
        self._lock = threading.Lock()  # the app queries from worker threads while an index run may catch it up
        self.last_action = ""

    @property
    def size(self) -> int:
        return 0 if self._rows is None else int(self._rows.shape[1])

    def ensure_current(self, must_save: bool = False) -> None:
        """Bring the index in line with the database: use it as it is, load the saved one, update it (filter
        out removed tracks, merge in added rows), or rebuild it; save what changed. With ``must_save`` (an index
        run) an index that cannot be saved raises ``CacheNotSavedError``; else it is kept in memory with a warning."""
        with self._lock:
            self._catch_up(must_save)

    def _catch_up(self, must_save: bool) -> None:
        if self._rows is not None and self._state == self.store.landmarks_state():
            self.last_action = "current"
            if must_save and not self._saved:
                self._save(must_save)
            return
        if self._rows is None:
            self._load()
            if self._rows is not None and self._state == self.store.landmarks_state():
                self.last_action = "loaded"
                return
        try:
            if self._rows is not None and self._members is not None and self._update():
                self.last_action = "updated"
            else:
                self._rebuild()
                self.last_action = "rebuilt"
        except OSError as error:  # no disk space for the merge: sorted in memory, for this process only
            report_unsaved(self.index_path, error, must_save)
            state, everything, members = self.store.landmarks_since(0)
            self._rows, self._state, self._members, self._rows_saved = sorted_rows(everything), state, members, False
            self._row_file = None
            self._saved = False
            self.last_action = "rebuilt"
            return
        self._save(must_save)

    def same_recordings(self, query: Landmarks, exclude_track_id: int | None = None,
                        min_aligned: int = MIN_ALIGNED_HASHES) -> list[RecordingMatch]:
        """Tracks with at least ``min_aligned`` of ``query``'s hashes at one time offset, most aligned first."""
        self.ensure_current()
        rows = self._rows  # one consistent snapshot, whatever another thread swaps in meanwhile
        return [] if rows is None else aligned_matches(rows, query, exclude_track_id, min_aligned)

    def same_recordings_of_tracks(self, tracks: Iterable[tuple[int, Landmarks]],
                                  min_aligned: int = MIN_ALIGNED_HASHES) -> Iterator[tuple[int, list[RecordingMatch]]]:
        """For each (track id, landmarks) of ``tracks``, the other tracks that are the same recording, all looked up
        in one snapshot caught up once: checking SQLite before each lookup cost a duplicate search a quarter of its
        CPU time."""
        self.ensure_current()
        rows = self._rows
        for track_id, landmarks in tracks:
            yield track_id, [] if rows is None else aligned_matches(rows, landmarks, track_id, min_aligned)

    def _update(self) -> bool:
        """Drop the rows of tracks whose landmark rows are gone since the build (removed, or replaced when their
        file changed), and merge in the rows added since: one pass over the sorted rows, no re-sort. False,
        changing nothing, when the counts do not add up."""
        built_count, built_max_id = self._state
        with self._work_folder() as work:
            state, runs, members = self.store.landmarks_since(built_max_id, lambda rows: write_runs(rows, work))
            gone = ~np.isin(_member_keys(self._members), _member_keys(members))
            added = int((members[:, 1] > built_max_id).sum())
            if built_count - int(gone.sum()) + added != state[0]:
                return False
            dropped = None
            if gone.any():
                removed = self._members[gone, 0]
                dropped = np.zeros(int(removed.max()) + 1, dtype=bool)
                dropped[removed] = True
            saved = self._row_file if self._row_file is not None else self._rows  # its pages go back as merged
            self._write_rows([saved, *_mapped(runs)], work, dropped)
        self._state, self._members = state, members
        return True

    def _rebuild(self) -> None:
        with self._work_folder() as work:
            state, runs, members = self.store.landmarks_since(0, lambda rows: write_runs(rows, work))
            self._write_rows(_mapped(runs), work)
        self._state, self._members = state, members

    @contextmanager
    def _work_folder(self) -> Iterator[Path]:
        """A temporary folder for sorted runs: beside the database (same disk as the index, so the merged file is
        renamed into place), or the system's when that folder cannot be written."""
        prefix = hidden_prefix(self.index_path)
        remove_stale(self.index_path.parent, prefix)  # a run killed while it merged left its folder behind
        try:
            folder = tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}.", dir=self.index_path.parent)
        except OSError:
            folder = tempfile.TemporaryDirectory(prefix="semisup-landmarks.")
        with folder as name:
            yield Path(name)

    def _write_rows(self, runs: Sequence[np.ndarray], work: Path, dropped: np.ndarray | None = None) -> None:
        """Merge ``runs`` into the index file (a temporary file renamed into place) and map it. When the file cannot
        be written, or belongs to a library in memory, the merge goes to ``work`` and stays mapped there for this
        process (``_save`` warns of the first)."""
        if not self.store.in_memory:
            try:
                with atomic_path(self.index_path) as temporary:
                    merge_runs(runs, temporary, work, dropped)
                self._map_rows(RowFile(self.index_path), saved=True)
                return
            except OSError:
                pass
        unsaved = work / "unsaved-rows.npy"  # mapped, so it outlives its folder's removal
        merge_runs(runs, unsaved, work, dropped)
        self._map_rows(RowFile(unsaved), saved=False)

    def _map_rows(self, row_file: RowFile, saved: bool) -> None:
        self._row_file, self._rows, self._rows_saved = row_file, row_file.rows, saved

    def _load(self) -> None:
        """The saved index and the state it was built at, if the files are readable, of this format, and agree
        with SQLite on a sample of tracks (``_agrees_with_store``)."""
        if not (self.index_path.is_file() and self.meta_path.is_file()):
            return
        meta = read_sidecar(self.meta_path, ("format", "version", "count", "max_id", "rows"))
        if meta is None or meta["format"] != INDEX_FORMAT or meta["version"] != LANDMARK_VERSION:
            return
        try:
            row_file = RowFile(self.index_path)
            rows = row_file.rows
            members = np.load(self.members_path, allow_pickle=False) if self.members_path.is_file() else None
        except (OSError, ValueError, EOFError):  # EOFError: an empty file (what a power cut leaves)
            return
        state = (meta["count"], meta["max_id"])
        if rows.dtype != np.uint32 or rows.ndim != 2 or rows.shape[0] != 3 or rows.shape[1] != meta["rows"]:
            return
        if members is not None and (members.dtype != np.int64 or members.shape != (state[0], 2)):
            members = None  # left from another build: the next change rebuilds
        if not self._agrees_with_store(row_file):
            return
        self._map_rows(row_file, saved=True)
        self._state, self._members, self._saved = state, members, True

    def _agrees_with_store(self, rows: RowFile) -> bool:
        """``VERIFIED_TRACKS`` tracks spread over the library each find ``VERIFIED_HASHES`` of their stored
        (hash, frame) pairs under their own id: scrambled ids or rows are rebuilt instead of losing matches. The
        file is searched by reads, not through its map: a binary search through the map maps the cached blocks
        around every page it touches (118 MiB of a 255 MiB index for this check at 30k tracks)."""
        for track_id in self.store.landmark_sample(VERIFIED_TRACKS):
            found = self.store.landmarks_of(track_id)
            if found is None or len(found) == 0:
                continue
            picked = np.linspace(0, len(found) - 1, min(VERIFIED_HASHES, len(found))).astype(int)
            low = rows.search(found.hashes[picked], side="left")
            for start, value, frame in zip(low.tolist(), found.hashes[picked].tolist(),
                                           found.frames[picked].view(np.uint32).tolist()):
                bucket = rows.block(start, rows.bucket_end(start, value))
                if not np.any((bucket[1] == track_id) & (bucket[2] == frame)):
                    return False
        return True

    def _save(self, must_save: bool = False) -> None:
        """Write rows, members, then the sidecar that vouches for them, each through a temporary file and an
        atomic rename. When they cannot be saved (a full disk, a read-only folder, or on Windows another
        process mapping the old file) the index stays in memory for this process (``report_unsaved``), as it does
        for a library in memory (no file yet)."""
        self._saved = False
        if self.store.in_memory:
            return
        meta = {"format": INDEX_FORMAT, "version": LANDMARK_VERSION, "count": self._state[0], "max_id": self._state[1],
                "rows": self.size}
        path = self.index_path
        try:
            arrays = [(self._members, self.members_path)]
            if not self._rows_saved:
                arrays.insert(0, (self._rows, self.index_path))
            for array, path in arrays:
                with atomic_path(path) as temporary, open(temporary, "wb") as handle:
                    np.save(handle, array, allow_pickle=False)
            path = self.meta_path
            write_bytes_atomically(self.meta_path, json.dumps(meta).encode("utf-8"))
        except OSError as error:
            report_unsaved(path, error, must_save)  # the file that could not be written
        else:
            self._saved = True


def _member_keys(members: np.ndarray) -> np.ndarray:
    """One int64 per (track id, row id) pair."""
    return members[:, 0] * (1 << 32) + members[:, 1]


def aligned_matches(rows: np.ndarray, query: Landmarks, exclude_track_id: int | None = None,
                    min_aligned: int = MIN_ALIGNED_HASHES) -> list[RecordingMatch]:
    """The tracks of ``rows`` (``sorted_rows``) with at least ``min_aligned`` of ``query``'s hashes at one time
    offset, most aligned first; hashes in buckets over ``MAX_BUCKET_ENTRIES`` are skipped."""
    if rows.shape[1] == 0 or len(query) == 0:
        return []
    # In hash order the lookups and the rows they gather walk the index forwards: 28 % less CPU per track at 100k
    # tracks (74M rows) than in the stored time order.
    order = np.argsort(query.hashes, kind="stable")
    hashes, frames = query.hashes[order], query.frames[order]
    low = np.searchsorted(rows[0], hashes, side="left")
    counts = np.searchsorted(rows[0], hashes, side="right") - low
    counts[counts > MAX_BUCKET_ENTRIES] = 0
    total = int(counts.sum())
    if total == 0:
        return []
    positions = np.repeat(low, counts) + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    track_ids = rows[1][positions].astype(np.int64)
    offsets = rows[2][positions].view(np.int32).astype(np.int64) - np.repeat(frames, counts)
    return _best_alignments(track_ids, offsets, exclude_track_id, min_aligned)


def _mapped(runs: Sequence[Path]) -> list[RowFile]:
    return [RowFile(run) for run in runs]


def _best_alignments(track_ids: np.ndarray, offsets: np.ndarray, exclude_track_id: int | None,
                     min_aligned: int) -> list[RecordingMatch]:
    """Per track, the most hashes agreeing on one offset, counting the next offset too (frames of the query
    and of the track start up to one frame apart); tracks below ``min_aligned`` or far below the best are dropped."""
    keys = track_ids * _OFFSET_SPAN + (offsets + _OFFSET_SPAN // 2)
    unique, counts = np.unique(keys, return_counts=True)
    following = np.searchsorted(unique, unique + 1)
    has_following = following < unique.size
    has_following[has_following] = unique[following[has_following]] == unique[has_following] + 1
    paired = counts + np.where(has_following, counts[np.minimum(following, unique.size - 1)], 0)
    tracks = unique // _OFFSET_SPAN
    best: dict[int, int] = {}
    for track_id, aligned in zip(tracks[paired >= min_aligned].tolist(), paired[paired >= min_aligned].tolist()):
        if aligned > best.get(track_id, 0):
            best[track_id] = aligned
    floor = MIN_SHARE_OF_BEST * max(best.values(), default=0)  # the excluded track counts: it is the query's own
    return [RecordingMatch(t, a) for t, a in sorted(best.items(), key=lambda item: (-item[1], item[0]))
            if a >= floor and t != exclude_track_id]
