"""The tuning estimate (engine.tuning) and the key read on a track's own pitch grid (engine.analyzer): a piece
tuned away from A = 440 Hz gets the key it has in tune, and a piece in tune is read as before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import audio_factory
from engine.keys import Key
from engine.networks import LogFreqCNN, LogFreqCNNConfig, SampleCNN, SampleCNNConfig
from engine.tuning import MIN_AGREEMENT, estimate_tuning

RATE = 16000
WINDOW = 43200  # 2.7 s at 16 kHz, the default model's window
ESTIMATE_TOLERANCE_CENTS = 3.0
RESOLVED_BINS_FROM = 80  # 24 bins per octave from 32.7 Hz: bin 80 is 330 Hz, where a bin is wider than 7.8 Hz


def _windows(audio: np.ndarray, count: int = 6) -> np.ndarray:
    starts = np.linspace(0, audio.size - WINDOW, count).astype(int)
    return np.stack([audio[start : start + WINDOW] for start in starts])


@pytest.mark.parametrize("cents", [-45.0, -20.0, 0.0, 12.0, 33.0, 48.0])
@pytest.mark.parametrize("key", [Key(0, "major"), Key(9, "minor"), Key(6, "major")])
def test_the_tuning_of_a_chord_progression_is_found_within_a_few_cents(key, cents):
    audio = audio_factory.chord_progression(key, 20.0, seed=3, sample_rate=RATE, tuning_cents=cents)
    estimate = estimate_tuning(_windows(audio), RATE)
    assert estimate.agreement > 0.5
    offset = (estimate.cents - cents + 50) % 100 - 50  # on the circle: -49.9 and +49.9 cents are neighbours
    assert abs(offset) < ESTIMATE_TOLERANCE_CENTS, estimate


def test_noise_silence_and_too_little_audio_give_no_tuning():
    noise = np.random.default_rng(0).standard_normal((6, WINDOW)).astype(np.float32) * 0.2
    for audio in (noise, np.zeros((6, WINDOW), np.float32), np.ones(1000, np.float32)):
        estimate = estimate_tuning(audio, RATE)
        assert estimate.cents == 0.0 and estimate.agreement < MIN_AGREEMENT


def test_the_key_grid_moved_by_a_tuning_reads_detuned_audio_as_the_trained_grid_reads_it_in_tune():
    """The spectrogram of a piece 30 cents sharp, on a grid moved 30 cents, is the in-tune spectrogram (to the STFT's
    resolution); with no tuning the frontend is the one the model was trained on, to the bit."""
    torch.manual_seed(0)
    network = LogFreqCNN(LogFreqCNNConfig(channels=(8, 16, 32, 32), embedding_dim=64, key_path="pitch_class")).eval()
    in_tune = audio_factory.chord_progression(Key(2, "major"), 6.0, seed=1, sample_rate=RATE)[:WINDOW]
    sharp = audio_factory.chord_progression(Key(2, "major"), 6.0, seed=1, sample_rate=RATE, tuning_cents=30.0)[:WINDOW]
    batch = torch.from_numpy(np.stack([in_tune, sharp]))
    with torch.no_grad():
        trained_grid = network.frontend(batch)
        moved_grid = network.frontend(batch, tuning_cents=30.0)
        assert torch.equal(network.frontend(batch, tuning_cents=0.0), trained_grid)
    resolved = slice(RESOLVED_BINS_FROM, None)  # below ~300 Hz a bin is narrower than the STFT's: both smear there
    moved_error = (moved_grid[1, 0, resolved] - trained_grid[0, 0, resolved]).abs().mean()
    unmoved_error = (trained_grid[1, 0, resolved] - trained_grid[0, 0, resolved]).abs().mean()
    assert moved_error < unmoved_error / 3, (moved_error, unmoved_error)


def test_an_encoder_without_a_pitch_grid_refuses_a_tuning():
    encoder = SampleCNN(SampleCNNConfig())
    assert not encoder.follows_tuning
    with pytest.raises(ValueError, match="tuning"):
        encoder.key_features(torch.zeros(1, encoder.config.window_samples), tuning_cents=20.0)


@pytest.fixture(scope="module")
def analyzer():
    from engine.analyzer import Analyzer
    from engine.model_folder import DEFAULT_MODEL_DIR, default_model_available, load_model

    if not default_model_available():
        pytest.skip("no shipped default model in this checkout")
    return Analyzer(load_model(DEFAULT_MODEL_DIR))


def _key(analyzer, audio: np.ndarray) -> Key:
    from engine.analyzer import key_estimate
    from engine.key_audio import layout_from_samples

    windows, extras = layout_from_samples(audio, RATE, analyzer.window_samples, 6)
    return key_estimate(analyzer.analyze_windows(windows, extras).key_probs).key


@pytest.mark.parametrize("cents", [-40.0, 25.0, 40.0])
def test_the_shipped_model_reads_a_detuned_progression_in_the_key_it_has_in_tune(analyzer, cents):
    for pitch_class in (0, 5, 10):
        key = Key(pitch_class, "major")
        in_tune = _key(analyzer, audio_factory.chord_progression(key, 20.0, seed=1, sample_rate=RATE))
        detuned = audio_factory.chord_progression(key, 20.0, seed=1, sample_rate=RATE, tuning_cents=cents)
        assert _key(analyzer, detuned) == in_tune == key


def test_a_track_in_tune_is_read_on_the_trained_grid_as_before(analyzer, monkeypatch):
    import engine.analyzer

    audio = audio_factory.chord_progression(Key(7, "minor"), 20.0, seed=2, sample_rate=RATE, tuning_cents=4.0)
    windows = _windows(audio)
    assert analyzer.key_tuning(windows) == 0.0  # within MIN_FOLLOWED_CENTS: the grid stays
    followed = analyzer.analyze_windows(windows).key_probs
    monkeypatch.setattr(engine.analyzer, "MIN_FOLLOWED_CENTS", float("inf"))
    np.testing.assert_array_equal(analyzer.analyze_windows(windows).key_probs, followed)
