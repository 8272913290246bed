"""Network definitions shared by inference (engine) and training (training/).

Two encoders map a mono window of audio, shape ``(batch, samples)``, to an embedding ``(batch, 512)``:
- ``SampleCNN``: the SemiSupCon paper's raw-waveform encoder (22,050 Hz, 59,535 samples = 2.7 s).
- ``LogFreqCNN``: a fast CPU encoder on a log-frequency (24 bins/octave) spectrogram, so that pitch
  (and therefore key) is kept on an explicit axis and a library embeds at thousands of times real time.
Heads sit on the embedding: key (24 classes) and tags (multi-label). The projection head is training-only.

Every encoder also has ``encode(audio) -> (embedding, key_features)``: the key head reads ``key_features``.
A LogFreqCNN is one structure: spectrogram → convolution blocks → an ``embedding`` path and, when the key head
needs features of its own, a ``key_path``; both read every block's output. Two typed options choose the paths:
- ``EmbeddingPooling``: ``PITCH`` keeps pitch positions (model v1; the key head reads the embedding itself);
  ``INVARIANT`` pools over pitch and time, so tracks are near each other for how they sound rather than for which
  key they are in, and a pitch-position path of its own feeds the key head; ``STATISTICS`` is the standardised
  mean, max and std of every block, no MLP (models v1.3 and later).
- ``KeyPath``: ``POOLED`` is the pitch-position path above; ``PITCH_CLASS`` is a path of its own: first-block
  features at one bin per semitone, folded over octaves into pitch classes, read by ``PitchClassKeyHead``, which
  scores every rotation with one template. Transposing the music by k semitones then moves the key estimate by
  exactly k keys (up to the spectrogram's edges), which a head that learns each key separately only approximates.
Weights saved before the paths had these names are renamed once, at load (``engine.weight_layouts``).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.keys import KEY_CLASS_COUNT
from engine.window_level import at_reference_level

TUNED_FILTERBANKS_KEPT = 8  # 0.8 MB each at the default frontend's 1025 x 192

EMBEDDING_DIM = 512
PROJECTION_DIM = 128


@dataclass
class SampleCNNConfig:
    sample_rate: int = 22050
    window_samples: int = 59535
    channels: tuple[int, ...] = (128, 128, 256, 256, 256, 256, 256, 256, 512)
    embedding_dim: int = EMBEDDING_DIM


class EmbeddingPooling(StrEnum):
    """How a LogFreqCNN pools its blocks into the embedding that similarity search compares."""

    PITCH = "pitch"  # the last block pooled over time only, pitch positions kept, an MLP (model v1)
    INVARIANT = "invariant"  # the last block's mean, max and std over pitch and time, an MLP
    STATISTICS = "statistics"  # every block's standardised mean, max and std over pitch and time, no MLP


class KeyPath(StrEnum):
    """Which features a LogFreqCNN's key head reads."""

    POOLED = "pooled"  # the pitch-position path (with a PITCH or STATISTICS embedding: the embedding itself)
    PITCH_CLASS = "pitch_class"  # a transposition-equivariant path of its own, for ``PitchClassKeyHead``


@dataclass
class LogFreqCNNConfig:
    sample_rate: int = 16000
    window_samples: int = 43200  # 2.7 s at 16 kHz, the paper's crop length
    n_fft: int = 2048
    hop_length: int = 512
    min_frequency: float = 32.70  # C1
    bins_per_octave: int = 24
    octaves: int = 8
    channels: tuple[int, ...] = (24, 48, 96, 192)
    embedding_dim: int = EMBEDDING_DIM  # with STATISTICS pooling: ``statistics_dimension(channels)``
    embedding_pooling: EmbeddingPooling = EmbeddingPooling.PITCH
    key_path: KeyPath = KeyPath.POOLED
    key_path_channels: int = 32
    # A pitch-class key path's profile over the lowest octaves too (bass notes mark the tonic that tells a major
    # key from its relative minor, which share their notes); 0 = the profile over all octaves only.
    key_bass_octaves: int = 0

    def __post_init__(self) -> None:
        self.embedding_pooling = _option(EmbeddingPooling, self.embedding_pooling, "embedding_pooling")
        self.key_path = _option(KeyPath, self.key_path, "key_path")
        if not 0 <= self.key_bass_octaves < self.octaves:
            raise ValueError(f"key_bass_octaves must lie in [0, octaves - 1 = {self.octaves - 1}], not "
                             f"{self.key_bass_octaves}")


