"""Bootstrap confidence intervals for per-query evaluation figures, and for the paired difference of two
methods scored on the same queries: the interval says whether a gap is more than which queries were drawn."""

from __future__ import annotations

from typing import Any

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 5


def _interval(values: np.ndarray) -> list[float]:
    tail = (1.0 - CONFIDENCE) / 2
    return [float(np.quantile(values, tail)), float(np.quantile(values, 1.0 - tail))]


def bootstrap_means(per_query: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, Any]:
    """Mean of ``per_query`` (queries,) with a percentile bootstrap interval over resampled queries."""
    per_query = np.asarray(per_query, dtype=float)
    if per_query.size == 0:
        return {"mean": float("nan"), "ci95": [float("nan"), float("nan")], "queries": 0}
    draws = np.random.default_rng(seed).integers(0, per_query.size, size=(resamples, per_query.size))
    return {"mean": float(per_query.mean()), "ci95": _interval(per_query[draws].mean(axis=1)),
            "queries": int(per_query.size)}


def upper_bound_of_mean(per_unit: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """One-sided ``CONFIDENCE`` upper bound of the mean over resampled units, per column of ``per_unit``
    (units, columns): how high the mean could be on another draw of units (e.g. soundtracks)."""
    per_unit = np.asarray(per_unit, dtype=float)
    if per_unit.ndim == 1:
        per_unit = per_unit[:, None]
    draws = np.random.default_rng(seed).integers(0, per_unit.shape[0], size=(resamples, per_unit.shape[0]))
    return np.quantile(per_unit[draws].mean(axis=1), CONFIDENCE, axis=0)


def paired_difference(first: np.ndarray, second: np.ndarray, resamples: int = RESAMPLES,
                      seed: int = SEED) -> dict[str, Any]:
    """``first - second`` on the same queries, the same resampled queries for both (a paired bootstrap);
    ``above_zero`` / ``below_zero`` say whether the whole interval lies on one side of 0."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if first.shape != second.shape:
        raise ValueError(f"paired difference needs the same queries: {first.shape} vs {second.shape}")
    summary = bootstrap_means(first - second, resamples, seed)
    low, high = summary["ci95"]
    return {**summary, "above_zero": bool(low > 0), "below_zero": bool(high < 0)}


def retrieval_with_intervals(r_precisions: np.ndarray, average_precisions: np.ndarray) -> dict[str, Any]:
    """The report's same-label retrieval entry: means as before, plus their 95 % intervals."""
    rp, ap = bootstrap_means(r_precisions), bootstrap_means(average_precisions)
    return {"r_precision": rp["mean"], "map": ap["mean"], "queries": rp["queries"],
            "r_precision_ci95": rp["ci95"], "map_ci95": ap["ci95"]}


def retrieval_difference(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """Paired differences of two methods' per-query (R-precisions, APs) on the same queries."""
    return {"r_precision": paired_difference(first[0], second[0]), "map": paired_difference(first[1], second[1])}
