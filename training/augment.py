"""Batched audio augmentation on the training device: the SemiSupCon chain without per-clip Python loops.

Pure functions first (each takes ``audio`` (rows, samples) and per-row parameters), then
``BatchAugmenter``, which draws the parameters the way the reference chain does: the whole chain is applied
to a clip with probability ``chain_p`` (all its views or none), and every transform draws its own gate and
parameters per view. ``severity`` scales ranges and probabilities as the reference's severity modifier.

Pitch shift keeps duration and tempo, as the reference's PitchShift (torch-pitch-shift) does: each row is
first stretched in time by its own ratio 2**(semitones/12) with a phase vocoder (batched STFT, per-row
frame positions), then resampled by the same ratio back to its length (an FFT low-pass first guards
against aliasing when reading faster). The data loader hands over a little extra context
(``BatchAugmenter.input_samples()``) for the vocoder's last frames. It runs first, so everything after it
works on the final window length.

The delay and the coloured noise follow the reference's definitions (its ``Delay`` transform and
torch-audiomentations' ``AddColoredNoise``); the tests pin their impulse response and spectral slope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from training.config import AugmentConfig

FILTER_ORDER = 4  # Butterworth-like magnitude slopes, 24 dB/octave
ANTI_ALIAS_ORDER = 16
ANTI_ALIAS_MARGIN = 0.95  # cut just under the new Nyquist frequency
MIN_FILTER_HZ = 20.0
PHASE_VOCODER_SECONDS = 0.046  # STFT window of the pitch shift's time stretch: 1024 samples at 16 or 22.05 kHz
PHASE_VOCODER_HOPS_PER_WINDOW = 4
PEAK_NEIGHBOURHOOD = 5  # bins: a peak is the largest of itself and two neighbours each side (a Hann main lobe)
EPSILON = 1e-8
# The reference's caps on probabilities when severity grows (its severity modifier 2 = our 1.0).
PROBABILITY_CAPS = {"gain": 0.7, "polarity": 0.8, "noise": 0.8, "filter": 0.6, "pitch": 0.75, "delay": 0.6, "chain": 1.0}
FILTER_KINDS = ("bandpass", "bandstop", "highpass", "lowpass")


# ---------------------------------------------------------------- pure batched functions


def apply_gain(audio: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
    """``audio`` (rows, samples) scaled by ``gain_db`` (rows,); a negative value of -inf dB is not allowed."""
    return audio * torch.pow(10.0, gain_db / 20.0)[:, None]


def coloured_noise(
    rows: int, samples: int, decay: torch.Tensor, sample_rate: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Unit-RMS noise (rows, samples) whose amplitude spectrum is ``1 / ramp**decay`` (0 white, > 0 falling,
    < 0 rising), ``ramp`` running linearly from 1 at 0 Hz to sqrt(sample_rate / 2) at Nyquist: the reference's
    spectral shape, about -5.4 dB per octave and unit of decay through the 0.5-4 kHz band at 22.05 kHz."""
    device = decay.device
    white = torch.randn(rows, samples, device=device, generator=generator)
    spectrum = torch.fft.rfft(white)
    ramp = torch.linspace(1.0, math.sqrt(sample_rate / 2), spectrum.shape[-1], device=device, dtype=white.dtype)
    spectrum = spectrum * ramp[None, :].pow(-decay[:, None])
    noise = torch.fft.irfft(spectrum, n=samples)
    return noise / noise.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp(min=EPSILON)


