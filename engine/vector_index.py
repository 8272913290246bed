"""A FAISS cache of one model's track embeddings, saved beside the database and checked against it.

SQLite is the truth; this file only makes search fast. Its sidecar JSON records the fingerprint of
the analyses it holds (count, max analysis id). On open: same fingerprint → use it; only newer
analyses were added → add those; anything else (missing, removed rows, unreadable) → rebuild.
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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from engine.atomic_write import atomic_path, write_bytes_atomically
from engine.cache_files import beside_database, read_sidecar, report_unsaved
from engine.library_standardisation import RunningMoments, Standardisation
from engine.store import EMBEDDING_BATCH_ROWS, EmbeddingBatch, Store

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
    """Nearest-neighbour search over one model's embeddings, kept consistent with the ``Store``."""

    def __init__(self, store: Store, model_id: str, dimension: int, standardise: bool = False,
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
        self._index: faiss.Index | None = None
        self._fingerprint: Fingerprint | None = None
        self.last_action = "none"  # "loaded", "extended", "rebuilt", "current": for tests and logs
        self._checked_at = float("-inf")
        self._ids_by_position: tuple[int, np.ndarray] | None = None  # (ntotal, ids) for exact scans of a graph
        self._saved = False  # the index in memory is the one on disk (loaded, or saved since the last change)

    @property
    def size(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def ensure_current(self, max_age_seconds: float = 0.0, must_save: bool = False) -> faiss.Index:
        """Bring the index in line with SQLite (load, extend or rebuild) and return it; skip the check if the
        last one is younger than ``max_age_seconds``. With ``must_save`` (an index run) an index that cannot be
        saved raises ``CacheNotSavedError``; else it is kept in memory with a warning."""
        if self._index is not None and time.monotonic() - self._checked_at < max_age_seconds:
            return self._index
        self._checked_at = time.monotonic()
        count, max_id = self.store.analyses_fingerprint(self.model_id)
        current = Fingerprint(count, max_id)
        if self._index is not None and self._fingerprint == current:
            self.last_action = "current"
            if must_save and not self._saved:
                self._save(must_save)
            return self._index
        if self._index is None:
            self._load_from_disk()
            if self._index is not None and self._fingerprint == current:
                self.last_action = "loaded"
                return self._index
        if self._index is not None and self._can_extend(current):
            self._extend(current)
        else:
            self._rebuild(current)
        self._save(must_save)
        return self._index

    def search(self, vectors: np.ndarray, k: int, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``vectors`` (Q, D) unit-length embeddings as stored → (scores (Q, k), track_ids (Q, k)); missing slots have id -1.
        ``exact`` scans every vector even when the index is a graph. Sees changes by other processes within
        ``STALENESS_CHECK_SECONDS``."""
        index = self.ensure_current(STALENESS_CHECK_SECONDS)
        if index.ntotal == 0 or k <= 0:
            shape = (len(vectors), max(k, 0))
            return np.zeros(shape, dtype=np.float32), np.full(shape, -1, dtype=np.int64)
        queries = self._searchable(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension))
        k = min(k, int(index.ntotal))
        with _faiss_threads(1 if len(queries) <= SINGLE_THREAD_QUERIES else None):
            graph = _graph(index)
            if exact and graph is not None:
                scores, positions = faiss.downcast_index(graph.storage).search(queries, k)
                ids = self._ids_in_order(index)
                return scores, np.where(positions >= 0, ids[np.maximum(positions, 0)], -1)
            return index.search(queries, k)

    def _ids_in_order(self, index: faiss.Index) -> np.ndarray:
        """Track ids by storage position (``IndexIDMap2.id_map``), cached while the index does not change."""
        if self._ids_by_position is None or self._ids_by_position[0] != index.ntotal:
            self._ids_by_position = (int(index.ntotal), faiss.vector_to_array(index.id_map))
        return self._ids_by_position[1]

    def vector_of(self, track_id: int) -> np.ndarray | None:
        """A track's embedding as stored (what ``search`` takes), or None when this model has not analysed it."""
        index = self.ensure_current(STALENESS_CHECK_SECONDS)
        if self._standardisation is not None:  # the index holds the standardised vector: read the stored one
            return self.store.embeddings_of(self.model_id, [int(track_id)]).get(int(track_id))
        try:
            return index.reconstruct(int(track_id))
        except RuntimeError:
            return None

    def _searchable(self, vectors: np.ndarray) -> np.ndarray:
        """Stored-form vectors (count, D) → the form this index holds."""
        if self._standardisation is None:
            return vectors
        return np.ascontiguousarray(self._standardisation.apply(vectors))

    # -- keeping in step with SQLite ------------------------------------------------------------------
    def _can_extend(self, current: Fingerprint) -> bool:
        """True when SQLite only gained analyses since the saved fingerprint (nothing removed or replaced)."""
        saved = self._fingerprint
        if saved is None or current.max_analysis_id < saved.max_analysis_id:
            return False
        still_there, _ = self.store.analyses_fingerprint(self.model_id, up_to_id=saved.max_analysis_id)
        if still_there != saved.count:  # ids never come back, so an equal count means nothing was removed
            return False
        if self._standardisation is not None and self._standardisation.needs_refit(current.count):
            return False  # the library has outgrown the moments its vectors were standardised with
        return (_graph(self._index) is not None) == (current.count > FLAT_LIMIT)  # same kind of index after

    def _add_batches(self, index: faiss.Index, batches: Iterator[EmbeddingBatch]) -> None:
        """Add the stored vectors of each batch as it is read: memory holds the index and one batch."""
        for track_ids, matrix in batches:
            index.add_with_ids(self._searchable(np.ascontiguousarray(matrix)), track_ids)

    def _extend(self, current: Fingerprint) -> None:
        (count, max_id), _ = self.store.embedding_batches(
            self.model_id, lambda _, read: self._add_batches(self._index, read()),
            after_analysis_id=self._fingerprint.max_analysis_id, batch_rows=self.batch_rows,
        )
        self._fingerprint = Fingerprint(count, max_id)
        self.last_action = "extended"
        if self._index.ntotal != count:  # something was also removed meanwhile
            self._rebuild(current)

    def _rebuild(self, _current: Fingerprint) -> None:
        """Read every embedding again into a new index; the old one is let go first, because holding both doubled
        the memory of an index run that changed tracks (two HNSW indexes of ~430 MiB each at 100k tracks)."""
        self._index, self._ids_by_position = None, None

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
        self._index, self._ids_by_position = index, None
        self._fingerprint = Fingerprint(count, max_id)
        self.last_action = "rebuilt"

    def _load_from_disk(self) -> None:
        """The saved index, if its sidecar vouches for it and a sample of its vectors matches SQLite."""
        if not (self.index_path.is_file() and self.meta_path.is_file()):
            return
        meta = read_sidecar(self.meta_path, ("format", "count", "max_analysis_id"))
        if meta is None or meta["format"] != INDEX_FORMAT or meta.get("model_id") != self.model_id:
            return
        try:
            index = faiss.read_index(str(self.index_path))
        except (OSError, ValueError, RuntimeError):
            return
        fingerprint = Fingerprint(meta["count"], meta["max_analysis_id"])
        standardisation = _standardisation_from_meta(meta.get("standardisation"), self.dimension)
        if self.standardise != (standardisation is not None):
            return  # saved with the other search setting (the model folder's ``search`` changed)
        self._standardisation = standardisation
        if index.d != self.dimension or index.ntotal != fingerprint.count or not self._agrees_with_store(index):
            self._standardisation = None
            return
        graph = _graph(index)
        if graph is not None:
            graph.hnsw.efSearch = HNSW_EF_SEARCH  # the setting of this version, whatever the file holds
        self._index, self._fingerprint, self._ids_by_position = index, fingerprint, None
        self._saved = True

    def _agrees_with_store(self, index: faiss.Index) -> bool:
        """Track ids all distinct, and ``VERIFIED_VECTORS`` vectors spread over the file equal to SQLite's: a file
        whose vectors or ids were overwritten under an intact header is rebuilt, not searched."""
        if not isinstance(index, faiss.IndexIDMap2):
            return False
        ids = faiss.vector_to_array(index.id_map)
        if len(ids) != index.ntotal or np.unique(ids).size != len(ids):
            return False
        if not len(ids):
            return True
        positions = np.unique(np.linspace(0, len(ids) - 1, min(VERIFIED_VECTORS, len(ids))).astype(np.int64))
        stored = self.store.embeddings_of(self.model_id, [int(track_id) for track_id in ids[positions]])
        inner = faiss.downcast_index(index.index)
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
        saved (full disk, read-only folder) stays in memory for this process (``report_unsaved``)."""
        self._saved = False
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
