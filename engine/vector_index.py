"""A FAISS cache of one model's track embeddings, saved beside the database and checked against it.

SQLite is the truth; this file only makes search fast. Its sidecar JSON records the fingerprint of
the analyses it holds (count, max analysis id). On open: same fingerprint → use it; only newer
analyses were added → add those; anything else (missing, removed rows, unreadable) → rebuild.
Exact inner product (cosine on unit vectors) up to ``FLAT_LIMIT`` vectors, HNSW above.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from engine.store import Store

FLAT_LIMIT = 300_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128
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

    @property
    def size(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def ensure_current(self) -> faiss.Index:
        """Bring the index in line with SQLite (load, extend or rebuild) and return it."""
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
        """``vectors`` (Q, D) unit length → (scores (Q, k), track_ids (Q, k)); missing slots have id -1."""
        index = self.ensure_current()
        if index.ntotal == 0 or k <= 0:
            shape = (len(vectors), max(k, 0))
            return np.zeros(shape, dtype=np.float32), np.full(shape, -1, dtype=np.int64)
        queries = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        return index.search(queries, min(k, int(index.ntotal)))

    def vector_of(self, track_id: int) -> np.ndarray | None:
        index = self.ensure_current()
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
        if self.store.analyses_fingerprint(self.model_id, up_to_id=saved.max_analysis_id) != (
            saved.count, saved.max_analysis_id
        ):
            return False
        grows_past_flat = saved.count <= FLAT_LIMIT < current.count
        return not grows_past_flat

    def _extend(self, current: Fingerprint) -> None:
        track_ids, matrix = self.store.embeddings(self.model_id, after_analysis_id=self._fingerprint.max_analysis_id)
        if len(track_ids):
            self._index.add_with_ids(matrix, track_ids)
        self._fingerprint = current
        self.last_action = "extended"
        if self._index.ntotal != current.count:
            self._rebuild(current)

    def _rebuild(self, current: Fingerprint) -> None:
        track_ids, matrix = self.store.embeddings(self.model_id)
        index = build_faiss_index(self.dimension, len(track_ids))
        if len(track_ids):
            index.add_with_ids(np.ascontiguousarray(matrix), track_ids)
        self._index = index
        self._fingerprint = Fingerprint(len(track_ids), current.max_analysis_id if len(track_ids) else 0)
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
