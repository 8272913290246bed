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


def _semitone_of_bins(sample_rate: int, cents: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Selected FFT bins, the index of the semitone each belongs to, and each semitone's MIDI number, on the pitch
    grid of music tuned ``cents`` from A = 440 Hz."""
    frequencies = np.fft.rfftfreq(FFT_SIZE, 1.0 / sample_rate)
    selected = np.flatnonzero((frequencies >= MIN_HZ) & (frequencies <= MAX_HZ))
    midi = np.round(69 + 12 * np.log2(frequencies[selected] / 440.0) - cents / 100.0).astype(int)
    semitones = np.unique(midi)
    return selected, np.searchsorted(semitones, midi), semitones


def mean_chroma(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(samples,) mono float → (12,) time-averaged chroma, C first, summing to 1 (zeros for silence).

    Power is averaged per semitone (so high semitones, which span more FFT bins, do not count more),
    square-rooted, then folded onto the 12 pitch classes."""
    if samples.size < FFT_SIZE:
        samples = np.pad(samples, (0, FFT_SIZE - samples.size))
    frame_count = 1 + (samples.size - FFT_SIZE) // HOP_SIZE
    semitone_energy = 0.0
    for first in range(0, frame_count, MAX_FRAMES_PER_CHUNK):
        starts = np.arange(first, min(frame_count, first + MAX_FRAMES_PER_CHUNK)) * HOP_SIZE
        semitones, energy = frames_semitone_energy(np.stack([samples[start:start + FFT_SIZE] for start in starts]),
                                                   sample_rate)
        semitone_energy = semitone_energy + energy
    return folded_chroma(semitones, semitone_energy)


def frames_semitone_energy(frames: np.ndarray, sample_rate: int, cents: float = 0.0
                           ) -> tuple[np.ndarray, np.ndarray]:
    """(each semitone's MIDI number, its power averaged over its FFT bins and square-rooted, summed over ``frames``)
    of ``frames`` (n, ``FFT_SIZE``), Hann-windowed here, on the pitch grid of music tuned ``cents`` from 440 Hz."""
    selected, semitone_index, semitones = _semitone_of_bins(sample_rate, cents)
    bins_per_semitone = np.bincount(semitone_index, minlength=semitones.size)
    power = np.abs(np.fft.rfft(frames * np.hanning(FFT_SIZE).astype(np.float32), axis=1))[:, selected] ** 2
    per_semitone = np.stack([np.bincount(semitone_index, weights=row, minlength=semitones.size) for row in power])
    return semitones, np.sqrt(per_semitone / bins_per_semitone).sum(axis=0)


def folded_chroma(semitones: np.ndarray, semitone_energy: np.ndarray) -> np.ndarray:
    """Semitone energies folded onto the 12 pitch classes, C first, summing to 1 (zeros for silence)."""
    chroma = np.bincount(semitones % 12, weights=semitone_energy, minlength=12)
    total = chroma.sum()
    return chroma / total if total > 0 else chroma


def key_scores_from_chroma(chroma: np.ndarray, profiles: tuple[np.ndarray, np.ndarray] = (MAJOR_PROFILE, MINOR_PROFILE)
                           ) -> np.ndarray:
    """(12,) chroma → (24,) correlations with the major and minor ``profiles`` (tonic first; default Krumhansl &
    Kessler's) rotated to each tonic, in the engine's class order (major 0..11, minor 12..23)."""
    scores = np.zeros(KEY_CLASS_COUNT)
    for tonic in range(12):
        for offset, profile in zip((0, 12), profiles):
            rotated = np.roll(profile, tonic)
            scores[offset + tonic] = 0.0 if chroma.std() == 0 else np.corrcoef(chroma, rotated)[0, 1]
    return scores


def estimate_key(samples: np.ndarray, sample_rate: int) -> Key:
    return key_from_index(int(np.argmax(key_scores_from_chroma(mean_chroma(samples, sample_rate)))))
