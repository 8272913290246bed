"""A FAISS cache of one model's track embeddings, saved beside the database and checked against it.

SQLite is the truth; this file only makes search fast. Its sidecar JSON records the fingerprint of
the analyses the saved index was built from (count, max analysis id); what changed since is derived from
SQLite on open. A flat index is extended with new analyses or rebuilt. A graph keeps the changes beside it
(``engine.vector_changes``: stale vectors hidden from searches, added ones scanned exactly) until they pass
``ADDED_LIMIT`` or ``DEAD_SHARE_LIMIT``, so an index run that re-analyses 1 % of 100k tracks neither loads
nor rewrites the graph. Missing, unreadable or out of step with SQLite → rebuild.
Exact inner product (cosine on unit vectors) up to ``FLAT_LIMIT`` vectors, an HNSW graph above. An exact
scan reads every vector and costs about 0.25 ms of CPU per 1,000 512-d vectors here (100k: 26 ms, memory
bound), so past a few thousand tracks only a graph answers a track's neighbours within the 2 ms budget.
The graph keeps every vector too (``IndexHNSWFlat``), so ``exact=True`` still scans them all: a query by
file, which pays ~150 ms to decode and embed anyway, stays exact up to a few hundred thousand tracks.
"""

from __future__ import annotations

import errno
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from engine.atomic_write import atomic_path, write_bytes_atomically
from engine.cache_files import beside_database, read_sidecar, report_unsaved
from engine.library_standardisation import RunningMoments, Standardisation
from engine.library_reads import EMBEDDING_BATCH_ROWS, EmbeddingBatch
from engine.vector_changes import ChangesAside, merge_nearest, stale_positions

if TYPE_CHECKING:
    from engine.library_reader import LibraryReader
    from engine.store import Store

FLAT_LIMIT = 5_000  # an exact scan of 5k vectors costs what a graph search at 100k does (~1 ms CPU)
HNSW_NEIGHBOURS = 16
# 100k synthetic vectors, 1 thread (BENCHMARKS.md, "`similar` for an indexed track"): construction effort 80 instead
# of 40 doubles the build time but lets efSearch 40 reach recall@10 0.99 in ~0.5 ms, where efC 40 needed efSearch 96
# and ~1 ms.
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 40
STALENESS_CHECK_SECONDS = 1.0  # searches within this time of the last check trust the cache
SINGLE_THREAD_QUERIES = 16  # smaller searches run on one thread: OpenMP start-up costs more than it saves
INDEX_FORMAT = 1
VERIFIED_VECTORS = 32  # vectors of a saved index compared with SQLite when it is loaded (one query, < 1 ms)
VECTOR_TOLERANCE = 1e-6  # a loaded vector is the stored float32 one, bit for bit; this only allows for rounding
# A graph keeps what SQLite changed since it was saved beside it (engine.vector_changes) until one of these is passed.
# The added analyses are scanned exactly on every search, and an exact scan of FLAT_LIMIT vectors costs about one
# graph search. A stale vector is still walked, only not returned: with a tenth of the graph stale, recall@10 of the
# walk was 0.941 against 0.944 with none (benchmarks/bench_stale_vectors.py, 20k 1080-d vectors), so what the limit
# bounds is the memory and disk they hold (4.3 KB each at 1080-d): a tenth more, then one rebuild (100k: ~40 s CPU).
ADDED_LIMIT = FLAT_LIMIT
DEAD_SHARE_LIMIT = 0.10
MAPPED_READ = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY  # vectors read through a map of the file
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO)  # named by FAISS


@dataclass(frozen=True)
class Fingerprint:
    count: int
    max_analysis_id: int


