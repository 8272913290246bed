"""The Krumhansl–Schmuckler key finder on a spectrogram chroma: the floor a learned key model must beat.

Chroma: STFT power between ``MIN_HZ`` and ``MAX_HZ`` averaged per semitone, square-rooted, folded onto
pitch classes and summed over time. Key: the highest Pearson correlation of that chroma with the Krumhansl–Kessler
major/minor profiles rotated to each of the 12 tonics.
"""

from __future__ import annotations

import numpy as np

from engine.keys import KEY_CLASS_COUNT, Key, key_from_index

FFT_SIZE = 8192
HOP_SIZE = 4096
MIN_HZ = 55.0
# Measured on rendered clips: above ~1 kHz the harmonics (fifths, sevenths) outweigh the notes themselves.
MAX_HZ = 1000.0
MAX_FRAMES_PER_CHUNK = 512  # bounds memory on long tracks
# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def _semitone_of_bins(sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Selected FFT bins, the index of the semitone each belongs to, and each semitone's MIDI number."""
    frequencies = np.fft.rfftfreq(FFT_SIZE, 1.0 / sample_rate)
    selected = np.flatnonzero((frequencies >= MIN_HZ) & (frequencies <= MAX_HZ))
    midi = np.round(69 + 12 * np.log2(frequencies[selected] / 440.0)).astype(int)
    semitones = np.unique(midi)
    return selected, np.searchsorted(semitones, midi), semitones


def mean_chroma(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(samples,) mono float → (12,) time-averaged chroma, C first, summing to 1 (zeros for silence).

    Power is averaged per semitone (so high semitones, which span more FFT bins, do not count more),
    square-rooted, then folded onto the 12 pitch classes."""
    if samples.size < FFT_SIZE:
        samples = np.pad(samples, (0, FFT_SIZE - samples.size))
    window = np.hanning(FFT_SIZE).astype(np.float32)
    selected, semitone_index, semitones = _semitone_of_bins(sample_rate)
    bins_per_semitone = np.bincount(semitone_index, minlength=semitones.size)
    frame_count = 1 + (samples.size - FFT_SIZE) // HOP_SIZE
    semitone_energy = np.zeros(semitones.size)
    for first in range(0, frame_count, MAX_FRAMES_PER_CHUNK):
        starts = np.arange(first, min(frame_count, first + MAX_FRAMES_PER_CHUNK)) * HOP_SIZE
        frames = np.stack([samples[start:start + FFT_SIZE] for start in starts]) * window
        power = np.abs(np.fft.rfft(frames, axis=1))[:, selected] ** 2
        per_semitone = np.stack([np.bincount(semitone_index, weights=row, minlength=semitones.size) for row in power])
        semitone_energy += np.sqrt(per_semitone / bins_per_semitone).sum(axis=0)
    chroma = np.bincount(semitones % 12, weights=semitone_energy, minlength=12)
    total = chroma.sum()
    return chroma / total if total > 0 else chroma


def key_scores_from_chroma(chroma: np.ndarray) -> np.ndarray:
    """(12,) chroma → (24,) correlations in the engine's class order (major 0..11, minor 12..23)."""
    scores = np.zeros(KEY_CLASS_COUNT)
    for tonic in range(12):
        for offset, profile in ((0, MAJOR_PROFILE), (12, MINOR_PROFILE)):
            rotated = np.roll(profile, tonic)
            scores[offset + tonic] = 0.0 if chroma.std() == 0 else np.corrcoef(chroma, rotated)[0, 1]
    return scores


def estimate_key(samples: np.ndarray, sample_rate: int) -> Key:
    return key_from_index(int(np.argmax(key_scores_from_chroma(mean_chroma(samples, sample_rate)))))