def add_noise(audio: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """Mix unit-RMS ``noise`` into ``audio`` at ``snr_db`` (rows,) relative to each row's RMS."""
    signal_rms = audio.pow(2).mean(dim=-1).sqrt()
    return audio + noise * (signal_rms / torch.pow(10.0, snr_db / 20.0))[:, None]


def _lowpass_response(frequencies: torch.Tensor, cutoff: torch.Tensor, order: int) -> torch.Tensor:
    return 1.0 / torch.sqrt(1.0 + (frequencies[None, :] / cutoff[:, None]).pow(2 * order))


def _highpass_response(frequencies: torch.Tensor, cutoff: torch.Tensor, order: int) -> torch.Tensor:
    ratio = cutoff[:, None] / frequencies[None, :].clamp(min=EPSILON)
    return 1.0 / torch.sqrt(1.0 + ratio.pow(2 * order))


def filter_response(
    kind: torch.Tensor, low_hz: torch.Tensor, high_hz: torch.Tensor, frequencies: torch.Tensor, order: int = FILTER_ORDER
) -> torch.Tensor:
    """Magnitude response (rows, bins) per row: ``kind`` indexes FILTER_KINDS; high-pass uses ``low_hz``,
    low-pass uses ``high_hz``, band filters use both edges."""
    highpass = _highpass_response(frequencies, low_hz, order)
    lowpass = _lowpass_response(frequencies, high_hz, order)
    bandpass = highpass * lowpass
    responses = torch.stack([bandpass, 1.0 - bandpass, highpass, lowpass])  # (kinds, rows, bins)
    return responses.gather(0, kind[None, :, None].expand(1, *bandpass.shape))[0]


def apply_frequency_response(audio: torch.Tensor, response: torch.Tensor) -> torch.Tensor:
    """Zero-phase filtering: multiply each row's spectrum by its ``response`` (rows, samples // 2 + 1)."""
    return torch.fft.irfft(torch.fft.rfft(audio) * response, n=audio.shape[-1])


def resample_rows(audio: torch.Tensor, rate: torch.Tensor, out_samples: int, sample_rate: int) -> torch.Tensor:
    """Read each row at its own ``rate`` (rows,) (>1 = faster = higher pitch) into ``out_samples`` samples.

    Needs ``audio.shape[-1] >= ceil(out_samples * max(rate))``; rows read faster are low-passed first.
    """
    rows, in_samples = audio.shape
    needs_guard = rate > 1.0
    if bool(needs_guard.any()):
        frequencies = torch.fft.rfftfreq(in_samples, 1.0 / sample_rate).to(audio.device)
        cutoff = ANTI_ALIAS_MARGIN * sample_rate / 2 / rate.clamp(min=1.0)
        guard = torch.where(needs_guard[:, None], _lowpass_response(frequencies, cutoff, ANTI_ALIAS_ORDER), 1.0)
        audio = apply_frequency_response(audio, guard)
    positions = torch.arange(out_samples, device=audio.device, dtype=torch.float32)[None, :] * rate.float()[:, None]
    left = positions.floor().long().clamp(max=in_samples - 1)
    right = (left + 1).clamp(max=in_samples - 1)
    fraction = (positions - left).to(audio.dtype)  # float32 positions err by < 0.01 sample at 2**16
    return torch.lerp(audio.gather(1, left), audio.gather(1, right), fraction)


def add_echoes(
    audio: torch.Tensor, delay_samples: torch.Tensor, volume: torch.Tensor, repeats: torch.Tensor, attenuation: torch.Tensor
) -> torch.Tensor:
    """The reference's delay: ``(dry + volume * sum_{i=0..repeats-1} attenuation**i * dry delayed by i * delay) / 2``.

    The sum starts with the dry signal itself, so ``repeats`` r gives r - 1 echoes and the dry tap is
    ``(1 + volume) / 2``. All per row (rows,); ``repeats`` is an integer tensor; echoes past the end are cut.
    """
    rows, samples = audio.shape
    time = torch.arange(samples, device=audio.device)[None, :]
    taps = audio.clone()  # i = 0
    for repeat in range(1, int(repeats.max().item())):
        source = time - repeat * delay_samples[:, None]
        valid = (source >= 0) & (repeat < repeats[:, None])
        shifted = audio.gather(1, source.clamp(min=0)) * valid
        taps = taps + attenuation[:, None].pow(repeat) * shifted
    return (audio + volume[:, None] * taps) / 2


def vocoder_sizes(sample_rate: int) -> tuple[int, int]:
    """(FFT size, hop) of the pitch shift's phase vocoder: a power of two near ``PHASE_VOCODER_SECONDS``."""
    n_fft = 2 ** round(math.log2(sample_rate * PHASE_VOCODER_SECONDS))
    return n_fft, n_fft // PHASE_VOCODER_HOPS_PER_WINDOW


def stretch_rows(audio: torch.Tensor, factor: torch.Tensor, out_samples: int, n_fft: int, hop: int) -> torch.Tensor:
    """Each row of ``audio`` (rows, samples) played ``factor`` (rows,) times longer (> 1 slower) at the same
    pitch, by a phase vocoder; returns the first ``out_samples`` of each (rows, out_samples).

    Output frame k reads the input's STFT at fractional frame k / factor: magnitudes are interpolated between
    the two frames around it, and phases advance by each bin's measured frequency, so partials stay
    continuous. Reading past the input's end repeats its last frame."""
    rows = audio.shape[0]
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spectrum = torch.stft(audio, n_fft, hop, window=window, return_complex=True)  # (rows, bins, frames)
    bins, frames = spectrum.shape[1], spectrum.shape[2]
    magnitude_in, phase_in = spectrum.abs(), spectrum.angle()
    expected = (2 * math.pi * hop / n_fft) * torch.arange(bins, device=audio.device, dtype=audio.dtype)[None, :, None]
    deviation = phase_in[:, :, 1:] - phase_in[:, :, :-1] - expected
    advance_in = expected + deviation - 2 * math.pi * torch.round(deviation / (2 * math.pi))  # radians per hop

    out_frames = out_samples // hop + 2
    positions = torch.arange(out_frames, device=audio.device, dtype=audio.dtype)[None, :] / factor.to(audio.dtype)[:, None]
    left = positions.floor().long().clamp(max=frames - 2)
    fraction = (positions - left).clamp(0.0, 1.0)[:, None, :]
    index = left[:, None, :].expand(rows, bins, out_frames)
    magnitude = torch.lerp(magnitude_in.gather(2, index), magnitude_in.gather(2, index + 1), fraction)
    advance = advance_in.gather(2, index)
    advance[:, :, 1:] = advance[:, :, :-1].clone()
    advance[:, :, 0] = phase_in[:, :, 0]
    phase = lock_to_peaks(torch.cumsum(advance, dim=2), magnitude, phase_in.gather(2, index))
    return torch.istft(torch.polar(magnitude, phase), n_fft, hop, window=window, length=out_samples)


def lock_to_peaks(phase: torch.Tensor, magnitude: torch.Tensor, analysis_phase: torch.Tensor) -> torch.Tensor:
    """Phase locking (after Laroche & Dolson 1999) on (rows, bins, frames): every bin keeps the phase offset it
    has in the input from the largest bin within ``PEAK_NEIGHBOURHOOD`` (its partial's peak). Without it the
    bins of one partial drift apart as phases accumulate, and a stretched steady tone loses half its level."""
    rows, bins, frames = magnitude.shape
    by_frame = magnitude.transpose(1, 2).reshape(rows * frames, 1, bins)
    _, peak = torch.nn.functional.max_pool1d(
        by_frame, PEAK_NEIGHBOURHOOD, stride=1, padding=PEAK_NEIGHBOURHOOD // 2, return_indices=True
    )
    peak = peak.reshape(rows, frames, bins).transpose(1, 2)
    return phase.gather(1, peak) + analysis_phase - analysis_phase.gather(1, peak)


def pitch_shift_rows(audio: torch.Tensor, semitones: torch.Tensor, out_samples: int, sample_rate: int) -> torch.Tensor:
    """Each row (rows, samples) shifted by its ``semitones`` (rows,) with duration and tempo kept: stretched in
    time by 2**(semitones/12), then resampled by the same ratio back to ``out_samples``. Row content maps
    in time: output sample t carries what was around input sample t."""
    rate = torch.pow(2.0, semitones.float() / 12)
    n_fft, hop = vocoder_sizes(sample_rate)
    stretched = stretch_rows(audio, rate, math.ceil(out_samples * float(rate.max())) + 2, n_fft, hop)
    return resample_rows(stretched, rate, out_samples, sample_rate)


def fft_friendly_length(minimum: int) -> int:
    """Smallest length >= ``minimum`` with no prime factor above 7 (FFTs of prime-rich lengths are ~4x slower)."""
    length = minimum
    while True:
        rest = length
        for prime in (2, 3, 5, 7):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return length
        length += 1


# ---------------------------------------------------------------- the chain


@dataclass(frozen=True)
class ScaledChain:
    """The chain's ranges and probabilities after the severity knob (reference rules)."""

    chain_p: float
    gain_p: float
    gain_db: tuple[float, float]
    polarity_p: float
    noise_p: float
    noise_snr_db: tuple[float, float]
    noise_decay: tuple[float, float]
    filter_p: float
    band_fraction: tuple[float, float]
    band_center_hz: tuple[float, float]
    highpass_hz: tuple[float, float]
    lowpass_hz: tuple[float, float]
    pitch_p: float
    pitch_semitones: float
    delay_p: float
    delay_ms: tuple[float, float]
    delay_volume: float
    delay_repeats: int
    delay_attenuation: float


def scale_chain(config: AugmentConfig, sample_rate: int) -> ScaledChain:
    """Apply ``config.severity`` (> 0) as the reference does (ranges widen, SNRs fall, probabilities rise to caps)."""
    s = config.severity
    if s <= 0:
        raise ValueError(f"severity must be positive to scale the chain, got {s}")
    nyquist = sample_rate / 2
    return ScaledChain(
        chain_p=min(PROBABILITY_CAPS["chain"], config.chain_p * s),
        gain_p=min(PROBABILITY_CAPS["gain"], config.gain_p * s),
        gain_db=(config.gain_db[0] * s, config.gain_db[1] * s),
        polarity_p=min(PROBABILITY_CAPS["polarity"], config.polarity_p * s),
        noise_p=min(PROBABILITY_CAPS["noise"], config.noise_p * s),
        noise_snr_db=(config.noise_snr_db[0] / s, config.noise_snr_db[1] / s),
        noise_decay=(config.noise_decay[0] * s, config.noise_decay[1] * s),
        filter_p=min(PROBABILITY_CAPS["filter"], config.filter_p * s),
        band_fraction=(config.band_fraction[0] * s, config.band_fraction[1]),
        band_center_hz=config.band_center_hz,
        highpass_hz=(config.highpass_hz[0] * s, min(nyquist, config.highpass_hz[1] * s)),
        lowpass_hz=(max(config.lowpass_hz[0] / 2, config.lowpass_hz[0] / s), min(nyquist, config.lowpass_hz[1] / max(1.0, s))),
        pitch_p=min(PROBABILITY_CAPS["pitch"], config.pitch_p * s),
        pitch_semitones=config.pitch_semitones * s,
        delay_p=min(PROBABILITY_CAPS["delay"], config.delay_p * s),
        delay_ms=(config.delay_ms[0] / s, config.delay_ms[1]),
        delay_volume=config.delay_volume * s,
        delay_repeats=max(1, round(config.delay_repeats * s)),
        delay_attenuation=min(1.0, config.delay_attenuation * s),
    )


class BatchAugmenter(nn.Module):
    """Augments ``audio`` (clips, views, input_samples) → ``(clips, views, window_samples)`` on its device.

    Returns the augmented audio and the pitch shift of every view in semitones (clips, views). Its random
    generator lives on the audio's device; ``state_dict_rng`` / ``load_rng`` make resumes exact.
    """

    def __init__(self, config: AugmentConfig, sample_rate: int, window_samples: int, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        self.sample_rate = sample_rate
        self.window_samples = window_samples
        self.seed = seed
        self.active = config.enabled and config.severity > 0
        self.chain = scale_chain(config, sample_rate) if self.active else None
        self._generator: torch.Generator | None = None
        self._pending_rng: torch.Tensor | None = None

    def input_samples(self) -> int:
        """Samples each view must carry so that the largest upward pitch shift still fills the window."""
        if not self.active or self.chain.pitch_p <= 0:
            return self.window_samples
        return fft_friendly_length(math.ceil(self.window_samples * 2 ** (self.chain.pitch_semitones / 12)) + 1)

    def _rng(self, device: torch.device) -> torch.Generator:
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(self.seed)
            if self._pending_rng is not None:
                self._generator.set_state(self._pending_rng)
                self._pending_rng = None
        return self._generator

    def rng_state(self) -> torch.Tensor | None:
        return None if self._generator is None else self._generator.get_state()

    def load_rng(self, state: torch.Tensor | None) -> None:
        if state is None:
            return
        if self._generator is None:
            self._pending_rng = state
        else:
            self._generator.set_state(state)

    def _uniform(self, rows: int, bounds: tuple[float, float], generator, device) -> torch.Tensor:
        low, high = bounds
        return low + (high - low) * torch.rand(rows, device=device, generator=generator)

    def _log_uniform(self, rows: int, bounds: tuple[float, float], generator, device) -> torch.Tensor:
        low, high = math.log(bounds[0]), math.log(max(bounds[1], bounds[0]))
        return torch.exp(self._uniform(rows, (low, high), generator, device))

    def _gate(self, chained: torch.Tensor, p: float, generator) -> torch.Tensor:
        return chained & (torch.rand(chained.shape[0], device=chained.device, generator=generator) < p)

    @torch.no_grad()
    def forward(self, audio: torch.Tensor, keep_pitch: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``keep_pitch`` (clips,) bool: clips never pitch-shifted, e.g. those whose labels are keys that a shift
        would make wrong. The random draws are the same either way, so runs stay reproducible."""
        clips, views, in_samples = audio.shape
        rows = clips * views
        device = audio.device
        flat = audio.reshape(rows, in_samples).float()
        semitones = torch.zeros(rows, device=device)
        if not self.active:
            return flat[:, : self.window_samples].reshape(clips, views, -1), semitones.reshape(clips, views)
        chain, generator = self.chain, self._rng(device)
        chained = (torch.rand(clips, device=device, generator=generator) < chain.chain_p).repeat_interleave(views)

        pitched = self._gate(chained, chain.pitch_p, generator)
        if keep_pitch is not None:
            pitched = pitched & ~keep_pitch.to(device).repeat_interleave(views)
        drawn = self._uniform(rows, (-chain.pitch_semitones, chain.pitch_semitones), generator, device)
        if self.config.pitch_integer:
            drawn = drawn.round()
        semitones = torch.where(pitched, drawn, 0.0)
        window = flat[:, : self.window_samples]
        if bool(pitched.any()):
            index = pitched.nonzero().squeeze(1)
            shifted = pitch_shift_rows(flat[index], semitones[index], self.window_samples, self.sample_rate)
            window = window.index_copy(0, index, shifted)
        flat = window

        gain = torch.where(self._gate(chained, chain.gain_p, generator), self._uniform(rows, chain.gain_db, generator, device), 0.0)
        sign = torch.where(self._gate(chained, chain.polarity_p, generator), -1.0, 1.0)
        flat = apply_gain(flat, gain) * sign[:, None]

        noisy = self._gate(chained, chain.noise_p, generator)
        snr = self._uniform(rows, chain.noise_snr_db, generator, device)
        decay = self._uniform(rows, chain.noise_decay, generator, device)
        if bool(noisy.any()):
            index = noisy.nonzero().squeeze(1)
            noise = coloured_noise(index.numel(), flat.shape[1], decay[index], self.sample_rate, generator)
            flat = flat.index_copy(0, index, add_noise(flat[index], noise, snr[index]))

        # One filter kind per clip (the reference's OneOf), each applied with its own probability per view.
        kind = torch.randint(len(FILTER_KINDS), (clips,), device=device, generator=generator).repeat_interleave(views)
        filtered = self._gate(chained, chain.filter_p, generator)
        centre = self._log_uniform(rows, chain.band_center_hz, generator, device)
        width = centre * self._uniform(rows, chain.band_fraction, generator, device)
        low = torch.where(kind == 2, self._log_uniform(rows, chain.highpass_hz, generator, device), centre - width / 2)
        high = torch.where(kind == 3, self._log_uniform(rows, chain.lowpass_hz, generator, device), centre + width / 2)
        if bool(filtered.any()):
            index = filtered.nonzero().squeeze(1)
            frequencies = torch.fft.rfftfreq(flat.shape[1], 1.0 / self.sample_rate).to(device)
            response = filter_response(kind[index], low[index].clamp(min=MIN_FILTER_HZ), high[index], frequencies)
            flat = flat.index_copy(0, index, apply_frequency_response(flat[index], response))

        delayed = self._gate(chained, chain.delay_p, generator)
        delay_ms = self._uniform(rows, chain.delay_ms, generator, device)
        coin = lambda: torch.randint(2, (rows,), device=device, generator=generator) * 2 - 1  # noqa: E731  ±1
        volume = (chain.delay_volume + 0.2 * coin()).clamp(0.0, 1.0)
        repeats = (chain.delay_repeats + coin()).clamp(min=1)
        attenuation = (chain.delay_attenuation + 0.2 * coin()).clamp(0.0, 1.0)
        if bool(delayed.any()):
            index = delayed.nonzero().squeeze(1)
            delay_samples = (delay_ms[index] * self.sample_rate / 1000).long()
            echoed = add_echoes(flat[index], delay_samples, volume[index], repeats[index], attenuation[index])
            flat = flat.index_copy(0, index, echoed)
        return flat.reshape(clips, views, -1), semitones.reshape(clips, views)


def augment_clip_by_clip(augmenter: BatchAugmenter, audio: torch.Tensor) -> torch.Tensor:
    """The reference's way, for comparison only: one chain call per clip, as its data-loader workers do."""
    return torch.cat([augmenter(clip[None])[0] for clip in audio])


__all__ = [
    "BatchAugmenter", "ScaledChain", "add_echoes", "add_noise", "apply_frequency_response", "apply_gain",
    "augment_clip_by_clip", "coloured_noise", "fft_friendly_length", "filter_response", "pitch_shift_rows", "resample_rows",
    "scale_chain", "stretch_rows", "vocoder_sizes", "FILTER_KINDS",
]
