"""Encoder outputs: the pitch-invariant embedding path hardly moves under transposition, the key path does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.networks import (
    BlockStatistics, ClassifierHead, LogFreqCNN, LogFreqCNNConfig, PitchClassKeyHead, PitchClassKeyPath, PitchPositionPath,
    SampleCNN, SampleCNNConfig, build_key_head, time_mean_max,
)

RATE = 16000


def _chord(root_hz: float, seconds: float = 2.7) -> torch.Tensor:
    """A major triad of harmonic tones: timbre fixed, pitch set by ``root_hz``."""
    time = np.arange(int(seconds * RATE)) / RATE
    signal = sum(
        np.sin(2 * np.pi * root_hz * ratio * harmonic * time) / harmonic
        for ratio in (1.0, 2 ** (4 / 12), 2 ** (7 / 12)) for harmonic in (1, 2, 3, 4)
    )
    return torch.tensor(signal / np.abs(signal).max(), dtype=torch.float32)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def test_pitch_pooling_gives_the_same_tensor_to_embedding_and_key_head():
    encoder = LogFreqCNN(LogFreqCNNConfig()).eval()
    audio = torch.randn(2, encoder.config.window_samples) * 0.1
    with torch.no_grad():
        embedding, key_features = encoder.encode(audio)
    assert embedding is key_features and embedding.shape == (2, 512)
    assert isinstance(encoder.embedding, PitchPositionPath) and encoder.key_path is None


def test_invariant_embedding_moves_less_than_the_key_path_under_transposition():
    torch.manual_seed(0)
    encoder = LogFreqCNN(LogFreqCNNConfig(embedding_pooling="invariant")).eval()
    shifts = [2, 3, 5]
    audio = torch.stack([_chord(220.0)] + [_chord(220.0 * 2 ** (k / 12)) for k in shifts])
    with torch.no_grad():
        embedding, key_features = encoder.encode(audio)
    invariant = [_cosine(embedding[0], embedding[i]) for i in range(1, len(audio))]
    positional = [_cosine(key_features[0], key_features[i]) for i in range(1, len(audio))]
    assert min(invariant) > 0.95
    assert np.mean(invariant) > np.mean(positional)


def test_unknown_pooling_is_refused_and_samplecnn_encodes_one_tensor():
    with pytest.raises(ValueError, match="embedding_pooling"):
        LogFreqCNN(LogFreqCNNConfig(embedding_pooling="sideways"))
    encoder = SampleCNN(SampleCNNConfig(channels=(8,) * 9, embedding_dim=16)).eval()
    with torch.no_grad():
        embedding, key_features = encoder.encode(torch.randn(1, encoder.config.window_samples) * 0.1)
    assert embedding is key_features and embedding.shape == (1, 16)


def test_pitch_class_key_head_moves_its_logits_by_the_transposition():
    """Random weights are enough: equivariance is structural, so shifting a chord by k semitones rotates the 24
    logits by k keys within each mode (edges of the spectrogram aside)."""
    torch.manual_seed(1)
    encoder = LogFreqCNN(LogFreqCNNConfig(key_path="pitch_class")).eval()
    head = build_key_head(encoder).eval()
    assert isinstance(head, PitchClassKeyHead)
    base = 196.0
    audio = torch.stack([_chord(base)] + [_chord(base * 2 ** (k / 12)) for k in (1, 5, 7)])
    with torch.no_grad():
        embedding, key_features = encoder.encode(audio)
        logits = head(key_features).reshape(len(audio), 2, 12)
    assert embedding.shape == (4, 512) and key_features.shape == (4, 2 * 32 * 12)
    centred = logits - logits.mean(dim=2, keepdim=True)
    for row, k in enumerate((1, 5, 7), start=1):
        distances = [float((centred[row] - torch.roll(centred[0], shifts=r, dims=1)).norm()) for r in range(12)]
        assert int(np.argmin(distances)) == k
        assert distances[k] < 0.5 * sorted(distances)[1]


def test_pitch_class_head_rotation_is_exact_on_a_rotated_profile():
    torch.manual_seed(2)
    head = PitchClassKeyHead(channels=3, bins_per_octave=24, hidden_dim=8).eval()
    features = torch.randn(1, 3, 24)
    rotated = torch.roll(features, shifts=2 * 4, dims=2)  # two bins per semitone: up a major third
    with torch.no_grad():
        logits, moved = head(features.flatten(1)).reshape(2, 12), head(rotated.flatten(1)).reshape(2, 12)
    assert torch.allclose(moved, torch.roll(logits, shifts=4, dims=1), atol=1e-5)


def test_v1_encoders_keep_a_classifier_key_head_and_bad_key_paths_are_refused():
    assert isinstance(build_key_head(LogFreqCNN(LogFreqCNNConfig())), ClassifierHead)
    with pytest.raises(ValueError, match="key_path"):
        LogFreqCNN(LogFreqCNNConfig(key_path="chromatic"))
    with pytest.raises(ValueError, match="bins per semitone"):
        LogFreqCNN(LogFreqCNNConfig(key_path="pitch_class", bins_per_octave=36))


def test_statistics_embedding_is_every_blocks_standardised_channel_statistics():
    from engine.networks import BlockStatistics, statistics_dimension

    torch.manual_seed(0)
    channels = (24, 48, 96, 192)
    encoder = LogFreqCNN(LogFreqCNNConfig(embedding_pooling="statistics", key_path="pitch_class",
                                          embedding_dim=statistics_dimension(channels))).eval()
    assert isinstance(encoder.embedding, BlockStatistics) and isinstance(encoder.key_path, PitchClassKeyPath)
    audio = torch.randn(6, encoder.config.window_samples) * 0.1
    with torch.no_grad():
        raw = BlockStatistics.raw(encoder.block_outputs(audio))
        unfitted, key_features = encoder.encode(audio)
        encoder.embedding.fit(raw)
        fitted, _ = encoder.encode(audio)
    assert raw.shape == (6, 3 * sum(channels)) and key_features.shape[1] == encoder.key_path.output_channels * 12
    torch.testing.assert_close(unfitted, raw)  # until fitted, the statistics pass through
    varying = raw.std(dim=0) > 1e-3  # channels a random network leaves (nearly) dead stay at 0
    assert varying.sum() > raw.shape[1] // 4
    torch.testing.assert_close(fitted.mean(dim=0)[varying], torch.zeros(int(varying.sum())), atol=1e-3, rtol=0)
    torch.testing.assert_close(fitted.std(dim=0)[varying], torch.ones(int(varying.sum())), atol=1e-3, rtol=0)
    assert int(encoder.embedding.fitted) == 1 and "embedding.mean" in encoder.state_dict()


def test_statistics_embedding_needs_its_own_width():
    with pytest.raises(ValueError, match="1080 dimensions"):
        LogFreqCNN(LogFreqCNNConfig(embedding_pooling="statistics"))


def test_a_bass_profile_sits_beside_the_all_octave_profile_of_a_pitch_class_key_path():
    """``key_bass_octaves``: the key features are the all-octave profile followed by the lowest octaves' own, so
    a note in the bass moves both and a note above the bass octaves only the first."""
    torch.manual_seed(0)
    plain = LogFreqCNN(LogFreqCNNConfig(key_path="pitch_class", channels=(8, 16, 32, 32), embedding_dim=64)).eval()
    with_bass = LogFreqCNN(LogFreqCNNConfig(key_path="pitch_class", channels=(8, 16, 32, 32), embedding_dim=64,
                                            key_bass_octaves=3)).eval()
    assert with_bass.key_path.output_channels == 2 * plain.key_path.output_channels
    first_block = torch.rand(2, 8, 96, 40)
    with torch.no_grad():
        features = with_bass.key_path.layers(first_block)
        by_octave = torch.cat(time_mean_max(features), dim=1).reshape(2, -1, 8, 12)
        expected = torch.cat([by_octave.mean(dim=2), by_octave[:, :, :3].mean(dim=2)], dim=1)
        expected = with_bass.key_path.norm(expected).flatten(1)
        torch.testing.assert_close(with_bass.key_path([first_block]), expected)
    assert build_key_head(with_bass)(expected).shape == (2, 24)
    with pytest.raises(ValueError, match="key_bass_octaves must lie in"):
        LogFreqCNNConfig(key_path="pitch_class", key_bass_octaves=8)
