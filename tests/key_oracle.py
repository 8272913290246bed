"""The stored key recomputed the plain way, as the oracle tests compare the engine against: the unfolded network's
mean softmax over a track's key windows and their copies resampled by torchaudio a semitone up (18 -> 17) and
down (17 -> 18, cut to a window), each copy's keys rolled back by its semitone."""

from __future__ import annotations

import numpy as np


def moved_back(probabilities: np.ndarray, semitones: int) -> np.ndarray:
    """Keys of audio moved up by ``semitones``, as the keys of the audio before (each mode's tonics rolled)."""
    return np.concatenate([np.roll(probabilities[:, :12], -semitones, axis=1),
                           np.roll(probabilities[:, 12:], -semitones, axis=1)], axis=1)


def key_probabilities(network, key_windows: np.ndarray) -> np.ndarray:
    """(24,): ``network`` (eval mode, unfolded) over ``key_windows`` (N, samples) and their semitone copies."""
    import torch
    import torchaudio

    size = key_windows.shape[1]
    audio = torch.from_numpy(np.ascontiguousarray(key_windows, dtype=np.float32))
    up = torchaudio.functional.resample(audio, 18, 17)
    down = torchaudio.functional.resample(audio, 17, 18)[:, :size]
    assert up.shape[1] == size * 17 // 18
    with torch.no_grad():
        def read(batch: torch.Tensor) -> np.ndarray:
            return torch.softmax(network(batch)["key_logits"], -1).numpy()

        reads = [read(audio), moved_back(read(up), 1), moved_back(read(down), -1)]
    return np.concatenate(reads).mean(axis=0)
