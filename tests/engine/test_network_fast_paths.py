"""The network's faster formulations compute what the plain torch calls they replaced compute: the spectrogram
(``torch.stft``), the block statistics (``std``/``amax`` over flattened axes) and the key path's time pooling, on
random and on musical input, in both memory layouts."""

from __future__ import annotations

import pytest
import torch

import audio_factory
from engine.keys import key_from_index
from engine.model_folder import load_model
from engine.model_spec import DEFAULT_MODEL_DIR
from engine.networks import (
    LogFreqCNNConfig, LogFrequencySpectrogram, banded_product, channel_statistics, filterbank_bands,
    magnitude_without_gradient, time_mean_max, tuned_bands, tuned_filterbank,
)


def _stft_spectrogram(frontend: LogFrequencySpectrogram, audio: torch.Tensor) -> torch.Tensor:
    """The spectrogram as it was computed before: torch.stft, magnitude, filterbank."""
    spectrum = torch.stft(audio, frontend.n_fft, frontend.hop_length, window=frontend.window, center=True,
                          return_complex=True).abs()
    log_frequency = torch.matmul(spectrum.transpose(1, 2), frontend.filterbank).transpose(1, 2)
    return torch.log1p(100.0 * log_frequency).unsqueeze(1)


def _windows(config: LogFreqCNNConfig) -> torch.Tensor:
    """Three windows: noise, a chord progression and silence (the padding of a short track)."""
    music = audio_factory.chord_progression(key_from_index(3), config.window_samples / config.sample_rate + 0.5,
                                            sample_rate=config.sample_rate)[: config.window_samples]
    noise = torch.randn(config.window_samples, generator=torch.Generator().manual_seed(0)) * 0.1
    return torch.stack([noise, torch.from_numpy(music).float(), torch.zeros(config.window_samples)])


def test_spectrogram_equals_the_stft_it_replaces():
    config = LogFreqCNNConfig()
    frontend = LogFrequencySpectrogram(config)
    frontend.levels_input = False  # the STFT's formulation alone (each window's level: tests/engine/test_window_level.py)
    audio = _windows(config)
    with torch.inference_mode():
        actual, expected = frontend(audio), _stft_spectrogram(frontend, audio)
    assert actual.shape == expected.shape == (3, 1, config.bins_per_octave * config.octaves, 85)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def test_inference_magnitude_equals_complex_abs_and_training_keeps_a_finite_gradient():
    config = LogFreqCNNConfig()
    frontend = LogFrequencySpectrogram(config)
    audio = _windows(config)
    spectrum = torch.fft.rfft(torch.randn(4, 85, 2048, generator=torch.Generator().manual_seed(3)))
    torch.testing.assert_close(magnitude_without_gradient(spectrum), spectrum.abs(), rtol=1e-6, atol=1e-6)
    with torch.inference_mode():
        differentiable = frontend(audio)
        frontend.differentiable = False
        without_gradient = frontend(audio)
    torch.testing.assert_close(without_gradient, differentiable, rtol=1e-5, atol=1e-5)
    frontend.differentiable = True  # as in training: the silent window's zero bins must not give NaN gradients
    silent = torch.zeros(1, config.window_samples, requires_grad=True)
    frontend(silent).sum().backward()
    assert torch.isfinite(silent.grad).all()


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_channel_statistics_equal_mean_max_and_std_over_pitch_and_time(memory_format):
    output = torch.relu(torch.randn(4, 24, 96, 42, generator=torch.Generator().manual_seed(1)))
    output = output.contiguous(memory_format=memory_format)
    mean, maximum, std = channel_statistics(output)
    flat = output.flatten(2)
    torch.testing.assert_close(mean, flat.mean(dim=-1), rtol=1e-6, atol=1e-6)
    assert torch.equal(maximum, flat.amax(dim=-1))  # a maximum is exact whichever way it is taken
    torch.testing.assert_close(std, flat.std(dim=-1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_time_pooling_equals_mean_and_max_over_the_last_axis(memory_format):
    features = torch.randn(4, 32, 96, 21, generator=torch.Generator().manual_seed(2)).contiguous(memory_format=memory_format)
    mean, maximum = time_mean_max(features)
    torch.testing.assert_close(mean, features.mean(dim=-1), rtol=1e-6, atol=1e-6)
    assert torch.equal(maximum, features.amax(dim=-1))


def test_shipped_model_statistics_on_music_equal_the_plain_formulas():
    """The default model's block outputs (relu'd, pooled, channels-last in inference) of real-looking audio."""
    encoder = load_model(DEFAULT_MODEL_DIR).network.encoder
    audio = _windows(encoder.config)
    with torch.inference_mode():
        for output in encoder.block_outputs(audio):
            output = output.contiguous(memory_format=torch.channels_last)
            mean, maximum, std = channel_statistics(output)
            flat = output.flatten(2)
            torch.testing.assert_close(torch.cat([mean, maximum, std], 1),
                                       torch.cat([flat.mean(-1), flat.amax(-1), flat.std(-1)], 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cents", [0, 37, -50])
def test_banded_filterbank_product_equals_the_dense_product(cents):
    """The product over each octave's nonzero rows gives the dense product's sums, on the trained grid and on grids
    moved for a detuned track; the bands cover every nonzero weight once."""
    config = LogFreqCNNConfig()
    grid = (config.n_fft, config.sample_rate, config.min_frequency, config.bins_per_octave, config.octaves)
    filterbank = tuned_filterbank(*grid, cents) if cents else LogFrequencySpectrogram(config).filterbank
    bands = tuned_bands(*grid, cents) if cents else filterbank_bands(filterbank, config.bins_per_octave)
    covered = torch.zeros_like(filterbank, dtype=torch.bool)
    for first_row, end_row, first_bin, end_bin in bands:
        covered[first_row:end_row, first_bin:end_bin] = True
    assert bool(covered[filterbank != 0].all())
    assert int(covered.sum()) < filterbank.numel() // 5
    magnitude = torch.rand(4, 85, filterbank.shape[0], generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(banded_product(magnitude, filterbank, bands), magnitude @ filterbank,
                               rtol=1e-5, atol=1e-6)