def index_paths(database: Path, model_id: str) -> tuple[Path, Path]:
    """``<db>.<model_id>.faiss`` and its ``.json`` sidecar, beside the database."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", model_id)
    return beside_database(database, f".{safe}.faiss"), beside_database(database, f".{safe}.faiss.json")


def build_faiss_index(dimension: int, expected_count: int) -> faiss.Index:
    """An ID-mapped index for ``expected_count`` unit vectors: flat up to FLAT_LIMIT, else HNSW."""
    if expected_count <= FLAT_LIMIT:
        inner = faiss.IndexFlatIP(dimension)
    else:
        inner = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    return faiss.IndexIDMap2(inner)


def _graph(index: faiss.Index) -> faiss.IndexHNSW | None:
    """The HNSW graph inside an ID-mapped index, or None for a flat one."""
    inner = faiss.downcast_index(index.index)
    return inner if isinstance(inner, faiss.IndexHNSW) else None


@contextmanager
def _faiss_threads(count: int | None) -> Iterator[None]:
    """Run the body on ``count`` OpenMP threads (None: leave FAISS's setting), then restore it."""
    if count is None:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class VectorIndex:
    """Nearest-neighbour search over one model's embeddings, kept consistent with the ``Store`` (or a read-only
    ``LibraryReader``, which has the same reads: a search by track id without SQLAlchemy)."""

    def __init__(self, store: Store | LibraryReader, model_id: str, dimension: int, standardise: bool = False,
                 batch_rows: int = EMBEDDING_BATCH_ROWS) -> None:
        self.store = store
        self.batch_rows = batch_rows  # embeddings per SELECT when the index is built or caught up from SQLite
        self.model_id = model_id
        self.dimension = dimension
        # With ``standardise`` the index holds the vectors centred and scaled on the library's moments
        # (engine.library_standardisation), and ``search`` moves its raw queries there first.
        self.standardise = standardise
        self._standardisation: Standardisation | None = None
        self.index_path, self.meta_path = index_paths(store.path, model_id)
        self._index: faiss.Index | None = None  # the saved index (or the one about to be saved)
        self._fingerprint: Fingerprint | None = None  # the analyses ``_index`` was built from
        self._changes: ChangesAside | None = None  # what SQLite changed since, held beside a graph
        self._current: Fingerprint | None = None  # SQLite's fingerprint that ``_index`` and ``_changes`` answer for
        self._mapped = False  # ``_index`` maps the saved file (an index run's check) instead of holding it
        # "loaded", "caught up" (changes held beside the saved index), "extended", "rebuilt", "current": for tests and logs
        self.last_action = "none"
        self._checked_at = float("-inf")
        self._ids_by_position: np.ndarray | None = None  # track ids by position in ``_index`` (``IndexIDMap2.id_map``)
        self._saved = False  # the index in memory is the one on disk (loaded, or saved since the last change)
        # The app searches from several worker threads while an index run may catch the index up: loading, folding
        # changes in and searching one FAISS index from two threads at once crashed the process (faiss reads a
        # graph another thread is replacing). Re-entrant: ``search`` catches up first, under the same lock.
        self._lock = threading.RLock()

    @property
    def size(self) -> int:
        """How many vectors a search can return: the live ones."""
        with self._lock:
            return self._live_count()

    def _live_count(self) -> int:
        if self._index is None:
            return 0
        if self._changes is None:
            return int(self._index.ntotal)
        return int(self._index.ntotal) - len(self._changes.stale) + int(self._changes.added.ntotal)

    def ensure_current(self, max_age_seconds: float = 0.0, must_save: bool = False) -> None:
        """Bring the index in line with SQLite (load it, hold the changes beside it, extend or rebuild it); skip the
        check if the last one is younger than ``max_age_seconds``. With ``must_save`` (an index run) the saved file is
        checked through a map, and the index is let go once it is on disk, so the run holds no graph it does not
        rewrite, nor one beside the landmark catch-up that follows; an index that cannot be saved raises
        ``CacheNotSavedError``. Otherwise an unsaved index is kept in memory with a warning."""
        with self._lock:
            self._ensure_current(max_age_seconds, must_save)

    def _ensure_current(self, max_age_seconds: float, must_save: bool) -> None:
        if self._index is not None and time.monotonic() - self._checked_at < max_age_seconds:
            return
        self._checked_at = time.monotonic()
        current = Fingerprint(*self.store.analyses_fingerprint(self.model_id))
        if self._index is not None and self._current == current:
            self.last_action = "current"
            if must_save and not self._saved:
                self._save(must_save)
        elif self._catch_up(current, mapped=must_save):
            self._save(must_save)
        if self._mapped or (must_save and self._saved):
            self._let_go()

    def search(self, vectors: np.ndarray, k: int, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``vectors`` (Q, D) unit-length embeddings as stored → (scores (Q, k), track_ids (Q, k)); missing slots have id -1.
        ``exact`` scans every vector even when the index is a graph. Sees changes by other processes within
        ``STALENESS_CHECK_SECONDS``; never returns a removed track or the old vector of a re-analysed one."""
        with self._lock:
            return self._search(vectors, k, exact)

    def _search(self, vectors: np.ndarray, k: int, exact: bool) -> tuple[np.ndarray, np.ndarray]:
        self._ensure_current(STALENESS_CHECK_SECONDS, must_save=False)
        size = self._live_count()
        if size == 0 or k <= 0:
            shape = (len(vectors), max(k, 0))
            return np.zeros(shape, dtype=np.float32), np.full(shape, -1, dtype=np.int64)
        queries = self._searchable(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension))
        k = min(k, size)
        with _faiss_threads(1 if len(queries) <= SINGLE_THREAD_QUERIES else None):
            found = self._search_saved(queries, k, exact)
            if self._changes is not None and self._changes.added.ntotal:
                added = self._changes.added.search(queries, min(k, int(self._changes.added.ntotal)))
                found = merge_nearest(found, added, k)
        return found

    def _search_saved(self, queries: np.ndarray, k: int, exact: bool) -> tuple[np.ndarray, np.ndarray]:
        """The saved index's ``k`` nearest live vectors (fewer when it holds fewer), by track id."""
        changes = self._changes
        k = min(k, int(self._index.ntotal) - (0 if changes is None else len(changes.stale)))
        if k <= 0:
            return np.zeros((len(queries), 0), dtype=np.float32), np.zeros((len(queries), 0), dtype=np.int64)
        selector = None if changes is None or changes.live_positions is None else changes.live_positions.selector
        graph = _graph(self._index)
        vectors = faiss.downcast_index(self._index.index if graph is None else graph.storage)
        if graph is None or exact:
            scores, positions = vectors.search(queries, k, params=faiss.SearchParameters(sel=selector))
        else:
            walk = faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)
            scores, positions = graph.search(queries, k, params=walk)
            short = (positions < 0).any(axis=1)  # a walk that met too few live vectors: scan those queries instead
            if short.any():
                scores[short], positions[short] = vectors.search(queries[short], k,
                                                                 params=faiss.SearchParameters(sel=selector))
        ids = self._ids_in_order()
        return scores, np.where(positions >= 0, ids[np.maximum(positions, 0)], -1)

    def _ids_in_order(self) -> np.ndarray:
        """Track ids by position in the saved index (``IndexIDMap2.id_map``), cached until the index changes."""
        if self._ids_by_position is None or len(self._ids_by_position) != self._index.ntotal:
            self._ids_by_position = faiss.vector_to_array(self._index.id_map)
        return self._ids_by_position

    def vector_of(self, track_id: int) -> np.ndarray | None:
        """A track's embedding as stored (what ``search`` takes), or None when this model has not analysed it. Read
        from SQLite: the index may hold a standardised vector, or a re-analysed track's old one until a rebuild."""
        return self.store.embeddings_of(self.model_id, [int(track_id)]).get(int(track_id))

    def _searchable(self, vectors: np.ndarray) -> np.ndarray:
        """Stored-form vectors (count, D) → the form this index holds."""
        if self._standardisation is None:
            return vectors
        return np.ascontiguousarray(self._standardisation.apply(vectors))

    # -- keeping in step with SQLite ------------------------------------------------------------------
    def _catch_up(self, current: Fingerprint, mapped: bool) -> bool:
        """Load the saved index if none is held, then hold SQLite's changes beside it, or fold them in (extend or
        rebuild). Returns True when the index changed and must be saved."""
        loaded_now = self._index is None
        if loaded_now:
            self._load_from_disk(mapped)
        stale = None if self._index is None else self._stale_positions()
        if stale is not None and loaded_now and not self._agrees_with_store(stale):
            stale = None
        fold = "rebuild" if stale is None else self._fold(current, len(stale))
        if fold is None and (self._mapped or self._hold_changes(stale)):
            unchanged = loaded_now and not len(stale) and current == self._fingerprint
            self.last_action = "loaded" if unchanged else "caught up"
            return False
        if fold == "extend" and self._mapped:  # adding to the graph needs its vectors in memory
            self._let_go()
            self._load_from_disk(mapped=False)
        if fold == "extend" and self._index is not None:
            self._extend(current)
        else:
            self._rebuild(current)
        return True

    def _stale_positions(self) -> np.ndarray | None:
        """Positions of the saved index whose analysis SQLite no longer holds (a removed or re-analysed track), or
        None when SQLite holds an analysis the index should have but lacks (out of step: rebuild)."""
        saved, total = self._fingerprint, int(self._index.ntotal)
        still_there, _ = self.store.analyses_fingerprint(self.model_id, up_to_id=saved.max_analysis_id)
        if still_there == total:  # analysis ids never come back, so an equal count means nothing was removed
            return np.zeros(0, dtype=np.int64)
        live_track_ids = self.store.analysed_track_ids_up_to(self.model_id, saved.max_analysis_id)
        stale = stale_positions(self._ids_in_order(), live_track_ids)
        return stale if total - len(stale) == len(live_track_ids) else None

    def _fold(self, current: Fingerprint, stale: int) -> str | None:
        """How to meet SQLite's ``current`` analyses: None (hold the changes beside the saved index), "extend" (add
        the new analyses to it) or "rebuild"."""
        total = int(self._index.ntotal)
        added = current.count - (total - stale)
        if not stale and current == self._fingerprint:
            return None
        if self._standardisation is not None and self._standardisation.needs_refit(current.count):
            return "rebuild"  # the library has outgrown the moments its vectors were standardised with
        if (_graph(self._index) is not None) != (current.count > FLAT_LIMIT):
            return "rebuild"  # the other kind of index fits the library now
        if _graph(self._index) is None or added > ADDED_LIMIT:  # a flat index is rewritten in well under a second
            return "rebuild" if stale else "extend"
        return "rebuild" if stale > DEAD_SHARE_LIMIT * total else None

    def _hold_changes(self, stale: np.ndarray) -> bool:
        """Hide ``stale`` positions and read the analyses added since the saved index was built into an exact side
        index, in one snapshot; False when SQLite changed between the two reads (then rebuild)."""
        total = int(self._index.ntotal)
        added = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        (count, max_id), _ = self.store.embedding_batches(
            self.model_id, lambda _, read: self._add_batches(added, read()),
            after_analysis_id=self._fingerprint.max_analysis_id, batch_rows=self.batch_rows,
        )
        if total - len(stale) + added.ntotal != count:  # an analysis went between the reads: stale is out of date
            return False
        self._changes = ChangesAside.of(total, stale, added) if len(stale) or added.ntotal else None
        self._current = Fingerprint(count, max_id)
        return True

    def _add_batches(self, index: faiss.Index, batches: Iterator[EmbeddingBatch]) -> None:
        """Add the stored vectors of each batch as it is read: memory holds the index and one batch."""
        for track_ids, matrix in batches:
            index.add_with_ids(self._searchable(np.ascontiguousarray(matrix)), track_ids)

    def _extend(self, current: Fingerprint) -> None:
        self._changes = None
        (count, max_id), _ = self.store.embedding_batches(
            self.model_id, lambda _, read: self._add_batches(self._index, read()),
            after_analysis_id=self._fingerprint.max_analysis_id, batch_rows=self.batch_rows,
        )
        self._fingerprint = self._current = Fingerprint(count, max_id)
        self._ids_by_position = None
        self.last_action = "extended"
        if self._index.ntotal != count:  # something was also removed meanwhile
            self._rebuild(current)

    def _rebuild(self, _current: Fingerprint) -> None:
        """Read every embedding again into a new index; the old one is let go first, because holding both doubled
        the memory of an index run that changed tracks (two HNSW indexes of ~430 MiB each at 100k tracks)."""
        self._let_go()

        def build(fingerprint: tuple[int, int], read: Callable[[], Iterator[EmbeddingBatch]]) -> faiss.Index:
            if self.standardise:  # a first pass for the moments: the vectors are added standardised
                moments = RunningMoments(self.dimension)
                for _, matrix in read():
                    moments.add(matrix)
                self._standardisation = moments.standardisation()
            else:
                self._standardisation = None
            index = build_faiss_index(self.dimension, fingerprint[0])
            self._add_batches(index, read())
            return index

        (count, max_id), index = self.store.embedding_batches(self.model_id, build, batch_rows=self.batch_rows)
        self._index = index
        self._fingerprint = self._current = Fingerprint(count, max_id)
        self.last_action = "rebuilt"

    def _let_go(self) -> None:
        """Hold no index (a rebuild starts from nothing; an index run's map of the saved file is closed)."""
        self._index = self._fingerprint = self._changes = self._current = self._ids_by_position = None
        self._mapped = self._saved = False

    def _load_from_disk(self, mapped: bool) -> None:
        """The saved index, if its sidecar vouches for it and its ids are distinct (its vectors are compared with
        SQLite once the live ones are known). ``mapped`` reads it through a map of the file, which holds only the
        pages touched."""
        if not (self.index_path.is_file() and self.meta_path.is_file()):
            return
        meta = read_sidecar(self.meta_path, ("format", "count", "max_analysis_id"))
        if meta is None or meta["format"] != INDEX_FORMAT or meta.get("model_id") != self.model_id:
            return
        index = _read_index(self.index_path, mapped)
        if index is None:
            return
        fingerprint = Fingerprint(meta["count"], meta["max_analysis_id"])
        standardisation = _standardisation_from_meta(meta.get("standardisation"), self.dimension)
        if self.standardise != (standardisation is not None):
            return  # saved with the other search setting (the model folder's ``search`` changed)
        if index.d != self.dimension or index.ntotal != fingerprint.count or not _ids_distinct(index):
            return
        graph = _graph(index)
        if graph is not None:
            graph.hnsw.efSearch = HNSW_EF_SEARCH  # the setting of this version, whatever the file holds
        self._index, self._fingerprint, self._standardisation = index, fingerprint, standardisation
        self._current, self._changes, self._ids_by_position = fingerprint, None, None
        self._mapped, self._saved = mapped and _is_mapped(index), True

    def _agrees_with_store(self, stale: np.ndarray) -> bool:
        """``VERIFIED_VECTORS`` live vectors spread over the file equal to SQLite's: a file whose vectors or ids were
        overwritten under an intact header is rebuilt, not searched."""
        ids = self._ids_in_order()
        live = np.setdiff1d(np.arange(len(ids), dtype=np.int64), stale, assume_unique=True)
        if not len(live):
            return True
        positions = live[np.unique(np.linspace(0, len(live) - 1, min(VERIFIED_VECTORS, len(live))).astype(np.int64))]
        stored = self.store.embeddings_of(self.model_id, [int(track_id) for track_id in ids[positions]])
        inner = faiss.downcast_index(self._index.index)
        for position in positions.tolist():
            expected = stored.get(int(ids[position]))
            if expected is None or expected.shape != (self.dimension,):
                return False
            expected = self._searchable(expected[None, :])[0]
            if not np.allclose(inner.reconstruct(position), expected, rtol=0.0, atol=VECTOR_TOLERANCE):
                return False
        return True

    def _save(self, must_save: bool = False) -> None:
        """Write index then sidecar, each through a temporary file and an atomic rename; a cache that cannot be
        saved (full disk, read-only folder) stays in memory for this process (``report_unsaved``). The sidecar
        records the analyses the index was built from; changes held beside it are derived again on load. A library
        in memory (no file yet) keeps it in memory."""
        self._saved = False
        if self.store.in_memory:
            return
        meta = {
            "format": INDEX_FORMAT, "model_id": self.model_id, "dimension": self.dimension,
            "count": self._fingerprint.count, "max_analysis_id": self._fingerprint.max_analysis_id,
            "kind": "hnsw" if _graph(self._index) is not None else "flat",
            "standardisation": None if self._standardisation is None else {
                "mean": self._standardisation.mean.tolist(), "scale": self._standardisation.scale.tolist(),
                "fitted_on": self._standardisation.fitted_on},
        }
        try:
            with atomic_path(self.index_path) as temporary_index:
                faiss.write_index(self._index, str(temporary_index))
            write_bytes_atomically(self.meta_path, json.dumps(meta).encode("utf-8"))
        except OSError as error:
            report_unsaved(self.index_path, error, must_save)
        except RuntimeError as error:  # FAISS reports a failed write (a full disk) as a RuntimeError
            report_unsaved(self.index_path, _write_error(error), must_save)
        else:
            self._saved = True


def _read_index(path: Path, mapped: bool) -> faiss.Index | None:
    """The FAISS file at ``path`` (through a map when ``mapped`` and the platform's FAISS can), or None when unreadable."""
    for flags in ((MAPPED_READ, 0) if mapped else (0,)):
        try:
            return faiss.read_index(str(path), flags)
        except (OSError, ValueError, RuntimeError):
            continue
    return None


def _is_mapped(index: faiss.Index) -> bool:
    """True when the index's vectors live in a map of its file rather than in memory of its own."""
    inner = faiss.downcast_index(index.index)
    graph = _graph(index)
    vectors = faiss.downcast_index(graph.storage) if graph is not None else inner
    return not vectors.codes.is_owned


def _ids_distinct(index: faiss.Index) -> bool:
    """An ID-mapped index whose track ids are all distinct (a scrambled or duplicated id map is rebuilt)."""
    if not isinstance(index, faiss.IndexIDMap2):
        return False
    ids = faiss.vector_to_array(index.id_map)
    return len(ids) == index.ntotal and np.unique(ids).size == len(ids)


def _write_error(error: RuntimeError) -> OSError:
    """FAISS's failed write as the OSError it was: its message ends with the system's reason (``strerror``); an
    unrecognised one counts as an I/O error."""
    text = str(error)
    for code in WRITE_ERRNOS:
        if os.strerror(code) in text:
            return OSError(code, os.strerror(code))
    return OSError(errno.EIO, text.splitlines()[0] if text else "write failed")


def _standardisation_from_meta(saved: object, dimension: int) -> Standardisation | None:
    """The moments a saved index was standardised with, or None when it was not (or they are unreadable)."""
    if not isinstance(saved, dict):
        return None
    try:
        mean = np.asarray(saved["mean"], dtype=np.float32)
        scale = np.asarray(saved["scale"], dtype=np.float32)
        fitted_on = int(saved["fitted_on"])
    except (KeyError, TypeError, ValueError):
        return None
    if mean.shape != (dimension,) or scale.shape != (dimension,) or not np.all(np.isfinite(mean)) \
            or not np.all(scale > 0) or fitted_on < 0:
        return None
    return Standardisation(mean, scale, fitted_on)