def _option(kind: type[StrEnum], value: Any, name: str):
    """``value`` (a member or its string, as config.json and TOML hold it) as a member of ``kind``."""
    try:
        return kind(value)
    except ValueError:
        choices = tuple(member.value for member in kind)
        raise ValueError(f"{name} must be one of {choices}, not {value!r}") from None


PITCH_CLASSES = 12


def statistics_dimension(channels) -> int:
    """Width of the "statistics" embedding: mean, max and std of every channel of every block."""
    return 3 * sum(channels)


class SampleCNN(nn.Module):
    """Raw-waveform SampleCNN: stem conv stride 3, nine conv-BN-ReLU-maxpool(3) blocks, a 1x1 conv to 512."""

    def __init__(self, config: SampleCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config or SampleCNNConfig()
        widths = self.config.channels
        self.stem = nn.Sequential(
            nn.Conv1d(1, widths[0], kernel_size=3, stride=3), nn.BatchNorm1d(widths[0]), nn.ReLU()
        )
        blocks = []
        in_channels = widths[0]
        for out_channels in widths:
            blocks += [
                nn.Conv1d(in_channels, out_channels, kernel_size=3, padding=1),
                nn.BatchNorm1d(out_channels),
                nn.ReLU(),
                nn.MaxPool1d(3),
            ]
            in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Conv1d(in_channels, self.config.embedding_dim, kernel_size=1),
            nn.BatchNorm1d(self.config.embedding_dim),
            nn.ReLU(),
        )

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``audio`` (batch, samples), each window read at one loudness (``engine.window_level``) → (batch,
        embedding_dim)."""
        features = self.head(self.blocks(self.stem(at_reference_level(audio).unsqueeze(1))))
        return features.mean(dim=-1)

    def encode(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding, key_features): the same tensor for this encoder."""
        embedding = self.forward(audio)
        return embedding, embedding

    follows_tuning = False  # no pitch grid to move: ``key_features`` reads the waveform

    def key_features(self, audio: torch.Tensor, tuning_cents: float = 0.0) -> torch.Tensor:
        """What the key head reads (the embedding, for this encoder; ``tuning_cents`` must be 0)."""
        if tuning_cents:
            raise ValueError("a SampleCNN reads the waveform: it has no pitch grid to follow a tuning")
        return self.forward(audio)


