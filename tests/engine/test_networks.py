"""Encoder outputs: the pitch-invariant embedding path hardly moves under transposition, the key path does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.networks import LogFreqCNN, LogFreqCNNConfig, SampleCNN, SampleCNNConfig

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
    assert encoder.invariant_projection is None


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
