"""Network definitions shared by inference (engine) and training (training/).

Two encoders map a mono window of audio, shape ``(batch, samples)``, to an embedding ``(batch, 512)``:
- ``SampleCNN``: the SemiSupCon paper's raw-waveform encoder (22,050 Hz, 59,535 samples = 2.7 s).
- ``LogFreqCNN``: a fast CPU encoder on a log-frequency (24 bins/octave) spectrogram, so that pitch
  (and therefore key) is kept on an explicit axis and a library embeds at thousands of times real time.
Heads sit on the embedding: key (24 classes) and tags (multi-label). The projection head is training-only.

Every encoder also has ``encode(audio) -> (embedding, key_features)``: the key head reads ``key_features``.
For most encoders they are the same tensor. A LogFreqCNN with ``embedding_pooling = "invariant"`` splits them:
its embedding (what similarity search compares) is pooled over pitch and time, so tracks are near each other
for how they sound rather than for which key they are in, while the key head keeps the pitch-position path.
A LogFreqCNN with ``key_path = "pitch_class"`` gives the key head its own path instead: first-block features at
one bin per semitone, folded over octaves into pitch classes, read by ``PitchClassKeyHead``, which scores every
rotation with one template. Transposing the music by k semitones then moves the key estimate by exactly k keys
(up to the spectrogram's edges), which a head that learns each key separately only approximates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from engine.keys import KEY_CLASS_COUNT

EMBEDDING_DIM = 512
PROJECTION_DIM = 128


@dataclass
class SampleCNNConfig:
    sample_rate: int = 22050
    window_samples: int = 59535
    channels: tuple[int, ...] = (128, 128, 256, 256, 256, 256, 256, 256, 512)
    embedding_dim: int = EMBEDDING_DIM


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
    embedding_dim: int = EMBEDDING_DIM
    # "pitch": the embedding keeps pitch positions (model v1). "invariant": the embedding is pooled over
    # pitch and time; pitch positions go to the key head only (see the module docstring). "statistics": the
    # embedding is the standardised per-channel mean, max and std of every block over pitch and time, no MLP
    # (embedding_dim must then be ``statistics_dimension(channels)``).
    embedding_pooling: str = "pitch"
    # "pooled": key features are the pitch-position path's (model v1). "pitch_class": a key path of its own,
    # folded into pitch classes, for ``PitchClassKeyHead`` (see the module docstring).
    key_path: str = "pooled"
    key_path_channels: int = 32


EMBEDDING_POOLINGS = ("pitch", "invariant", "statistics")


KEY_PATHS = ("pooled", "pitch_class")
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
        """``audio`` (batch, samples) → (batch, embedding_dim)."""
        features = self.head(self.blocks(self.stem(audio.unsqueeze(1))))
        return features.mean(dim=-1)

    def encode(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding, key_features): the same tensor for this encoder."""
        embedding = self.forward(audio)
        return embedding, embedding


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


