"""Landmarks computed the faster way are bit for bit those of the formulations they replaced, so stored landmarks
stay valid: peaks from the band magnitude with only the loud values turned into dB, and each anchor's targets
picked from one array instead of offset by offset."""

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


def _reference_targets(peak_frames: np.ndarray, peak_bins: np.ndarray) -> np.ndarray:
    """Each anchor's targets as landmarks picked them before: offset by offset, nearer ones first."""
    count = peak_frames.size
    targets = np.full((count, landmarks.TARGETS_PER_ANCHOR), -1, dtype=np.int64)
    found = np.zeros(count, dtype=np.int64)
    for offset in range(1, count):
        gaps = peak_frames[offset:] - peak_frames[:-offset]
        if gaps.min() > landmarks.TARGET_MAX_FRAMES:
            break
        in_zone = (gaps >= landmarks.TARGET_MIN_FRAMES) & (gaps <= landmarks.TARGET_MAX_FRAMES)
        in_zone &= np.abs(peak_bins[offset:] - peak_bins[:-offset]) <= landmarks.TARGET_MAX_BINS
        anchors = np.nonzero(in_zone & (found[: count - offset] < landmarks.TARGETS_PER_ANCHOR))[0]
        targets[anchors, found[anchors]] = anchors + offset
        found[anchors] += 1
    return targets


def test_targets_equal_those_picked_offset_by_offset():
    for name, samples in _signals(16000).items():
        peak_frames, peak_bins = landmarks._peaks(landmarks._band_magnitude(np.asarray(samples, np.float32), 16000))
        expected = _reference_targets(peak_frames, peak_bins)
        assert np.array_equal(landmarks._nearest_targets(peak_frames, peak_bins), expected), name
    rng = np.random.default_rng(9)  # dense, clustered and sparse peaks; equal times and far-apart bins
    for size in (0, 1, 2, 5, 40, 400):
        peak_frames = np.sort(rng.integers(0, max(1, size * 4), size))
        peak_bins = rng.integers(0, 247, size)
        expected = _reference_targets(peak_frames, peak_bins)
        assert np.array_equal(landmarks._nearest_targets(peak_frames, peak_bins), expected), size
        assert size < 40 or (expected >= 0).sum() > size  # the comparison saw many targets
