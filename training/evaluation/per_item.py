"""Per-item outcomes kept beside a report's aggregate figures, so two reports of the same held-out items can be
compared item by item (a paired bootstrap) instead of mean against mean.

Why: with 136 tracks one excerpt more or less moves a top-1 rate by 0.7 points, so a candidate of the same quality
as the shipped model lands below it on about half of the evaluation's measures by chance. An entry is
``{"ids": [...], "values": [...]}``: the items in the evaluation's order, named so that two runs on the same data
name them alike (a manifest's path, ``path@shift`` for a transposition pair).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.keys import Key
from training.evaluation.metrics import mirex_scores

PER_ITEM = "per_item"


def per_item(ids: Sequence[str], values: Sequence[float] | np.ndarray) -> dict[str, list]:
    """The entry stored under ``PER_ITEM``: one value per item id."""
    values = [float(value) for value in values]
    if len(ids) != len(values):
        raise ValueError(f"{len(ids)} item ids for {len(values)} values")
    return {"ids": [str(item) for item in ids], "values": values}


def queried_items(ids: Sequence[str], labels: Sequence[str]) -> list[str]:
    """The ids of the items that are queries of a leave-one-out label retrieval (those whose label another item
    shares), in order: the items ``metrics.per_query_ranked_retrieval`` returns values for."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return [item for item, label in zip(ids, labels) if counts[label] > 1]


def retrieval_per_item(ids: Sequence[str], labels: Sequence[str],
                       per_query: tuple[np.ndarray, np.ndarray]) -> dict[str, dict[str, list]]:
    """R-precision and AP entries of a leave-one-out label retrieval's (R-precisions, APs) over ``ids``."""
    queried = queried_items(ids, labels)
    return {"r_precision": per_item(queried, per_query[0]), "map": per_item(queried, per_query[1])}


def mirex_per_item(records: Sequence[dict[str, Any]], estimated: Sequence[Key],
                   reference: Sequence[Key]) -> dict[str, list]:
    """Each record's MIREX key score, named by its manifest path."""
    return per_item([str(record["path"]) for record in records], mirex_scores(estimated, reference))


def paired_items(first: Any, second: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Both entries' values over the very same items, in ``first``'s order, else None. Items are matched by id, so
    they may come in another order (a manifest rebuilt on another machine lists its clips in another order) and under
    another data root (every id of one entry under one folder, ``/work/data/...`` against ``data/...``)."""
    if not (isinstance(first, dict) and isinstance(second, dict)) or not first.get("ids") or not second.get("ids"):
        return None
    for name in (lambda ids: ids, _below_common_folder):
        mine, theirs = _by_id(name(first["ids"]), first["values"]), _by_id(name(second["ids"]), second["values"])
        if mine is not None and theirs is not None and mine.keys() == theirs.keys():
            return (np.asarray(list(mine.values()), dtype=float),
                    np.asarray([theirs[item] for item in mine], dtype=float))
    return None


def _by_id(ids: Sequence[str], values: Sequence[float]) -> dict[str, float] | None:
    """Values by id, in order; None when an id repeats or the lengths differ (nothing can be matched then)."""
    if len(ids) != len(values) or len(set(ids)) != len(ids):
        return None
    return dict(zip(ids, values))


def _below_common_folder(ids: Sequence[str]) -> list[str]:
    """The ids without the leading folders all of them share (their data root)."""
    parts = [str(item).split("/") for item in ids]
    shared = 0
    while all(len(part) > shared + 1 and part[shared] == parts[0][shared] for part in parts):
        shared += 1
    return ["/".join(part[shared:]) for part in parts]