class LogFrequencySpectrogram(nn.Module):
    """Waveform (batch, samples) → log-magnitude log-frequency spectrogram (batch, 1, bins, frames)."""

    def __init__(self, config: LogFreqCNNConfig) -> None:
        super().__init__()
        self.n_fft = config.n_fft
        self.hop_length = config.hop_length
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.register_buffer(
            "filterbank",
            log_frequency_filterbank(
                config.n_fft, config.sample_rate, config.min_frequency, config.bins_per_octave, config.octaves
            ),
            persistent=False,
        )

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(
            audio.float(), self.n_fft, self.hop_length, window=self.window, center=True, return_complex=True
        ).abs()
        log_frequency = torch.matmul(spectrum.transpose(1, 2), self.filterbank).transpose(1, 2)
        return torch.log1p(100.0 * log_frequency).unsqueeze(1)


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class LogFreqCNN(nn.Module):
    """Fast CPU encoder: log-frequency spectrogram → 4 conv blocks → pooling → linear 512.

    The pitch-position path pools over time only (mean+max) and keeps the pitch axis, so the key head can
    tell C from C#. With ``embedding_pooling = "invariant"`` the embedding comes from a second path that
    pools over pitch and time (mean, max, std per channel), which a transposition barely moves."""

    def __init__(self, config: LogFreqCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config or LogFreqCNNConfig()
        if self.config.embedding_pooling not in EMBEDDING_POOLINGS:
            raise ValueError(f"embedding_pooling must be one of {EMBEDDING_POOLINGS}, not {self.config.embedding_pooling!r}")
        self.frontend = LogFrequencySpectrogram(self.config)
        self.input_norm = nn.BatchNorm2d(1)
        blocks = []
        in_channels = 1
        for out_channels in self.config.channels:
            blocks.append(_conv_block(in_channels, out_channels))
            in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        pooled_bins = (self.config.bins_per_octave * self.config.octaves) // 2 ** len(self.config.channels)
        # The pitch-position path keeps the name ``projection`` so that v1 weights load into it. A statistics
        # embedding has no use for it (its key path, if any, reads the first block).
        self.projection = (
            _embedding_mlp(2 * in_channels * pooled_bins, self.config.embedding_dim)
            if self.config.embedding_pooling != "statistics" else None
        )
        self.invariant_projection = (
            _embedding_mlp(3 * in_channels, self.config.embedding_dim)
            if self.config.embedding_pooling == "invariant" else None
        )
        self.block_statistics = (
            BlockStatistics(self.config.channels) if self.config.embedding_pooling == "statistics" else None
        )
        if self.block_statistics is not None and self.config.embedding_dim != self.block_statistics.dimension:
            raise ValueError(f"a statistics embedding has {self.block_statistics.dimension} dimensions for channels "
                             f"{tuple(self.config.channels)}, not embedding_dim {self.config.embedding_dim}")
        if self.config.key_path not in KEY_PATHS:
            raise ValueError(f"key_path must be one of {KEY_PATHS}, not {self.config.key_path!r}")
        self.key_path = (
            PitchClassKeyPath(self.config.channels[0], self.config.key_path_channels, self.config.bins_per_octave // 2,
                              self.config.octaves)
            if self.config.key_path == "pitch_class" else None
        )

    def encode(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``audio`` (batch, samples) → (embedding (batch, embedding_dim), key_features): the same tensor for
        a v1 model; (batch, key_path_channels * 2 * bins per octave / 2) with a pitch-class key path."""
        outputs = self.block_outputs(audio)
        first, features = outputs[0], outputs[-1]  # (batch, channels, bins, frames)
        if self.block_statistics is not None:
            embedding = self.block_statistics(outputs)
            return embedding, (embedding if self.key_path is None else self.key_path(first))
        pooled = torch.cat([features.mean(dim=-1), features.amax(dim=-1)], dim=1)
        pitch_embedding = self.projection(pooled.flatten(1))
        if self.invariant_projection is None:
            embedding = pitch_embedding
        else:
            embedding = self.invariant_projection(BlockStatistics.raw([features]))
        key_features = pitch_embedding if self.key_path is None else self.key_path(first)
        return embedding, key_features

    def block_outputs(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """Every convolution block's output (batch, channels, bins, frames), first block first."""
        outputs = [self.blocks[0](self.input_norm(self.frontend(audio)))]
        for block in self.blocks[1:]:
            outputs.append(block(outputs[-1]))
        return outputs

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``audio`` (batch, samples) → (batch, embedding_dim)."""
        return self.encode(audio)[0]


class PitchClassKeyPath(nn.Module):
    """First-block features (one bin per semitone) → two convolutions that pool time only → mean and max over
    time → folded over octaves: (batch, 2 * channels * bins_per_octave). Every step treats pitch positions alike
    (convolutions, channel-wise norms), so shifting the input by a semitone rotates the output by one bin."""

    def __init__(self, in_channels: int, channels: int, bins_per_octave: int, octaves: int) -> None:
        super().__init__()
        if bins_per_octave % PITCH_CLASSES:
            raise ValueError(f"a pitch-class key path needs whole bins per semitone after the first block, not "
                             f"{bins_per_octave} per octave (use bins_per_octave = 24 or 48)")
        self.bins_per_octave, self.octaves, self.output_channels = bins_per_octave, octaves, 2 * channels
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.MaxPool2d((1, 2)),
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
        )
        self.norm = nn.BatchNorm1d(self.output_channels)

    def forward(self, first_block: torch.Tensor) -> torch.Tensor:
        features = self.layers(first_block)  # (batch, channels, octaves * bins_per_octave, frames)
        pooled = torch.cat([features.mean(dim=-1), features.amax(dim=-1)], dim=1)
        folded = pooled.reshape(pooled.shape[0], self.output_channels, self.octaves, self.bins_per_octave).mean(dim=2)
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
            flat = output.flatten(2)
            parts += [flat.mean(dim=-1), flat.amax(dim=-1), flat.std(dim=-1)]
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
    for kind, (_, config_class) in ENCODER_TYPES.items():
        if isinstance(config, config_class):
            values = asdict(config)
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


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def receptive_window_seconds(config) -> float:
    return config.window_samples / config.sample_rate


__all__ = [
    "AudioModel", "BlockStatistics", "ClassifierHead", "HeadSpec", "LogFreqCNN", "LogFreqCNNConfig", "ProjectionHead",
    "SampleCNN", "SampleCNNConfig", "build_encoder", "count_parameters", "encoder_config_from_dict",
    "encoder_config_to_dict", "log_frequency_filterbank", "receptive_window_seconds", "statistics_dimension", "EMBEDDING_DIM",
    "PROJECTION_DIM",
]
