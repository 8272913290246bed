"""The stored key recomputed the plain way, as the oracle tests compare the engine against: the unfolded network's
mean softmax over a track's key windows and, when the two best keys of that mean are closer than the copy margin,
over their copies resampled by torchaudio a semitone up (18 -> 17) and down (17 -> 18, cut to a window) too, each
copy's keys rolled back by its semitone."""

from __future__ import annotations

import numpy as np


def moved_back(probabilities: np.ndarray, semitones: int) -> np.ndarray:
    """Keys of audio moved up by ``semitones``, as the keys of the audio before (each mode's tonics rolled)."""
    return np.concatenate([np.roll(probabilities[:, :12], -semitones, axis=1),
                           np.roll(probabilities[:, 12:], -semitones, axis=1)], axis=1)


def key_probabilities(network, key_windows: np.ndarray, copy_margin: float | None = None) -> np.ndarray:
    """(24,): ``network`` (eval mode, unfolded) over ``key_windows`` (N, samples), and their semitone copies when
    its two best keys are within ``copy_margin`` (the engine's ``COPY_MARGIN`` when None)."""
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

        plain = read(audio)
        if copy_margin is None:
            from engine.analyzer import COPY_MARGIN as copy_margin
        second, first = np.sort(plain.mean(axis=0))[-2:]
        if first - second >= copy_margin:
            return plain.mean(axis=0)
        reads = [plain, moved_back(read(up), 1), moved_back(read(down), -1)]
    return np.concatenate(reads).mean(axis=0)
