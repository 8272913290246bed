"""Evaluation metrics as pure functions: key accuracy / MIREX score, retrieval (R-precision, mAP,
top-1, shared-label precision@k), and average precision for tags."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.keys import Key, mirex_key_score


def key_metrics(estimated: Sequence[Key], reference: Sequence[Key]) -> dict[str, float]:
    """Exact accuracy and mean MIREX weighted score, both in [0, 1]."""
    if not reference:
        return {"accuracy": float("nan"), "mirex": float("nan"), "count": 0}
    exact = [e == r for e, r in zip(estimated, reference)]
    return {"accuracy": float(np.mean(exact)), "mirex": float(np.mean(mirex_scores(estimated, reference))),
            "count": len(reference)}


def mirex_scores(estimated: Sequence[Key], reference: Sequence[Key]) -> list[float]:
    """The MIREX weighted score of each estimate against its reference key."""
    return [mirex_key_score(e, r) for e, r in zip(estimated, reference)]


def cosine_similarities(queries: np.ndarray, database: np.ndarray) -> np.ndarray:
    """(Q, D), (N, D) → (Q, N) cosine similarities."""
    q = queries / (np.linalg.norm(queries, axis=1, keepdims=True) + 1e-12)
    d = database / (np.linalg.norm(database, axis=1, keepdims=True) + 1e-12)
    return q @ d.T


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """AP of a ranking by descending ``scores`` against boolean ``relevant``; nan when nothing is relevant."""
    relevant = np.asarray(relevant, dtype=bool)
    if not relevant.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = relevant[order]
    precision_at_hit = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hit.mean())


def per_query_label_retrieval(embeddings: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out retrieval by cosine similarity; see ``per_query_ranked_retrieval``."""
    return per_query_ranked_retrieval(cosine_similarities(embeddings, embeddings), labels)


def per_query_ranked_retrieval(similarities: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out retrieval from an (items, items) score matrix, one value per query that has a relevant item:
    (R-precisions, APs). R-precision = share of relevant items among the top R (R = number of other items sharing
    the query's label)."""
    labels_array = np.asarray(labels)
    r_precisions, average_precisions = [], []
    for index in range(len(labels_array)):
        others = np.arange(len(labels_array)) != index
        relevant = labels_array[others] == labels_array[index]
        count = int(relevant.sum())
        if count == 0:
            continue
        scores = similarities[index, others]
        top = np.argsort(-scores, kind="stable")[:count]
        r_precisions.append(relevant[top].mean())
        average_precisions.append(average_precision(scores, relevant))
    return np.asarray(r_precisions, dtype=float), np.asarray(average_precisions, dtype=float)


def same_label_retrieval(embeddings: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Mean R-precision and mAP of ``per_query_label_retrieval``."""
    r_precisions, average_precisions = per_query_label_retrieval(embeddings, labels)
    return {
        "r_precision": float(r_precisions.mean()) if r_precisions.size else float("nan"),
        "map": float(average_precisions.mean()) if average_precisions.size else float("nan"),
        "queries": int(r_precisions.size),
    }


def shared_label_precision_at_k(
    queries: np.ndarray, query_labels: Sequence[set[str]], query_groups: Sequence[str],
    candidates: np.ndarray, candidate_labels: Sequence[set[str]], candidate_groups: Sequence[str], k: int = 10,
) -> dict[str, float]:
    """Each query ranks the candidates by cosine similarity, skipping those of its own group (its album, so
    itself too); precision@k = share of its ``k`` nearest that share at least one label with it (multi-label,
    unlike ``same_label_retrieval``). Queries with fewer than ``k`` candidates outside their group are skipped."""
    similarities = cosine_similarities(queries, candidates)
    groups = np.asarray(candidate_groups)
    precisions = []
    for index, labels in enumerate(query_labels):
        allowed = np.flatnonzero(groups != query_groups[index])
        if not labels or allowed.size < k:
            continue
        nearest = allowed[np.argsort(-similarities[index, allowed], kind="stable")[:k]]
        precisions.append(np.mean([bool(labels & candidate_labels[other]) for other in nearest]))
    return {"precision": float(np.mean(precisions)) if precisions else float("nan"), "k": k, "queries": len(precisions)}


def top1_retrieval(queries: np.ndarray, database: np.ndarray, targets: Sequence[int]) -> dict[str, float]:
    """Share of queries whose nearest database item is their target, and the mean reciprocal rank."""
    return top1_summary(target_ranks(queries, database, targets))


def target_ranks(queries: np.ndarray, database: np.ndarray, targets: Sequence[int]) -> np.ndarray:
    """Each query's rank of its target among the database items by cosine similarity (1: the nearest)."""
    similarities = cosine_similarities(queries, database)
    return np.asarray([int((row > row[target]).sum()) + 1 for row, target in zip(similarities, targets)])


def top1_summary(ranks: np.ndarray) -> dict[str, float]:
    """``top1_retrieval``'s figures from the ranks ``target_ranks`` gives."""
    return {"top1": float(np.mean(ranks == 1)), "mrr": float(np.mean(1.0 / ranks)), "queries": len(ranks)}


def version_pair_retrieval(embeddings: np.ndarray, pair_ids: Sequence[str]) -> dict[str, float]:
    """For each item with a partner (same non-empty pair id): is the partner its nearest other item?"""
    pair_array = np.asarray(pair_ids)
    similarities = cosine_similarities(embeddings, embeddings)
    np.fill_diagonal(similarities, -np.inf)
    ranks = []
    for index, pair in enumerate(pair_array):
        if not pair:
            continue
        partners = np.flatnonzero((pair_array == pair) & (np.arange(len(pair_array)) != index))
        if partners.size == 0:
            continue
        best_partner = similarities[index, partners].max()
        ranks.append(int((similarities[index] > best_partner).sum()) + 1)
    if not ranks:
        return {"top1": float("nan"), "mrr": float("nan"), "queries": 0}
    ranks_array = np.asarray(ranks)
    return {"top1": float(np.mean(ranks_array == 1)), "mrr": float(np.mean(1.0 / ranks_array)), "queries": len(ranks)}
