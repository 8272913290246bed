"""How far a track's tuning lies from A = 440 Hz, in cents, so the key can be read on the track's own pitch grid.

The key path reads a log-frequency spectrogram whose bins sit on the equal-tempered grid of A = 440 Hz. Music
tuned away from it (A = 432 or 445 Hz, a record played a little fast, a tape that ran slow) puts its notes between
the bins, and the key head then often reads the neighbouring key: on the validation renders of the v1.3.3 model,
MIREX fell from 89 % in tune to 84 % at +20 cents and to 43 % at +35 cents (BENCHMARKS.md, "Tuning"). So the
tuning is estimated from the spectral peaks of the windows the key reads and the key's filterbank follows it
(``engine.networks.LogFrequencySpectrogram``); an equal-tempered piece in tune gives about 0 and is read as before.

Each spectral peak's frequency (parabolic interpolation on the log magnitude of a 256 ms frame) gives its offset
from the nearest equal-tempered semitone, a point on a circle of 100 cents; the tuning is where those points pile
up most (the mode of their magnitude-weighted histogram, refined by the mean around it). Their resultant length
says how much the peaks agree: noise and drums scatter around the circle, and below ``MIN_AGREEMENT`` the tuning is
taken as 0. Pure numpy: it runs wherever windows do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_SECONDS = 0.256  # 4096 samples at 16 kHz: 3.9 Hz bins, fine enough above LOW_HZ once peaks are interpolated
LOW_HZ = 130.0  # below this a bin spans more than half a semitone and partials of low notes crowd each other
HIGH_HZ = 4000.0
PEAK_RANGE_DB = 40.0  # peaks within this much of their frame's strongest one count
MIN_AGREEMENT = 0.2  # resultant length below which the peaks do not agree on a tuning (noise, drums, glides)
MIN_PEAKS = 20
REFERENCE_HZ = 440.0
MODE_SMOOTHING_CENTS = 3  # the histogram's smoothing (standard deviation)
MODE_REACH_CENTS = 10  # the tuning is the mean of the offsets within this much of the histogram's mode


@dataclass(frozen=True)
class TuningEstimate:
    """``cents`` from A = 440 Hz equal temperament in [-50, 50) (0 when the peaks do not agree), the peaks'
    ``agreement`` (resultant length, 0–1) and how many peaks were read."""

    cents: float
    agreement: float
    peaks: int


def estimate_tuning(windows: np.ndarray, sample_rate: int) -> TuningEstimate:
    """The tuning of ``windows`` (count, samples) or (samples,) of one track, mono float at ``sample_rate``."""
    frames = _frames(np.atleast_2d(np.asarray(windows, dtype=np.float32)), int(round(FRAME_SECONDS * sample_rate)))
    if frames.shape[0] == 0:
        return TuningEstimate(0.0, 0.0, 0)
    size = frames.shape[1]
    magnitude = np.abs(np.fft.rfft(frames * np.hanning(size).astype(np.float32), axis=1))
    low, high = int(np.ceil(LOW_HZ * size / sample_rate)), int(HIGH_HZ * size / sample_rate)
    decibels = 20 * np.log10(magnitude[:, low - 1 : high + 2] + 1e-9)
    centre, left, right = decibels[:, 1:-1], decibels[:, :-2], decibels[:, 2:]
    frame_peak = centre.max(axis=1, keepdims=True)
    is_peak = (centre > left) & (centre >= right) & (centre >= frame_peak - PEAK_RANGE_DB) & np.isfinite(frame_peak)
    rows, columns = np.nonzero(is_peak)
    if rows.size < MIN_PEAKS:
        return TuningEstimate(0.0, 0.0, int(rows.size))
    alpha, beta, gamma = left[rows, columns], centre[rows, columns], right[rows, columns]
    curvature = alpha - 2 * beta + gamma
    offset = np.where(curvature < 0, 0.5 * (alpha - gamma) / np.where(curvature < 0, curvature, -1.0), 0.0)
    frequency = (low + columns + offset) * sample_rate / size
    offsets = (1200 * np.log2(frequency / REFERENCE_HZ) + 50) % 100 - 50  # from the nearest semitone, [-50, 50)
    weight = 10 ** (beta / 20)
    agreement = abs(_resultant(offsets, weight))
    if agreement < MIN_AGREEMENT:
        return TuningEstimate(0.0, float(agreement), int(rows.size))
    mode = _histogram_mode(offsets, weight)
    near = np.abs((offsets - mode + 50) % 100 - 50) <= MODE_REACH_CENTS
    tuning = float(np.angle(_resultant(offsets[near], weight[near])) * 100 / (2 * np.pi))
    return TuningEstimate(min(tuning, 49.999), float(agreement), int(rows.size))


def _resultant(offsets: np.ndarray, weight: np.ndarray) -> complex:
    """The weighted mean of the offsets as points on a circle of 100 cents (its length: how much they agree)."""
    angle = 2 * np.pi * offsets / 100
    return complex(np.sum(weight * np.cos(angle)), np.sum(weight * np.sin(angle))) / max(float(np.sum(weight)), 1e-12)


def _histogram_mode(offsets: np.ndarray, weight: np.ndarray) -> float:
    """The most weighted offset (cents) of a circular 1-cent histogram smoothed over a few cents: the partials of
    in-tune notes that are not equal-tempered (5th harmonic -14, 7th -31 cents) spread out, the fundamentals and
    octaves pile up, so the mode is where the notes are where a mean would be pulled aside."""
    histogram = np.bincount(np.floor(offsets + 50).astype(np.int64) % 100, weights=weight, minlength=100)
    reach = np.arange(-3 * MODE_SMOOTHING_CENTS, 3 * MODE_SMOOTHING_CENTS + 1)
    kernel = np.exp(-0.5 * (reach / MODE_SMOOTHING_CENTS) ** 2)
    smoothed = sum(k * np.roll(histogram, int(r)) for r, k in zip(reach, kernel))
    return float(np.argmax(smoothed)) - 50 + 0.5


def _frames(windows: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping frames of ``size`` samples from each window: (frames, size); silent frames left out."""
    count = windows.shape[1] // size
    if count == 0:
        return np.zeros((0, size), np.float32)
    frames = windows[:, : count * size].reshape(-1, size)
    return frames[np.abs(frames).max(axis=1) > 1e-4]
