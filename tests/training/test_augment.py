"""Batched augmentation: each pure function does its one job; the chain draws per view and is reproducible."""

from __future__ import annotations

import math

import pytest
import torch

from training.augment import (
    BatchAugmenter, add_echoes, apply_frequency_response, coloured_noise, filter_response, pitch_shift_rows, resample_rows,
    add_noise,
)
from training.config import AugmentConfig

SAMPLE_RATE = 16000
WINDOW = 8000


def _sine(frequency: float, samples: int) -> torch.Tensor:
    return torch.sin(2 * math.pi * frequency * torch.arange(samples) / SAMPLE_RATE)


def _peak_hz(audio: torch.Tensor) -> float:
    spectrum = torch.fft.rfft(audio * torch.hann_window(audio.shape[-1])).abs()
    return float(spectrum.argmax()) * SAMPLE_RATE / audio.shape[-1]


def test_resampling_moves_pitch_by_the_requested_semitones():
    rows = torch.stack([_sine(440.0, 12000)] * 3)
    semitones = torch.tensor([-4.0, 0.0, 3.0])
    shifted = resample_rows(rows, 2 ** (semitones / 12), WINDOW, SAMPLE_RATE)
    assert shifted.shape == (3, WINDOW)
    for row, steps in zip(shifted, semitones):
        assert _peak_hz(row) == pytest.approx(440.0 * 2 ** (steps / 12), abs=2.5)
    torch.testing.assert_close(shifted[1], rows[1, :WINDOW])


def test_filters_keep_their_band_and_cut_the_rest():
    low, high = _sine(200.0, WINDOW), _sine(5000.0, WINDOW)
    audio = torch.stack([low + high] * 4)
    frequencies = torch.fft.rfftfreq(WINDOW, 1 / SAMPLE_RATE)
    kinds = torch.arange(4)  # bandpass, bandstop, highpass, lowpass
    edges_low = torch.tensor([3000.0, 3000.0, 1000.0, 1000.0])
    edges_high = torch.tensor([7000.0, 7000.0, 1000.0, 1000.0])
    out = apply_frequency_response(audio, filter_response(kinds, edges_low, edges_high, frequencies))

    def energy(signal, reference):
        return float((signal * reference).mean().abs() * 2)

    assert energy(out[0], high) > 0.8 and energy(out[0], low) < 0.05  # band-pass keeps 5 kHz
    assert energy(out[1], low) > 0.8 and energy(out[1], high) < 0.2  # band-stop removes 5 kHz
    assert energy(out[2], high) > 0.9 and energy(out[2], low) < 0.05  # high-pass
    assert energy(out[3], low) > 0.9 and energy(out[3], high) < 0.05  # low-pass


def test_noise_is_mixed_at_the_requested_snr():
    audio = torch.stack([_sine(300.0, WINDOW)] * 2)
    noise = coloured_noise(2, WINDOW, torch.tensor([0.0, 2.0]), SAMPLE_RATE)
    noisy = add_noise(audio, noise, torch.tensor([10.0, 20.0]))
    residual = noisy - audio
    snr = 10 * torch.log10(audio.pow(2).mean(dim=1) / residual.pow(2).mean(dim=1))
    torch.testing.assert_close(snr, torch.tensor([10.0, 20.0]), atol=0.05, rtol=0)


def test_delay_impulse_response_is_the_references():
    """Reference Delay (v = 0.7, 3 repeats, a = 0.3): taps [0.85, 0.105, 0.0315, 0]; the sum of repeats starts
    with the dry signal, so 3 repeats give 2 echoes, and 1 repeat none."""
    impulse = torch.zeros(2, 1000)
    impulse[:, 0] = 1.0
    out = add_echoes(impulse, torch.tensor([100, 100]), torch.tensor([0.7, 0.7]), torch.tensor([3, 1]), torch.tensor([0.3, 0.3]))
    assert {int(i): round(float(out[0, i]), 6) for i in out[0].nonzero().flatten()} == {0: 0.85, 100: 0.105, 200: 0.0315}
    assert {int(i): round(float(out[1, i]), 6) for i in out[1].nonzero().flatten()} == {0: 0.85}


def _octave_slope_db(noise: torch.Tensor, sample_rate: int) -> float:
    """Mean power change per octave from the 0.5-1 kHz octave to the 2-4 kHz one, in dB."""
    power = torch.fft.rfft(noise).abs().pow(2).mean(dim=0)
    frequencies = torch.fft.rfftfreq(noise.shape[-1], 1 / sample_rate)
    bands = [float(power[(frequencies >= low) & (frequencies < 2 * low)].mean()) for low in (500.0, 2000.0)]
    return 10 * math.log10(bands[1] / bands[0]) / 2


