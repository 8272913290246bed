"""Which metrical level is the beat: a small learned scorer over the candidate tempi of one onset envelope.

The autocorrelation of an onset envelope peaks at the beat period and also at the bar, the half bar and the
eighth-note subdivision, so the strongest comb is often half, double or a third of the tempo a listener taps
(the usual failure of tempo estimators). Rules ("double it when the off-beats are strong") were tuned by hand
before; here a tiny MLP scores each candidate from features of its comb and of its relatives' combs, and the
best-scoring candidate is the beat. It was trained on the generated corpus's exact tempo labels (train split,
chosen on val; benchmarks/experiments/tempo_level_training.py) and ships as ``tempo_level.json`` beside this module: plain
numbers read with ``json``, validated (shapes, finite values) before use, so a damaged file is an error, never
executed code. Pure numpy, like ``engine.tempo``: it runs in the torch-free decode workers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

LEVEL_WEIGHTS_PATH = Path(__file__).with_name("tempo_level.json")
LEVEL_FACTORS = (1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0, 4.0)  # relatives of the strongest comb that may be the beat
FEATURE_NAMES = (
    "octaves_from_centre", "octaves_squared", "salience", "salience_double", "salience_half", "salience_triple",
    "salience_third", "offbeat_share", "triplet_share", "first_lag",
)
CENTRE_BPM = 110.0  # log-tempo features are measured from here (a learned prior: its weights say how far to trust)
FORMAT_VERSION = 1


class LevelWeightsError(ValueError):
    """The metrical-level weights file is missing, unreadable or malformed; ``reason`` says which."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"tempo level weights {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class LevelScorer:
    """A one-hidden-layer MLP over standardised candidate features: score = w2 · relu(W1 · z + b1) + b2."""

    mean: np.ndarray  # (features,)
    scale: np.ndarray  # (features,)
    hidden_weights: np.ndarray  # (hidden, features)
    hidden_bias: np.ndarray  # (hidden,)
    output_weights: np.ndarray  # (hidden,)
    output_bias: float

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Score (candidates,) of each candidate's features (candidates, features); the highest is the beat."""
        standardised = (features - self.mean) / self.scale
        hidden = np.maximum(standardised @ self.hidden_weights.T + self.hidden_bias, 0.0)
        return hidden @ self.output_weights + self.output_bias

    def to_json(self) -> dict:
        return {"format_version": FORMAT_VERSION, "features": list(FEATURE_NAMES), "factors": list(LEVEL_FACTORS),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "hidden_weights": self.hidden_weights.tolist(), "hidden_bias": self.hidden_bias.tolist(),
                "output_weights": self.output_weights.tolist(), "output_bias": float(self.output_bias)}


def scorer_from_json(data: object, path: Path = LEVEL_WEIGHTS_PATH) -> LevelScorer:
    """A ``LevelScorer`` from parsed JSON, checked: the feature list this code computes, matching shapes, finite
    numbers. Raises ``LevelWeightsError``."""
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise LevelWeightsError(path, f"not a format {FORMAT_VERSION} weights object")
    if data.get("features") != list(FEATURE_NAMES):
        raise LevelWeightsError(path, "its features are not the ones this version computes")
    try:
        arrays = {name: np.asarray(data[name], dtype=np.float64)
                  for name in ("mean", "scale", "hidden_weights", "hidden_bias", "output_weights", "output_bias")}
    except (KeyError, TypeError, ValueError) as error:
        raise LevelWeightsError(path, f"missing or non-numeric field ({error})") from None
    count = len(FEATURE_NAMES)
    hidden = arrays["hidden_bias"].shape[0] if arrays["hidden_bias"].ndim == 1 else -1
    expected = {"mean": (count,), "scale": (count,), "hidden_weights": (hidden, count), "hidden_bias": (hidden,),
                "output_weights": (hidden,), "output_bias": ()}
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise LevelWeightsError(path, f"{name} has shape {arrays[name].shape}, expected {shape}")
        if not np.all(np.isfinite(arrays[name])):
            raise LevelWeightsError(path, f"{name} holds a non-finite number")
    if np.any(arrays["scale"] <= 0):
        raise LevelWeightsError(path, "scale must be positive")
    return LevelScorer(arrays["mean"], arrays["scale"], arrays["hidden_weights"], arrays["hidden_bias"],
                       arrays["output_weights"], float(arrays["output_bias"]))


def load_scorer(path: Path = LEVEL_WEIGHTS_PATH) -> LevelScorer:
    """Read and check the weights file. Raises ``LevelWeightsError``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LevelWeightsError(Path(path), str(error)) from None
    return scorer_from_json(data, Path(path))


@lru_cache(maxsize=1)
def shipped_scorer() -> LevelScorer:
    """The scorer shipped with the engine, read once per process."""
    return load_scorer(LEVEL_WEIGHTS_PATH)


def candidate_tempi(strongest_bpm: float, low: float, high: float) -> np.ndarray:
    """The strongest comb's tempo times each of ``LEVEL_FACTORS`` that lies within [low, high]."""
    candidates = np.array([strongest_bpm * factor for factor in LEVEL_FACTORS])
    return candidates[(candidates >= low) & (candidates <= high)]


def candidate_features(correlation: np.ndarray, bpms: np.ndarray, strongest_salience: float,
                       frames_per_second: float, multiples: int) -> np.ndarray:
    """Features (candidates, ``FEATURE_NAMES``) of candidate tempi ``bpms`` on an envelope's ``correlation``.

    Saliences are comb sums over ``multiples`` beat periods divided by the strongest comb's, so they do not
    depend on loudness or on how busy the music is; the shares compare the autocorrelation half-way (and a
    third of the way) between beats with that on the beats."""
    lags = np.arange(correlation.size)
    periods = 60.0 * frames_per_second / bpms
    steps = np.arange(1, multiples + 1)

    def comb(period_scale: float) -> np.ndarray:
        values = np.interp(periods[:, None] * period_scale * steps[None, :], lags, correlation, right=0.0)
        return values.clip(min=0.0).sum(axis=1) / max(strongest_salience, 1e-9)

    def between(fraction: float) -> np.ndarray:
        return np.interp(periods[:, None] * (steps[None, :] - fraction), lags, correlation, right=0.0).clip(min=0.0).sum(axis=1)

    on = np.interp(periods[:, None] * steps[None, :], lags, correlation, right=0.0).clip(min=0.0).sum(axis=1)
    safe_on = np.maximum(on, 1e-9)
    octaves = np.log2(bpms / CENTRE_BPM)
    first = np.interp(periods, lags, correlation, right=0.0)
    return np.stack([
        octaves, octaves ** 2, comb(1.0), comb(0.5), comb(2.0), comb(1 / 3), comb(3.0),
        between(0.5) / safe_on, (between(1 / 3) + between(2 / 3)) / (2 * safe_on), first,
    ], axis=1)


def chosen_level(scorer: LevelScorer, correlation: np.ndarray, strongest_bpm: float, strongest_salience: float,
                 low: float, high: float, frames_per_second: float, multiples: int) -> float:
    """The candidate tempo (a relative of ``strongest_bpm`` within [low, high]) that ``scorer`` rates the beat."""
    candidates = candidate_tempi(strongest_bpm, low, high)
    if candidates.size == 0:
        return strongest_bpm
    features = candidate_features(correlation, candidates, strongest_salience, frames_per_second, multiples)
    scores = scorer.scores(features)
    return float(candidates[int(np.argmax(scores))]) if np.all(np.isfinite(scores)) else strongest_bpm

