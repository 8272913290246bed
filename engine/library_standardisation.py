"""Library-level standardisation of embeddings: what makes two tracks alike is judged against the library.

Before cosine search, every stored embedding and every query is centred on the library's mean and scaled by its
per-dimension spread, then L2-normalised, as the log-mel baseline of `engine eval` does with its own statistics.
Dimensions on which the whole library agrees stop dominating the cosine; on held-out soundtracks this added about 4
points of same-soundtrack R-precision to the learned embedding (BENCHMARKS.md, "Which track embedding generalises"). A
small library says little about its own spread, so the moments are shrunk towards "no change" (mean 0, the average
spread on every dimension) with the weight of ``PRIOR_TRACKS`` tracks.

Pure numpy: the vector index turns the moments into a FAISS pre-transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRIOR_TRACKS = 20  # a library of 20 tracks gets half its own moments, half "no change"
MIN_SPREAD_SHARE = 1e-3  # a dimension's scale never drops below this share of the average spread
REFIT_GROWTH = 1.25  # the index refits the moments once the library has grown by a quarter since the last fit


@dataclass(frozen=True)
class Standardisation:
    """``(vector - mean) / scale`` per dimension; ``fitted_on`` is the number of tracks the moments came from."""

    mean: np.ndarray  # (dimension,) float32
    scale: np.ndarray  # (dimension,) float32, > 0
    fitted_on: int

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """(count, dimension) → standardised and L2-normalised float32 rows (zero rows stay zero)."""
        standardised = (np.asarray(vectors, dtype=np.float32) - self.mean) / self.scale
        norms = np.linalg.norm(standardised, axis=1, keepdims=True)
        return (standardised / np.maximum(norms, 1e-12)).astype(np.float32)

    def needs_refit(self, track_count: int) -> bool:
        return track_count > self.fitted_on * REFIT_GROWTH


class RunningMoments:
    """Per-dimension mean and variance of rows added batch by batch (Chan et al.'s pairwise update, in float64),
    so the vector index fits a library's moments while reading its embeddings in bounded batches."""

    def __init__(self, dimension: int) -> None:
        self.count = 0
        self.mean = np.zeros(dimension, dtype=np.float64)
        self._squared_deviations = np.zeros(dimension, dtype=np.float64)  # sum over rows of (x - mean)^2

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float64)
        added = len(vectors)
        if added == 0:
            return
        batch_mean = vectors.mean(axis=0)
        total = self.count + added
        delta = batch_mean - self.mean
        self._squared_deviations += ((vectors - batch_mean) ** 2).sum(axis=0) + delta ** 2 * (self.count * added / total)
        self.mean += delta * (added / total)
        self.count = total

    def standardisation(self) -> Standardisation:
        """The moments so far, shrunk towards "no change" (mean 0, every dimension scaled by the average spread,
        which leaves cosines as they were) with ``PRIOR_TRACKS`` of weight."""
        dimension = len(self.mean)
        if self.count == 0:
            return Standardisation(np.zeros(dimension, np.float32), np.ones(dimension, np.float32), 0)
        own_weight = self.count / (self.count + PRIOR_TRACKS)
        variance = self._squared_deviations / self.count
        average_variance = float(variance.mean()) if variance.mean() > 0 else 1.0
        floored = np.maximum(variance, (MIN_SPREAD_SHARE ** 2) * average_variance)
        # shrunk on a log scale, so a dimension far quieter than the average keeps its own spread in a large library
        scale = np.exp(0.5 * (own_weight * np.log(floored) + (1.0 - own_weight) * np.log(average_variance)))
        mean = own_weight * self.mean
        return Standardisation(mean.astype(np.float32), scale.astype(np.float32), self.count)


def fit_standardisation(vectors: np.ndarray) -> Standardisation:
    """Moments of ``vectors`` (count, dimension), shrunk as ``RunningMoments.standardisation`` says."""
    vectors = np.asarray(vectors)
    moments = RunningMoments(vectors.shape[1])
    moments.add(vectors)
    return moments.standardisation()
