"""A FAISS cache of one model's track embeddings, saved beside the database and checked against it.

SQLite is the truth; this file only makes search fast. Its sidecar JSON records the fingerprint of
the analyses it holds (count, max analysis id). On open: same fingerprint → use it; only newer
analyses were added → add those; anything else (missing, removed rows, unreadable) → rebuild.
Exact inner product (cosine on unit vectors) up to ``FLAT_LIMIT`` vectors, HNSW above: an exact
scan reads every vector (100k x 512 float32 = 200 MB per query, 15-30 ms on this machine, memory
bound), so beyond a few tens of thousands of tracks only a graph index answers in a millisecond or two.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from engine.store import Store

FLAT_LIMIT = 25_000
HNSW_NEIGHBOURS = 16
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 96
STALENESS_CHECK_SECONDS = 1.0  # searches within this time of the last check trust the cache
SINGLE_THREAD_QUERIES = 16  # smaller searches run on one thread: OpenMP start-up costs more than it saves
INDEX_FORMAT = 1


@dataclass(frozen=True)
class Fingerprint:
    count: int
    max_analysis_id: int


def index_paths(database: Path, model_id: str) -> tuple[Path, Path]:
    """``<db>.<model_id>.faiss`` and its ``.json`` sidecar, beside the database."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", model_id)
    base = database.with_name(f"{database.name}.{safe}")
    return base.with_suffix(base.suffix + ".faiss"), base.with_suffix(base.suffix + ".faiss.json")


def build_faiss_index(dimension: int, expected_count: int) -> faiss.Index:
    """An ID-mapped index for ``expected_count`` unit vectors: flat up to FLAT_LIMIT, else HNSW."""
    if expected_count <= FLAT_LIMIT:
        inner = faiss.IndexFlatIP(dimension)
    else:
        inner = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    return faiss.IndexIDMap2(inner)


class VectorIndex:
    """Nearest-neighbour search over one model's embeddings, kept consistent with the ``Store``."""

    def __init__(self, store: Store, model_id: str, dimension: int) -> None:
        self.store = store
        self.model_id = model_id
        self.dimension = dimension
        self.index_path, self.meta_path = index_paths(store.path, model_id)
        self._index: faiss.Index | None = None
        self._fingerprint: Fingerprint | None = None
        self.last_action = "none"  # "loaded", "extended", "rebuilt", "current": for tests and logs
        self._checked_at = float("-inf")

    @property
    def size(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def ensure_current(self, max_age_seconds: float = 0.0) -> faiss.Index:
        """Bring the index in line with SQLite (load, extend or rebuild) and return it; skip the check if the
        last one is younger than ``max_age_seconds``."""
        if self._index is not None and time.monotonic() - self._checked_at < max_age_seconds:
            return self._index
        self._checked_at = time.monotonic()
        count, max_id = self.store.analyses_fingerprint(self.model_id)
        current = Fingerprint(count, max_id)
        if self._index is not None and self._fingerprint == current:
            self.last_action = "current"
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
        self._save()
        return self._index

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``vectors`` (Q, D) unit length → (scores (Q, k), track_ids (Q, k)); missing slots have id -1.
        Sees changes by other processes within ``STALENESS_CHECK_SECONDS``."""
        index = self.ensure_current(STALENESS_CHECK_SECONDS)
        if index.ntotal == 0 or k <= 0:
            shape = (len(vectors), max(k, 0))
            return np.zeros(shape, dtype=np.float32), np.full(shape, -1, dtype=np.int64)
        queries = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        if len(queries) > SINGLE_THREAD_QUERIES:
            return index.search(queries, min(k, int(index.ntotal)))
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return index.search(queries, min(k, int(index.ntotal)))
        finally:
            faiss.omp_set_num_threads(threads)

    def vector_of(self, track_id: int) -> np.ndarray | None:
        index = self.ensure_current(STALENESS_CHECK_SECONDS)
        try:
            return index.reconstruct(int(track_id))
        except RuntimeError:
            return None

    # -- keeping in step with SQLite ------------------------------------------------------------------
    def _can_extend(self, current: Fingerprint) -> bool:
        """True when SQLite only gained analyses since the saved fingerprint (nothing removed or replaced)."""
        saved = self._fingerprint
        if saved is None or current.max_analysis_id < saved.max_analysis_id:
            return False
        still_there, _ = self.store.analyses_fingerprint(self.model_id, up_to_id=saved.max_analysis_id)
        if still_there != saved.count:  # ids never come back, so an equal count means nothing was removed
            return False
        grows_past_flat = saved.count <= FLAT_LIMIT < current.count
        return not grows_past_flat

    def _extend(self, current: Fingerprint) -> None:
        (count, max_id), track_ids, matrix = self.store.embedding_snapshot(
            self.model_id, after_analysis_id=self._fingerprint.max_analysis_id
        )
        if len(track_ids):
            self._index.add_with_ids(np.ascontiguousarray(matrix), track_ids)
        self._fingerprint = Fingerprint(count, max_id)
        self.last_action = "extended"
        if self._index.ntotal != count:  # something was also removed meanwhile
            self._rebuild(current)

    def _rebuild(self, _current: Fingerprint) -> None:
        (count, max_id), track_ids, matrix = self.store.embedding_snapshot(self.model_id)
        index = build_faiss_index(self.dimension, len(track_ids))
        if len(track_ids):
            index.add_with_ids(np.ascontiguousarray(matrix), track_ids)
        self._index = index
        self._fingerprint = Fingerprint(count, max_id)
        self.last_action = "rebuilt"

    def _load_from_disk(self) -> None:
        if not (self.index_path.is_file() and self.meta_path.is_file()):
            return
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
            index = faiss.read_index(str(self.index_path))
        except (OSError, ValueError, RuntimeError):
            return
        fingerprint = Fingerprint(int(meta.get("count", -1)), int(meta.get("max_analysis_id", -1)))
        if meta.get("format") != INDEX_FORMAT or index.d != self.dimension or index.ntotal != fingerprint.count:
            return
        self._index, self._fingerprint = index, fingerprint

    def _save(self) -> None:
        """Write index then sidecar, each through a temporary file and an atomic rename."""
        temporary_index = self.index_path.with_name(self.index_path.name + ".tmp")
        faiss.write_index(self._index, str(temporary_index))
        os.replace(temporary_index, self.index_path)
        meta = {
            "format": INDEX_FORMAT, "model_id": self.model_id, "dimension": self.dimension,
            "count": self._fingerprint.count, "max_analysis_id": self._fingerprint.max_analysis_id,
            "kind": "flat" if self._index.ntotal <= FLAT_LIMIT else "hnsw",
        }
        temporary_meta = self.meta_path.with_name(self.meta_path.name + ".tmp")
        temporary_meta.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(temporary_meta, self.meta_path)
