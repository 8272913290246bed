"""Probe metrics as pure functions: macro ROC-AUC and average precision for tags, accuracy and MIREX for keys."""

from __future__ import annotations

import numpy as np

from engine.keys import key_from_index, mirex_key_score


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(values.size, dtype=np.float64)
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    for start, count in zip(first, counts):
        ranks[order[start : start + count]] = start + (count + 1) / 2
    return ranks


def roc_auc(scores: np.ndarray, targets: np.ndarray) -> float | None:
    """ROC-AUC of one class (Mann–Whitney U); None when only one class is present."""
    positives = targets > 0.5
    count_positive, count_negative = int(positives.sum()), int((~positives).sum())
    if count_positive == 0 or count_negative == 0:
        return None
    ranks = _average_ranks(scores)
    return float((ranks[positives].sum() - count_positive * (count_positive + 1) / 2) / (count_positive * count_negative))


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float | None:
    """Mean precision at each positive, ranked by score; None without positives."""
    positives = targets > 0.5
    if not positives.any():
        return None
    hits = positives[np.argsort(-scores, kind="mergesort")]
    precision_at = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(precision_at[hits].mean())


def tag_metrics(scores: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Macro ROC-AUC and AP over classes that can be scored; ``scores``/``targets`` (items, classes)."""
    aucs = [value for c in range(targets.shape[1]) if (value := roc_auc(scores[:, c], targets[:, c])) is not None]
    aps = [value for c in range(targets.shape[1]) if (value := average_precision(scores[:, c], targets[:, c])) is not None]
    return {
        "roc_auc": float(np.mean(aucs)) if aucs else float("nan"),
        "average_precision": float(np.mean(aps)) if aps else float("nan"),
        "scored_classes": len(aucs),
    }


def key_metrics(predicted: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Accuracy and mean MIREX weighted score of 24-class key indices (items,)."""
    scores = [mirex_key_score(key_from_index(int(p)), key_from_index(int(r))) for p, r in zip(predicted, reference)]
    return {"accuracy": float(np.mean(predicted == reference)), "mirex": float(np.mean(scores)), "tracks": int(reference.size)}


__all__ = ["average_precision", "key_metrics", "roc_auc", "tag_metrics"]