def log_frequency_filterbank(
    n_fft: int, sample_rate: int, min_frequency: float, bins_per_octave: int, octaves: int
) -> torch.Tensor:
    """Triangular filters centred on a geometric (semitone-aligned) grid: (n_fft//2+1, bins)."""
    bin_count = bins_per_octave * octaves
    centres = min_frequency * 2.0 ** (torch.arange(-1, bin_count + 1, dtype=torch.float64) / bins_per_octave)
    nyquist = sample_rate / 2
    centres = centres.clamp(max=nyquist)
    fft_frequencies = torch.linspace(0, nyquist, n_fft // 2 + 1, dtype=torch.float64)
    bin_spacing = sample_rate / n_fft
    filters = torch.zeros(n_fft // 2 + 1, bin_count, dtype=torch.float64)
    for index in range(bin_count):
        low, centre, high = centres[index], centres[index + 1], centres[index + 2]
        # Widen filters narrower than an FFT bin so that low notes still collect energy.
        half_width_low = max(float(centre - low), bin_spacing)
        half_width_high = max(float(high - centre), bin_spacing)
        rising = (fft_frequencies - (centre - half_width_low)) / half_width_low
        falling = ((centre + half_width_high) - fft_frequencies) / half_width_high
        filters[:, index] = torch.clamp(torch.minimum(rising, falling), min=0)
    filters = filters / filters.sum(dim=0, keepdim=True).clamp(min=1e-8)
    return filters.float()


def filterbank_bands(filterbank: torch.Tensor, bins_per_band: int) -> tuple[tuple[int, int, int, int], ...]:
    """(first FFT row, end row, first bin, end bin) of each run of ``bins_per_band`` log-frequency bins: the rows
    its filters are nonzero on. The filters are triangles a few FFT bins wide (2,126 of the default's 196,800
    weights are nonzero), so a product over each band's rows alone does a tenth of the dense product's work and
    gives the same sums (the zeros it leaves out add nothing)."""
    bands = []
    for first_bin in range(0, filterbank.shape[1], bins_per_band):
        end_bin = min(first_bin + bins_per_band, filterbank.shape[1])
        rows = (filterbank[:, first_bin:end_bin] != 0).any(dim=1).nonzero().flatten()
        first_row, end_row = (int(rows[0]), int(rows[-1]) + 1) if rows.numel() else (0, 0)
        bands.append((first_row, end_row, first_bin, end_bin))
    return tuple(bands)


def banded_product(magnitude: torch.Tensor, filterbank: torch.Tensor,
                   bands: tuple[tuple[int, int, int, int], ...]) -> torch.Tensor:
    """``magnitude @ filterbank`` ((..., rows) @ (rows, bins) → (..., bins)) over each band's rows only
    (``filterbank_bands``): a third of the dense product's time for the default frontend on one CPU thread."""
    return torch.cat([torch.matmul(magnitude[..., first_row:end_row], filterbank[first_row:end_row, first_bin:end_bin])
                      for first_row, end_row, first_bin, end_bin in bands], dim=-1)


@functools.lru_cache(maxsize=TUNED_FILTERBANKS_KEPT)
def tuned_filterbank(n_fft: int, sample_rate: int, min_frequency: float, bins_per_octave: int, octaves: int,
                     tuning_cents: int) -> torch.Tensor:
    """``log_frequency_filterbank`` with its grid moved by ``tuning_cents`` (whole cents: a track tuned that far
    from A = 440 Hz has its notes on this grid's bins; ``engine.tuning``). Kept for the last few tunings asked."""
    return log_frequency_filterbank(n_fft, sample_rate, min_frequency * 2.0 ** (tuning_cents / 1200), bins_per_octave,
                                    octaves)


@functools.lru_cache(maxsize=TUNED_FILTERBANKS_KEPT)
def tuned_bands(n_fft: int, sample_rate: int, min_frequency: float, bins_per_octave: int, octaves: int,
                tuning_cents: int) -> tuple[tuple[int, int, int, int], ...]:
    """``filterbank_bands`` of ``tuned_filterbank`` (an octave of bins per band)."""
    return filterbank_bands(tuned_filterbank(n_fft, sample_rate, min_frequency, bins_per_octave, octaves, tuning_cents),
                            bins_per_octave)


def magnitude_without_gradient(spectrum: torch.Tensor) -> torch.Tensor:
    """|spectrum| of a complex tensor as sqrt(re² + im²) on its real view: vectorised, where complex ``abs`` calls
    a scalar hypot per value (0.43 -> 0.22 ms per 2.7 s window on one CPU thread). Its gradient is infinite at 0."""
    parts = torch.view_as_real(spectrum)
    squares = parts * parts
    return (squares[..., 0] + squares[..., 1]).sqrt_()


class LogFrequencySpectrogram(nn.Module):
    """Waveform (batch, samples) → log-magnitude log-frequency spectrogram (batch, 1, bins, frames), each window
    first brought to one loudness (``engine.window_level``: the log spectrogram's shape depends on level, and what a
    track sounds like should not)."""

    levels_input = True  # False only in experiments that measure what the levelling changes

    def __init__(self, config: LogFreqCNNConfig) -> None:
        super().__init__()
        self.n_fft = config.n_fft
        self.hop_length = config.hop_length
        self.grid = (config.n_fft, config.sample_rate, config.min_frequency, config.bins_per_octave, config.octaves)
        # False in the inference copy (engine.analyzer): the magnitude is then sqrt(re² + im²), half the time of
        # complex abs, equal to rounding; abs stays where gradients flow (it gives silent bins a zero gradient).
        self.differentiable = True
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.register_buffer(
            "filterbank",
            log_frequency_filterbank(
                config.n_fft, config.sample_rate, config.min_frequency, config.bins_per_octave, config.octaves
            ),
            persistent=False,
        )
        self.bands = filterbank_bands(self.filterbank, config.bins_per_octave)

    def forward(self, audio: torch.Tensor, tuning_cents: float = 0.0) -> torch.Tensor:
        """``tuning_cents`` moves the bins' grid that far from A = 440 Hz (rounded to whole cents; 0: the grid the
        model was trained on)."""
        # torch.stft(center=True) by hand: its (batch, bins, frames) output was transposed for the filterbank and
        # back, and the frames of ``unfold`` go to ``rfft`` in the layout the filterbank's product reads (a fifth
        # less time for the spectrogram on CPU).
        audio = at_reference_level(audio) if self.levels_input else audio.float()
        padding = self.n_fft // 2
        padded = F.pad(audio.float().unsqueeze(1), (padding, padding), mode="reflect").squeeze(1)
        frames = padded.unfold(-1, self.n_fft, self.hop_length) * self.window  # (batch, frames, n_fft)
        spectrum = torch.fft.rfft(frames)  # (batch, frames, n_fft // 2 + 1)
        magnitude = spectrum.abs() if self.differentiable else magnitude_without_gradient(spectrum)
        cents = int(round(tuning_cents))
        if cents == 0:
            filterbank, bands = self.filterbank, self.bands
        else:
            filterbank, bands = tuned_filterbank(*self.grid, cents), tuned_bands(*self.grid, cents)
            filterbank = filterbank.to(self.filterbank.device)
        log_frequency = banded_product(magnitude, filterbank, bands).transpose(1, 2)
        return torch.log1p(100.0 * log_frequency).unsqueeze(1)


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class LogFreqCNN(nn.Module):
    """Fast CPU encoder: log-frequency spectrogram → 4 conv blocks → ``embedding`` path (+ ``key_path``).

    Both paths read the list of every block's output; which modules they are is decided once, from the config's
    two options (``path_kinds``), so ``encode`` is the same for every model."""

    def __init__(self, config: LogFreqCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config or LogFreqCNNConfig()
        self.frontend = LogFrequencySpectrogram(self.config)
        self.input_norm = nn.BatchNorm2d(1)
        blocks = []
        in_channels = 1
        for out_channels in self.config.channels:
            blocks.append(_conv_block(in_channels, out_channels))
            in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        embedding_kind, key_kind = path_kinds(self.config)
        self.embedding = build_path(embedding_kind, self.config)
        self.key_path = None if key_kind is None else build_path(key_kind, self.config)

    def encode(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``audio`` (batch, samples) → (embedding (batch, embedding_dim), key_features): the embedding itself
        without a key path of its own, else that path's output (e.g. (batch, key_path_channels * 24) for a
        pitch-class key path)."""
        outputs = self.block_outputs(audio)
        embedding = self.embedding(outputs)
        return embedding, (embedding if self.key_path is None else self.key_path(outputs))

    follows_tuning = True  # ``key_features`` can read on a pitch grid moved to a track's tuning

    def key_features(self, audio: torch.Tensor, tuning_cents: float = 0.0) -> torch.Tensor:
        """What the key head reads, computing only the blocks the key path reads (a pitch-class key path reads the
        first: half a window's cost; ``engine.key_audio``'s further windows need nothing else), with the
        spectrogram's grid moved by ``tuning_cents`` (``engine.tuning``)."""
        if self.key_path is None:
            return self.embedding(self.block_outputs(audio, tuning_cents=tuning_cents))
        return self.key_path(self.block_outputs(audio, getattr(self.key_path, "blocks_read", None), tuning_cents))

    def block_outputs(self, audio: torch.Tensor, count: int | None = None,
                      tuning_cents: float = 0.0) -> list[torch.Tensor]:
        """The first ``count`` (default: every) convolution blocks' outputs (batch, channels, bins, frames)."""
        outputs = [self.blocks[0](self.input_norm(self.frontend(audio, tuning_cents)))]
        for block in self.blocks[1 : len(self.blocks) if count is None else count]:
            outputs.append(block(outputs[-1]))
        return outputs

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``audio`` (batch, samples) → (batch, embedding_dim)."""
        return self.encode(audio)[0]


def _pooled_bins(config: LogFreqCNNConfig) -> int:
    """Pitch bins left after the blocks' pooling."""
    return (config.bins_per_octave * config.octaves) // 2 ** len(config.channels)


class PathKind(StrEnum):
    """What a path from the blocks to the embedding or the key head computes (its module class)."""

    PITCH_POSITION = "pitch_position"  # PitchPositionPath
    PITCH_INVARIANT = "pitch_invariant"  # PitchInvariantPath
    BLOCK_STATISTICS = "block_statistics"  # BlockStatistics
    PITCH_CLASS = "pitch_class"  # PitchClassKeyPath


EMBEDDING_PATHS = {
    EmbeddingPooling.PITCH: PathKind.PITCH_POSITION,
    EmbeddingPooling.INVARIANT: PathKind.PITCH_INVARIANT,
    EmbeddingPooling.STATISTICS: PathKind.BLOCK_STATISTICS,
}


def path_kinds(config: LogFreqCNNConfig) -> tuple[PathKind, PathKind | None]:
    """(embedding path, key path) of a LogFreqCNN; no key path when the key head reads the embedding (a POOLED
    key path beside a PITCH embedding, which is that path already, or beside a STATISTICS one)."""
    embedding = EMBEDDING_PATHS[config.embedding_pooling]
    if config.key_path is KeyPath.PITCH_CLASS:
        return embedding, PathKind.PITCH_CLASS
    return embedding, (PathKind.PITCH_POSITION if embedding is PathKind.PITCH_INVARIANT else None)


def build_path(kind: PathKind, config: LogFreqCNNConfig) -> nn.Module:
    if kind is PathKind.PITCH_POSITION:
        return PitchPositionPath(config.channels[-1], _pooled_bins(config), config.embedding_dim)
    if kind is PathKind.PITCH_INVARIANT:
        return PitchInvariantPath(config.channels[-1], config.embedding_dim)
    if kind is PathKind.PITCH_CLASS:
        return PitchClassKeyPath(config.channels[0], config.key_path_channels, config.bins_per_octave // 2, config.octaves,
                                 config.key_bass_octaves)
    statistics = BlockStatistics(config.channels)
    if config.embedding_dim != statistics.dimension:
        raise ValueError(f"a statistics embedding has {statistics.dimension} dimensions for channels "
                         f"{tuple(config.channels)}, not embedding_dim {config.embedding_dim}")
    return statistics


class PitchPositionPath(nn.Sequential):
    """The last block pooled over time only (mean and max), the pitch axis kept, then an MLP: it can tell C from
    C#. ``(batch, 2 * channels * pooled_bins)`` → ``(batch, output_dim)``."""

    def __init__(self, channels: int, pooled_bins: int, output_dim: int) -> None:
        super().__init__(*_embedding_mlp(2 * channels * pooled_bins, output_dim))

    def forward(self, block_outputs: list[torch.Tensor]) -> torch.Tensor:
        last = block_outputs[-1]  # (batch, channels, bins, frames)
        return super().forward(torch.cat([last.mean(dim=-1), last.amax(dim=-1)], dim=1).flatten(1))


class PitchInvariantPath(nn.Sequential):
    """The last block's mean, max and std per channel over pitch and time, then an MLP: a transposition barely
    moves it. ``(batch, 3 * channels)`` → ``(batch, output_dim)``."""

    def __init__(self, channels: int, output_dim: int) -> None:
        super().__init__(*_embedding_mlp(3 * channels, output_dim))

    def forward(self, block_outputs: list[torch.Tensor]) -> torch.Tensor:
        return super().forward(BlockStatistics.raw(block_outputs[-1:]))


class PitchClassKeyPath(nn.Module):
    """First-block features (one bin per semitone; of the block outputs it is given) → two convolutions that pool time only → mean and max over
    time → folded over octaves: (batch, 2 * channels * bins_per_octave); with ``bass_octaves`` also folded over the
    lowest ``bass_octaves`` octaves alone, beside it: (batch, 4 * channels * bins_per_octave). Every step treats
    pitch positions alike (convolutions, channel-wise norms), so shifting the input by a semitone rotates the output
    by one bin (up to what crosses the bass octaves' upper edge)."""

    blocks_read = 1  # of the block outputs it is given, it reads the first only

    def __init__(self, in_channels: int, channels: int, bins_per_octave: int, octaves: int, bass_octaves: int = 0) -> None:
        super().__init__()
        if bins_per_octave % PITCH_CLASSES:
            raise ValueError(f"a pitch-class key path needs whole bins per semitone after the first block, not "
                             f"{bins_per_octave} per octave (use bins_per_octave = 24 or 48)")
        self.bins_per_octave, self.octaves, self.bass_octaves = bins_per_octave, octaves, bass_octaves
        self.output_channels = 2 * channels * (2 if bass_octaves else 1)
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.MaxPool2d((1, 2)),
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
        )
        self.norm = nn.BatchNorm1d(self.output_channels)

    def forward(self, block_outputs: list[torch.Tensor]) -> torch.Tensor:
        return self.profile(self.layers(block_outputs[0]))

    def profile(self, features: torch.Tensor) -> torch.Tensor:
        """The key features of ``layers``' output (batch, channels, octaves * bins_per_octave, frames): pooled over
        its frames, folded over octaves, normalised."""
        pooled = torch.cat(time_mean_max(features), dim=1)
        by_octave = pooled.reshape(pooled.shape[0], pooled.shape[1], self.octaves, self.bins_per_octave)
        folded = by_octave.mean(dim=2)
        if self.bass_octaves:
            folded = torch.cat([folded, by_octave[:, :, : self.bass_octaves].mean(dim=2)], dim=1)
        return self.norm(folded).flatten(1)


class PitchClassKeyHead(nn.Module):
    """24 key logits (12 major, then 12 minor, tonic C first) from a pitch-class key path's features: one
    template (linear, or an MLP with ``hidden_dim``) scores the profile rotated to each tonic, so a transposition
    by k semitones moves the logits by exactly k keys."""

    def __init__(self, channels: int, bins_per_octave: int, hidden_dim: int = 0) -> None:
        super().__init__()
        self.channels, self.bins_per_octave = channels, bins_per_octave
        step = bins_per_octave // PITCH_CLASSES
        rotations = (torch.arange(bins_per_octave)[None, :] + step * torch.arange(PITCH_CLASSES)[:, None]) % bins_per_octave
        self.register_buffer("rotations", rotations, persistent=False)  # (tonic, bin) → bin of the profile
        self.template = ClassifierHead(channels * bins_per_octave, 2, hidden_dim)  # (major, minor) per tonic

    def forward(self, key_features: torch.Tensor) -> torch.Tensor:
        batch = key_features.shape[0]
        profile = key_features.reshape(batch, self.channels, self.bins_per_octave)
        rotated = profile[:, :, self.rotations].transpose(1, 2).reshape(batch, PITCH_CLASSES, -1)
        return self.template(rotated).transpose(1, 2).reshape(batch, 2 * PITCH_CLASSES)


def _embedding_mlp(input_dim: int, embedding_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(input_dim, embedding_dim),
        nn.BatchNorm1d(embedding_dim),
        nn.ReLU(),
        nn.Linear(embedding_dim, embedding_dim),
    )


def channel_statistics(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean, max and std (unbiased) of each channel of a block output (batch, channels, bins, frames) over pitch
    and time: three (batch, channels). Pooling and two-pass sums instead of ``amax`` and ``std`` over the flattened
    axes: on the channels-last tensors of the inference network those ran a scalar loop per value, 1.9 ms of a
    window's ~9 ms of inference (now ~0.2 ms; BENCHMARKS.md, "Fixed cost per file"). Equal to float rounding."""
    mean = output.mean(dim=(2, 3))
    centred = output - mean[:, :, None, None]
    variance = (centred * centred).sum(dim=(2, 3)) / (output.shape[2] * output.shape[3] - 1)
    return mean, F.adaptive_max_pool2d(output, 1).flatten(1), variance.sqrt()


def time_mean_max(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and max over time of (batch, channels, bins, frames): two (batch, channels, bins), as pooling (on a
    channels-last tensor ``mean``/``amax`` over the last axis cost ten times as much)."""
    pooling = (features.shape[2], 1)
    return F.adaptive_avg_pool2d(features, pooling)[..., 0], F.adaptive_max_pool2d(features, pooling)[..., 0]


class BlockStatistics(nn.Module):
    """The "statistics" embedding: per-channel mean, max and std of every block's output over pitch and time,
    standardised with moments measured once on training audio (``mean``/``std`` buffers, saved with the weights).

    Early blocks hold timbre and texture, late ones larger patterns; read together, without an MLP trained on
    a few soundtracks, they grouped unseen soundtracks best (BENCHMARKS.md, "Default model", v1.3). Until the moments
    are fitted (``fitted`` is 0) the raw statistics pass through unchanged."""

    def __init__(self, channels) -> None:
        super().__init__()
        self.dimension = statistics_dimension(channels)
        self.register_buffer("mean", torch.zeros(self.dimension))
        self.register_buffer("std", torch.ones(self.dimension))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.int64))

    @staticmethod
    def raw(block_outputs: list[torch.Tensor]) -> torch.Tensor:
        """(batch, 3 * sum of channels): mean, max, std of each block's channels over pitch and time."""
        parts = []
        for output in block_outputs:
            parts += channel_statistics(output)
        return torch.cat(parts, dim=1)

    def fit(self, raw_statistics: torch.Tensor) -> None:
        """Set the moments from (windows, dimension) raw statistics of training audio."""
        self.mean.copy_(raw_statistics.mean(dim=0))
        self.std.copy_(raw_statistics.std(dim=0).clamp_min(1e-6))
        self.fitted.fill_(1)

    def forward(self, block_outputs: list[torch.Tensor]) -> torch.Tensor:
        return (self.raw(block_outputs) - self.mean) / self.std


class ProjectionHead(nn.Module):
    """SemiSupCon projection (training only): Linear(512,512)–ReLU–Linear(512,128), no biases as the reference."""

    def __init__(self, embedding_dim: int = EMBEDDING_DIM, projection_dim: int = PROJECTION_DIM) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(embedding_dim, embedding_dim, bias=False),
            nn.ReLU(),
            nn.Linear(embedding_dim, projection_dim, bias=False),
        )

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.layers(embeddings)


class ClassifierHead(nn.Module):
    """A linear head, or an MLP with one hidden layer when ``hidden_dim`` > 0; returns logits."""

    def __init__(self, embedding_dim: int, output_dim: int, hidden_dim: int = 0) -> None:
        super().__init__()
        if hidden_dim > 0:
            self.layers = nn.Sequential(
                nn.Linear(embedding_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim)
            )
        else:
            self.layers = nn.Sequential(nn.Linear(embedding_dim, output_dim))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.layers(embeddings)


ENCODER_TYPES: dict[str, tuple[type[nn.Module], type]] = {
    "samplecnn": (SampleCNN, SampleCNNConfig),
    "logfreqcnn": (LogFreqCNN, LogFreqCNNConfig),
}


def encoder_config_from_dict(architecture: dict[str, Any]):
    """``{"type": "logfreqcnn", ...fields}`` → the matching config dataclass (unknown keys rejected)."""
    kind = architecture.get("type")
    if kind not in ENCODER_TYPES:
        raise ValueError(f"unknown encoder type {kind!r}; known: {sorted(ENCODER_TYPES)}")
    config_class = ENCODER_TYPES[kind][1]
    fields = {name: value for name, value in architecture.items() if name != "type"}
    if "channels" in fields:
        fields["channels"] = tuple(fields["channels"])
    return config_class(**fields)


def encoder_config_to_dict(config) -> dict[str, Any]:
    """The config as config.json holds it: plain JSON values (options as their strings, channels as a list)."""
    for kind, (_, config_class) in ENCODER_TYPES.items():
        if isinstance(config, config_class):
            values = {name: value.value if isinstance(value, StrEnum) else value for name, value in asdict(config).items()}
            values["channels"] = list(values["channels"])
            return {"type": kind, **values}
    raise TypeError(f"not an encoder config: {config!r}")


def build_encoder(architecture: dict[str, Any]) -> nn.Module:
    config = encoder_config_from_dict(architecture)
    return ENCODER_TYPES[architecture["type"]][0](config)


def build_key_head(encoder: nn.Module, hidden_dim: int = 0) -> nn.Module:
    """The key head that reads ``encoder``'s key features: rotation-shared templates for a pitch-class key path,
    else a classifier on the embedding-sized features."""
    key_path = getattr(encoder, "key_path", None)
    if isinstance(key_path, PitchClassKeyPath):
        return PitchClassKeyHead(key_path.output_channels, key_path.bins_per_octave, hidden_dim)
    return ClassifierHead(encoder.config.embedding_dim, KEY_CLASS_COUNT, hidden_dim)


@dataclass
class HeadSpec:
    """A head as stored in config.json: its label names and hidden width (0 = linear)."""

    labels: list[str]
    hidden_dim: int = 0
    multi_label: bool = True
    metrics: dict[str, Any] = field(default_factory=dict)


class AudioModel(nn.Module):
    """Encoder + optional key and tag heads: what a model folder holds and what the engine runs."""

    def __init__(self, encoder: nn.Module, key_head: nn.Module | None = None, tag_head: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder
        self.key_head = key_head
        self.tag_head = tag_head

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """``audio`` (windows, samples) → embeddings (windows, D), key_logits (windows, 24), tag_logits (windows, T)."""
        embeddings, key_features = self.encoder.encode(audio)
        outputs = {"embeddings": embeddings}
        if self.key_head is not None:
            outputs["key_logits"] = self.key_head(key_features)
        if self.tag_head is not None:
            outputs["tag_logits"] = self.tag_head(embeddings)
        return outputs

    def key_logits(self, audio: torch.Tensor, tuning_cents: float = 0.0) -> torch.Tensor:
        """``audio`` (windows, samples) → key_logits (windows, 24) alone, computing only what the key head reads:
        the same logits as ``forward`` gives for windows whose embedding and tags are not wanted; with
        ``tuning_cents``, read on the pitch grid of a track tuned that far from A = 440 Hz (encoders whose
        ``follows_tuning`` is true)."""
        return self.key_head(self.encoder.key_features(audio, tuning_cents))


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def receptive_window_seconds(config) -> float:
    return config.window_samples / config.sample_rate


__all__ = [
    "AudioModel", "BlockStatistics", "ClassifierHead", "EmbeddingPooling", "HeadSpec", "KeyPath", "LogFreqCNN",
    "LogFreqCNNConfig", "PathKind", "PitchInvariantPath", "PitchPositionPath", "ProjectionHead",
    "SampleCNN", "SampleCNNConfig", "build_encoder", "count_parameters", "encoder_config_from_dict",
    "encoder_config_to_dict", "log_frequency_filterbank", "path_kinds", "receptive_window_seconds", "statistics_dimension", "EMBEDDING_DIM",
    "PROJECTION_DIM",
]