def test_coloured_noise_has_the_references_spectral_slope():
    """torch-audiomentations' mask 1 / linspace(1, sqrt(sr / 2))**decay: -5.55 dB per octave per unit of decay
    over 0.5-4 kHz at 22.05 kHz (a 1/f**decay power law would give -3.0)."""
    torch.manual_seed(0)
    slopes = {decay: _octave_slope_db(coloured_noise(16, 2**16, torch.full((16,), decay), 22050), 22050)
              for decay in (0.0, 1.0, 2.0, -1.0)}
    assert slopes[0.0] == pytest.approx(0.0, abs=0.3)
    assert slopes[1.0] == pytest.approx(-5.55, abs=0.3)
    assert slopes[2.0] == pytest.approx(-11.05, abs=0.5)
    assert slopes[-1.0] == pytest.approx(5.61, abs=0.3)


def _beat_period(audio: torch.Tensor, sample_rate: int, shortest: int, longest: int) -> int:
    """The lag (samples) at which the energy envelope best repeats itself, between ``shortest`` and ``longest``."""
    envelope = torch.nn.functional.avg_pool1d(audio.pow(2)[None, None], 220, 110)[0, 0]
    envelope = envelope - envelope.mean()
    lags = range(shortest // 110, longest // 110)
    scores = [float((envelope[lag:] * envelope[:-lag]).sum()) for lag in lags]
    return lags[max(range(len(scores)), key=scores.__getitem__)] * 110


def test_pitch_shift_keeps_the_click_spacing():
    """A click every 11,025 samples: +4 semitones used to read the audio faster (spacing 8,750); now the tempo stays."""
    sample_rate, window = 22050, 59535
    clicks = torch.zeros(1, 75000)
    clicks[0, 3000::11025] = 1.0
    shifted = pitch_shift_rows(clicks, torch.tensor([4.0]), window, sample_rate)
    assert shifted.shape == (1, window)
    assert _beat_period(shifted[0], sample_rate, 6000, 16000) == pytest.approx(11025, rel=0.02)
    sped_up = resample_rows(clicks, torch.tensor([2 ** (4 / 12)]), window, sample_rate)
    assert _beat_period(sped_up[0], sample_rate, 6000, 16000) == pytest.approx(8750, rel=0.02)


def test_pitch_shift_moves_a_tone_by_the_semitones_and_keeps_its_level():
    rows = torch.stack([_sine(440.0, 12000)] * 3)
    semitones = torch.tensor([-4.0, 0.0, 3.0])
    shifted = pitch_shift_rows(rows, semitones, WINDOW, SAMPLE_RATE)
    for row, steps in zip(shifted, semitones):
        assert _peak_hz(row) == pytest.approx(440.0 * 2 ** (steps / 12), abs=2.5)
        assert float(row[1000:-1000].pow(2).mean()) == pytest.approx(0.5, rel=0.05)


def test_chain_gives_windows_reproducibly_and_views_differ():
    augmenter = BatchAugmenter(AugmentConfig(severity=1.0), SAMPLE_RATE, WINDOW, seed=7)
    audio = torch.randn(6, 2, augmenter.input_samples()) * 0.1
    first, semitones = augmenter(audio)
    assert first.shape == (6, 2, WINDOW) and torch.isfinite(first).all()
    assert semitones.abs().max() <= 4.0
    again, _ = BatchAugmenter(AugmentConfig(severity=1.0), SAMPLE_RATE, WINDOW, seed=7)(audio)
    torch.testing.assert_close(first, again)
    changed = (first - audio[..., :WINDOW]).abs().amax(dim=-1) > 1e-6
    assert changed.any() and not torch.equal(first[:, 0], first[:, 1])


def test_severity_zero_or_disabled_is_identity():
    for config in (AugmentConfig(severity=0.0), AugmentConfig(enabled=False)):
        augmenter = BatchAugmenter(config, SAMPLE_RATE, WINDOW)
        assert augmenter.input_samples() == WINDOW
        audio = torch.randn(3, 2, WINDOW)
        out, semitones = augmenter(audio)
        torch.testing.assert_close(out, audio)
        assert not semitones.any()


def test_integer_pitch_mode_draws_whole_semitones():
    config = AugmentConfig(pitch_p=1.0, chain_p=1.0, pitch_integer=True)
    augmenter = BatchAugmenter(config, SAMPLE_RATE, WINDOW, seed=1)
    _, semitones = augmenter(torch.randn(16, 2, augmenter.input_samples()))
    torch.testing.assert_close(semitones, semitones.round())
    assert semitones.abs().max() <= 4.0 and semitones.abs().sum() > 0


def test_clips_marked_keep_pitch_are_never_pitch_shifted_and_the_others_draw_the_same():
    from training.augment import BatchAugmenter
    from training.config import AugmentConfig

    config = AugmentConfig(chain_p=1.0, pitch_p=1.0, pitch_semitones=4.0)
    audio = torch.randn(6, 2, 50000) * 0.1
    keep = torch.tensor([True, False, True, False, False, True])
    plain = BatchAugmenter(config, 16000, 43200, seed=3)
    masked = BatchAugmenter(config, 16000, 43200, seed=3)
    _, shifted = plain(audio, None)
    _, kept = masked(audio, keep)
    assert torch.all(kept[keep] == 0) and bool((shifted[keep] != 0).any())
    torch.testing.assert_close(kept[~keep], shifted[~keep])
