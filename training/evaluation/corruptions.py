"""The degradations key and similarity must survive, as pure functions on mono float arrays.

- pink noise at 5 dB SNR;
- 3 kHz low-pass, then a 48 kbps MP3 round trip;
- reverb (synthetic exponentially decaying noise response) then telephone band (300–3400 Hz);
- detuned: the whole piece 15–45 cents sharp or flat (a record played a little fast, A = 432 Hz), pitch moved
  by resampling; its key is the one it has in tune (the nearest).
"""

from __future__ import annotations

import tempfile
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torchaudio

from engine.audio import decode_mono
from training.corpora.audio_files import write_audio

PINK_NOISE_SNR_DB = 5.0
LOWPASS_HZ = 3000.0
LOW_BITRATE = 48_000
EXCERPT_BITRATE = 96_000
REVERB_SECONDS = 0.8  # RT60 of the synthetic room
REVERB_WET = 0.5
TELEPHONE_BAND_HZ = (300.0, 3400.0)
DETUNE_CENTS = (15.0, 45.0)  # away from A = 440 Hz, up or down: under half a semitone, so the key stays the same


def pink_noise(samples: np.ndarray, sample_rate: int, rng: np.random.Generator,
               snr_db: float = PINK_NOISE_SNR_DB) -> np.ndarray:
    """Add 1/f noise scaled to ``snr_db`` below the signal's power."""
    spectrum = np.fft.rfft(rng.standard_normal(samples.size))
    frequencies = np.arange(spectrum.size, dtype=np.float64)
    spectrum[1:] /= np.sqrt(frequencies[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n=samples.size)
    signal_power = float(np.mean(samples**2)) + 1e-12
    noise *= np.sqrt(signal_power / (10 ** (snr_db / 10)) / (float(np.mean(noise**2)) + 1e-12))
    return (samples + noise).astype(np.float32)


def mp3_round_trip(samples: np.ndarray, sample_rate: int, bit_rate: int) -> np.ndarray:
    """Encode to MP3 at ``bit_rate`` with PyAV (LAME) and decode back; the length is kept."""
    with tempfile.TemporaryDirectory(prefix="mp3-") as folder:
        path = Path(folder) / "clip.mp3"
        write_audio(path, samples, sample_rate, codec="mp3", bit_rate=bit_rate)
        decoded = decode_mono(path, sample_rate)
    out = np.zeros_like(samples)
    out[: min(samples.size, decoded.size)] = decoded[: samples.size]
    return out


def lowpass_mp3(samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    for _ in range(2):  # two biquads: a steeper 24 dB/octave slope
        tensor = torchaudio.functional.lowpass_biquad(tensor, sample_rate, LOWPASS_HZ)
    return mp3_round_trip(tensor.numpy(), sample_rate, LOW_BITRATE)


def reverb_telephone(samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    length = int(REVERB_SECONDS * sample_rate)
    decay = np.exp(-6.9 * np.arange(length) / length)  # -60 dB at REVERB_SECONDS
    response = rng.standard_normal(length) * decay
    response /= np.sqrt(np.sum(response**2)) + 1e-12
    size = samples.size + length - 1
    wet = np.fft.irfft(np.fft.rfft(samples, size) * np.fft.rfft(response, size), size)[: samples.size]
    mixed = torch.from_numpy(((1 - REVERB_WET) * samples + REVERB_WET * wet).astype(np.float32))
    low, high = TELEPHONE_BAND_HZ
    for _ in range(2):
        mixed = torchaudio.functional.highpass_biquad(mixed, sample_rate, low)
        mixed = torchaudio.functional.lowpass_biquad(mixed, sample_rate, high)
    return mixed.numpy()


def detuned(samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """The piece ``DETUNE_CENTS`` sharp or flat (drawn), moved by resampling; the length is kept."""
    cents = rng.uniform(*DETUNE_CENTS) * rng.choice((-1.0, 1.0))
    shifted = pitch_shift_by_resampling(samples, sample_rate, cents / 100)
    out = np.zeros_like(samples)
    out[: min(samples.size, shifted.size)] = shifted[: samples.size]
    return out


Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
CORRUPTIONS: dict[str, Corruption] = {
    "pink_noise_5db": pink_noise,
    "lowpass_3k_mp3_48k": lowpass_mp3,
    "reverb_telephone": reverb_telephone,
    "detuned_15_45_cents": detuned,
}


def corrupted(clean: np.ndarray, sample_rate: int, condition: str, seed: int, item: int) -> np.ndarray:
    """``clean`` under ``condition`` ("clean": as it is), with draws of its own for (``seed``, ``item``,
    ``condition``): which other conditions run, and in what order, never changes what this one draws."""
    if condition == "clean":
        return clean
    rng = np.random.default_rng([seed, item, zlib.crc32(condition.encode())])
    return CORRUPTIONS[condition](clean, sample_rate, rng)


def pitch_shift_by_resampling(samples: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Shift pitch by ``semitones`` (tempo changes by the same ratio): the audio is read as if recorded at
    ``sample_rate * 2**(semitones/12)`` and resampled back to ``sample_rate``. The ratio is rounded to 1/1000 (under
    2 cents: fractions of a semitone are near, whole semitones exact enough for a key)."""
    ratio = 2 ** (semitones / 12)
    tensor = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    shifted = torchaudio.functional.resample(tensor, orig_freq=round(1000 * ratio), new_freq=1000)
    return shifted.numpy()
