"""Project embeddings to 2-D for the map: PCA (the two directions of largest variance)."""

from __future__ import annotations

import numpy as np


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` (N, D) → (N, 2) float32 coordinates along the two main axes of variation.

    Uses the D×D covariance, so the cost is O(N·D²) with no N×N matrix: 100k × 512 takes about a
    second. Fewer than two tracks (or a flat cloud) give zeros rather than an error.
    """
    count = vectors.shape[0]
    if count < 2 or vectors.ndim != 2:
        return np.zeros((count, 2), dtype=np.float32)
    centred = vectors.astype(np.float32, copy=False) - vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
    covariance = centred.T @ centred / np.float32(count - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance.astype(np.float64))
    axes = eigenvectors[:, ::-1][:, :2].astype(np.float32)  # eigh sorts ascending
    # Fix each axis's sign so the same library gives the same picture on every run.
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), [0, 1]])
    axes = axes * np.where(signs == 0, 1, signs)
    return centred @ axes
