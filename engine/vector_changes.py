"""What SQLite changed since a saved vector graph was built, held beside the graph instead of rebuilding it.

A vector cannot be taken out of an HNSW graph, and rebuilding a 100k-track graph in an index run held ~0.5 GiB beside
torch. So a graph stays as saved; the positions whose analysis is gone (a removed or re-analysed track) are hidden
from searches by a FAISS ID selector, and the analyses added since are searched exactly in a small flat index. Both
are derived from SQLite when the graph is loaded (``engine.vector_index``), so no extra file can fall out of step.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np


def stale_positions(ids_by_position: np.ndarray, live_track_ids: np.ndarray) -> np.ndarray:
    """Positions (sorted, int64) of a saved index whose track id is not among ``live_track_ids``."""
    return np.flatnonzero(~np.isin(ids_by_position, live_track_ids)).astype(np.int64)


class LivePositions:
    """A FAISS selector of an index's live positions (a bitmap over positions, kept alive with the selector)."""

    def __init__(self, total: int, stale: np.ndarray) -> None:
        live = np.ones(total, dtype=bool)
        live[stale] = False
        self._bitmap = np.packbits(live, bitorder="little")
        self.selector = faiss.IDSelectorBitmap(total, faiss.swig_ptr(self._bitmap))


@dataclass
class ChangesAside:
    """The stale positions of a saved index and an exact index of the analyses added since it was built."""

    stale: np.ndarray  # (S,) int64 positions, sorted
    live_positions: LivePositions | None  # None when nothing is stale: searches need no selector
    added: faiss.IndexIDMap2  # flat inner-product index of the added vectors, by track id

    @classmethod
    def of(cls, total: int, stale: np.ndarray, added: faiss.IndexIDMap2) -> ChangesAside:
        return cls(stale, LivePositions(total, stale) if len(stale) else None, added)


def merge_nearest(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray],
                  k: int) -> tuple[np.ndarray, np.ndarray]:
    """Two (scores (Q, a), ids (Q, a)) inner-product results → the ``k`` highest scores of both, best first; missing
    slots (id -1, FAISS's lowest score) sort last."""
    scores = np.concatenate([first[0], second[0]], axis=1)
    ids = np.concatenate([first[1], second[1]], axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)
