"""Baselines and metrics on synthesised audio and toy inputs."""

from __future__ import annotations

import numpy as np
import pytest

from engine.keys import Key
from training.evaluation.chroma_key import estimate_key
from engine.tuning import estimate_tuning
from training.evaluation.corruptions import (
    CORRUPTIONS, DETUNE_CENTS, LOWPASS_HZ, PINK_NOISE_SNR_DB, TELEPHONE_BAND_HZ, corrupted, pitch_shift_by_resampling,
)
from training.evaluation.logmel_embedding import MEL_BANDS, logmel_statistics
from training.evaluation.metrics import (
    average_precision, key_metrics, same_label_retrieval, top1_retrieval, version_pair_retrieval,
)

SAMPLE_RATE = 22050
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11)
PINK_OCTAVE_SPREAD = 1.5  # per-octave noise power (measured within 6 %; white noise doubles per octave)
PASS_BAND_MIN_SHARE = 0.3  # measured 0.49 (reverb + telephone) to 0.85 (low-pass + MP3)
STOP_BAND_MAX_SHARE = 0.01  # measured at most 1e-4
STEADY_TONE_MAX_STD = 0.5  # log units; measured 0.006-0.045 in the tone's band
MIN_CENTROID_SHIFT_BANDS = 8.0  # measured: power centroid at band 9.1, two octaves up at 26.3


