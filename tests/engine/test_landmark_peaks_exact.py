"""Landmark peaks taken from the band magnitude, with only the loud values turned into dB, are bit for bit the
peaks of the whole dB spectrogram (the formulation they replaced), so stored landmarks stay valid."""

from __future__ import annotations

import numpy as np
import pytest

import audio_factory
from engine import landmarks
from engine.keys import key_from_index


def _reference_spectrum_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The dB spectrogram as landmarks computed it before: every value of the band in dB."""
    fft_size = int(round(landmarks.FFT_SECONDS * sample_rate))
    hop = landmarks.FRAME_SECONDS * sample_rate
    frame_count = int((samples.size - fft_size) // hop) + 1
    starts = np.round(np.arange(frame_count) * hop).astype(np.int64)
    frames = samples[starts[:, None] + np.arange(fft_size)[None, :]]
    magnitude = np.abs(np.fft.rfft(frames * np.hanning(fft_size), axis=1))
    low = int(np.ceil(landmarks.LOW_HZ * landmarks.FFT_SECONDS))
    high = min(int(landmarks.HIGH_HZ * landmarks.FFT_SECONDS), magnitude.shape[1] - 1)
    return (20 * np.log10(magnitude[:, low : high + 1] + 1e-6)).astype(np.float32)


def _reference_peaks(spectrum_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    neighbourhood = landmarks._running_max(landmarks._running_max(spectrum_db, landmarks.PEAK_NEIGHBOURHOOD_FRAMES, 0),
                                           landmarks.PEAK_NEIGHBOURHOOD_BINS, 1)
    floor = np.median(spectrum_db.ravel()[:: landmarks.FLOOR_SAMPLE_STEP]) + landmarks.PEAK_FLOOR_DB
    frames, bins = np.nonzero((spectrum_db == neighbourhood) & (spectrum_db > floor))
    budget = max(1, int(round(landmarks.PEAKS_PER_SECOND * spectrum_db.shape[0] * landmarks.FRAME_SECONDS)))
    if frames.size > budget:
        strongest = np.argsort(spectrum_db[frames, bins])[::-1][:budget]
        frames, bins = frames[strongest], bins[strongest]
    order = np.lexsort((bins, frames))
    return frames[order], bins[order]


def _tones_near_the_floor(sample_rate: int, seconds: float = 6.0) -> np.ndarray:
    """A few short tones over noise, their peaks from a little below to a little above the floor (median + 10 dB),
    fewer than the peak budget: so peaks whose dB value lies just above the floor decide the outcome."""
    rng = np.random.default_rng(7)
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    samples = audio_factory.noise(seconds, seed=8, sample_rate=sample_rate, amplitude=0.01).astype(np.float64)
    for _ in range(int(3 * seconds)):
        start = rng.uniform(0, seconds - 0.5)
        on = (time >= start) & (time < start + 0.5)
        samples[on] += 10 ** rng.uniform(-3.0, -1.9) * np.sin(2 * np.pi * rng.uniform(200, 3800) * time[on])
    return samples.astype(np.float32)


def _signals(sample_rate: int) -> dict[str, np.ndarray]:
    music = audio_factory.chord_progression(key_from_index(5), 6.0, sample_rate=sample_rate)
    return {
        "music": music,
        "quiet music": (music * 1e-4).astype(np.float32),
        "melody over noise": (audio_factory.random_melody(6.0, seed=3, sample_rate=sample_rate)
                              + audio_factory.noise(6.0, seed=4, sample_rate=sample_rate, amplitude=0.05)),
        "tones near the floor": _tones_near_the_floor(sample_rate),
        "tone": audio_factory.tone(440.0, 6.0, sample_rate=sample_rate),
        "silence": np.zeros(6 * sample_rate, dtype=np.float32),
    }


@pytest.mark.parametrize("sample_rate", [16000, 22050])  # a whole and a fractional hop in samples
def test_peaks_equal_those_of_the_whole_db_spectrogram(sample_rate):
    for name, samples in _signals(sample_rate).items():
        samples = np.asarray(samples, dtype=np.float32)
        expected = _reference_peaks(_reference_spectrum_db(samples, sample_rate))
        actual = landmarks._peaks(landmarks._band_magnitude(samples, sample_rate))
        assert np.array_equal(actual[0], expected[0]) and np.array_equal(actual[1], expected[1]), name
        if name != "silence":
            assert actual[0].size > 10, name  # the comparison saw real peaks


def test_band_magnitude_in_db_is_the_reference_spectrogram():
    samples = np.asarray(_signals(16000)["music"], dtype=np.float32)
    actual = landmarks._decibels(landmarks._band_magnitude(samples, 16000))
    assert np.array_equal(actual, _reference_spectrum_db(samples, 16000))
