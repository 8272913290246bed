"""The log-mel-statistics similarity baseline: per-band mean and standard deviation of a log-mel
spectrogram, the simplest embedding a learned one has to beat at same-soundtrack retrieval."""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

MEL_BANDS = 64
FFT_SIZE = 2048
HOP_SIZE = 512
LOG_OFFSET = 1e-6
MAX_SECONDS_PER_CHUNK = 60.0


def logmel_statistics(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(samples,) mono → (2 * MEL_BANDS,) float32: means then standard deviations of log-mel bands."""
    transform = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=FFT_SIZE, hop_length=HOP_SIZE, n_mels=MEL_BANDS)
    chunk = int(MAX_SECONDS_PER_CHUNK * sample_rate)
    frames = []
    with torch.no_grad():
        for start in range(0, max(1, samples.size), chunk):
            piece = torch.from_numpy(np.ascontiguousarray(samples[start:start + chunk], dtype=np.float32))
            if piece.numel() < FFT_SIZE:
                piece = torch.nn.functional.pad(piece, (0, FFT_SIZE - piece.numel()))
            frames.append(torch.log(transform(piece) + LOG_OFFSET))
    logmel = torch.cat(frames, dim=1)
    return torch.cat([logmel.mean(dim=1), logmel.std(dim=1)]).numpy().astype(np.float32)


def standardised(embeddings: np.ndarray) -> np.ndarray:
    """(items, dims) → z-scored per dimension over the set, so no band dominates the cosine."""
    mean = embeddings.mean(axis=0, keepdims=True)
    std = embeddings.std(axis=0, keepdims=True) + 1e-8
    return (embeddings - mean) / std