def _tone(midi: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    frequency = 440.0 * 2 ** ((midi - 69) / 12)
    return sum(np.sin(2 * np.pi * frequency * h * t) / h**2 for h in (1, 2, 3)) * np.exp(-2 * t)


def _cadence_in(key: Key) -> np.ndarray:
    """Scale up and down, then I–IV–V–I chords, in ``key`` (tonic around middle C)."""
    scale = HARMONIC_MINOR_SCALE if key.mode == "minor" else MAJOR_SCALE
    tonic = 60 + key.pitch_class - (12 if key.pitch_class > 6 else 0)
    notes = [_tone(tonic + step, 0.3) for step in list(scale) + [12] + list(reversed(scale))]
    third = 3 if key.mode == "minor" else 4
    for root in (0, 5, 7, 0):
        chord_third = 4 if root == 7 else third
        notes.append(sum(_tone(tonic + root + i - 12 * (root > 5), 1.0) for i in (0, chord_third, 7)))
    return (np.concatenate(notes) / 3).astype(np.float32)


@pytest.mark.parametrize("key", [Key(0, "major"), Key(7, "major"), Key(9, "minor"), Key(2, "minor"), Key(10, "major")])
def test_chroma_key_finder_names_the_key_of_a_synthesised_cadence(key):
    assert estimate_key(_cadence_in(key), SAMPLE_RATE) == key


def test_resampling_pitch_shift_moves_the_estimated_key_by_the_shift():
    audio = _cadence_in(Key(0, "major"))
    assert estimate_key(pitch_shift_by_resampling(audio, SAMPLE_RATE, 3), SAMPLE_RATE) == Key(3, "major")


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruptions_keep_length_and_change_the_signal(name):
    audio = _cadence_in(Key(0, "major"))[: SAMPLE_RATE * 3]
    corrupted = CORRUPTIONS[name](audio, SAMPLE_RATE, np.random.default_rng(0))
    assert corrupted.shape == audio.shape
    assert not np.allclose(corrupted, audio, atol=1e-3)


def test_the_detuned_condition_moves_the_tuning_within_its_range_both_ways():
    """Measured by the product's own tuning estimate (``engine.tuning``), which is within a few cents on cadences."""
    audio = _cadence_in(Key(0, "major"))
    assert abs(estimate_tuning(audio, SAMPLE_RATE).cents) < 3
    moved = [estimate_tuning(CORRUPTIONS["detuned_15_45_cents"](audio, SAMPLE_RATE, np.random.default_rng(seed)),
                             SAMPLE_RATE).cents for seed in range(8)]
    low, high = DETUNE_CENTS
    assert all(low - 3 < abs(cents) < high + 3 for cents in moved), moved
    assert min(moved) < 0 < max(moved)


def test_a_conditions_draws_do_not_depend_on_which_other_conditions_run():
    """So adding a condition to ``engine eval`` leaves the others' corrupted audio, and their figures, as they were."""
    from training.evaluation.key_breakdown import conditioned

    audio = _cadence_in(Key(5, "major"))[: SAMPLE_RATE * 3]
    alone = conditioned(audio, SAMPLE_RATE, ("clean", "pink_noise_5db"), 0, 7)
    among_others = conditioned(audio, SAMPLE_RATE, ("clean", "detuned_15_45_cents", "reverb_telephone", "pink_noise_5db"),
                               0, 7)
    np.testing.assert_array_equal(alone["pink_noise_5db"], among_others["pink_noise_5db"])
    assert alone["clean"] is audio
    assert not np.array_equal(corrupted(audio, SAMPLE_RATE, "pink_noise_5db", 0, 8), alone["pink_noise_5db"])


def _band_energy(samples: np.ndarray, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    frequencies = np.fft.rfftfreq(samples.size, 1 / SAMPLE_RATE)
    return float(spectrum[(frequencies >= low_hz) & (frequencies < high_hz)].sum())


def test_pink_noise_is_added_at_its_signal_to_noise_ratio():
    audio = _cadence_in(Key(0, "major"))[: SAMPLE_RATE * 3]
    noise = CORRUPTIONS["pink_noise_5db"](audio, SAMPLE_RATE, np.random.default_rng(0)) - audio
    assert 10 * np.log10(np.mean(audio**2) / np.mean(noise**2)) == pytest.approx(PINK_NOISE_SNR_DB, abs=0.05)
    # 1/f: every octave holds about the same power (white noise would double it per octave)
    octaves = [_band_energy(noise, low, 2 * low) for low in (250.0, 500.0, 1000.0, 2000.0)]
    assert max(octaves) / min(octaves) < PINK_OCTAVE_SPREAD


@pytest.mark.parametrize("name, kept, removed", [
    ("lowpass_3k_mp3_48k", (100.0, 2000.0), (LOWPASS_HZ * 2, SAMPLE_RATE / 2)),
    ("reverb_telephone", (TELEPHONE_BAND_HZ[0] * 2, TELEPHONE_BAND_HZ[1] / 2), (TELEPHONE_BAND_HZ[1] * 2, SAMPLE_RATE / 2)),
    ("reverb_telephone", (TELEPHONE_BAND_HZ[0] * 2, TELEPHONE_BAND_HZ[1] / 2), (20.0, TELEPHONE_BAND_HZ[0] / 2)),
])
def test_band_limiting_corruptions_remove_the_band_they_name(name, kept, removed):
    """On white noise (flat spectrum): the pass band keeps most of its energy, the stop band loses almost all."""
    noise = (np.random.default_rng(1).standard_normal(SAMPLE_RATE * 3) * 0.1).astype(np.float32)
    corrupted = CORRUPTIONS[name](noise, SAMPLE_RATE, np.random.default_rng(0))
    assert _band_energy(corrupted, *kept) / _band_energy(noise, *kept) > PASS_BAND_MIN_SHARE
    assert _band_energy(corrupted, *removed) / _band_energy(noise, *removed) < STOP_BAND_MAX_SHARE


def test_key_metrics_count_exact_and_mirex_partial_credit():
    reference = [Key(0, "major")] * 4
    estimated = [Key(0, "major"), Key(7, "major"), Key(9, "minor"), Key(3, "minor")]
    result = key_metrics(estimated, reference)
    assert result["accuracy"] == pytest.approx(0.25)
    assert result["mirex"] == pytest.approx((1 + 0.5 + 0.3 + 0) / 4)


def test_average_precision_of_perfect_and_worst_rankings():
    assert average_precision(np.array([0.9, 0.8, 0.1]), np.array([True, True, False])) == pytest.approx(1.0)
    assert average_precision(np.array([0.9, 0.8, 0.1]), np.array([False, False, True])) == pytest.approx(1 / 3)


def test_same_label_retrieval_is_perfect_for_separated_clusters():
    embeddings = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=float)
    result = same_label_retrieval(embeddings, ["a", "a", "b", "b"])
    assert result["r_precision"] == pytest.approx(1.0) and result["map"] == pytest.approx(1.0)


def test_excerpt_and_version_pair_retrieval_find_their_targets():
    database = np.eye(3)
    queries = np.array([[0.9, 0.1, 0], [0, 0.2, 0.8]])
    assert top1_retrieval(queries, database, [0, 2])["top1"] == pytest.approx(1.0)
    embeddings = np.array([[1, 0, 0], [0.95, 0.05, 0], [0, 0, 1]])
    assert version_pair_retrieval(embeddings, ["x", "x", ""])["top1"] == pytest.approx(1.0)


def _mel_band_of(frequency: float) -> int:
    """The HTK mel band (of ``MEL_BANDS`` spread evenly in mel up to Nyquist) whose centre is nearest ``frequency``."""
    def mel(hertz: float) -> float:
        return 2595.0 * np.log10(1.0 + hertz / 700.0)
    return int(round(mel(frequency) / (mel(SAMPLE_RATE / 2) / (MEL_BANDS + 1)))) - 1


@pytest.mark.parametrize("frequency", [220.0, 440.0, 1760.0, 3000.0])
def test_logmel_statistics_put_a_tone_in_its_mel_band(frequency):
    """Oracle: the mel scale's own formula. The means (first half) peak in the tone's band; a steady tone's
    standard deviations (second half) stay small there."""
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    statistics = logmel_statistics((0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), SAMPLE_RATE)
    means, deviations = statistics[:MEL_BANDS], statistics[MEL_BANDS:]
    assert statistics.shape == (2 * MEL_BANDS,) and statistics.dtype == np.float32
    assert int(np.argmax(means)) == _mel_band_of(frequency)
    assert deviations[_mel_band_of(frequency)] < STEADY_TONE_MAX_STD


def test_logmel_statistics_of_a_cadence_two_octaves_up_move_up_the_bands():
    low = _cadence_in(Key(0, "major"))
    high = pitch_shift_by_resampling(low, SAMPLE_RATE, 24)
    first, second = logmel_statistics(low, SAMPLE_RATE)[:MEL_BANDS], logmel_statistics(high, SAMPLE_RATE)[:MEL_BANDS]
    bands = np.arange(MEL_BANDS)

    def centroid(means: np.ndarray) -> float:
        power = np.exp(means)
        return float((bands * power).sum() / power.sum())

    assert centroid(second) > centroid(first) + MIN_CENTROID_SHIFT_BANDS
