"""The stored key recomputed the plain way, as the oracle tests compare the engine against: the unfolded network's
mean softmax over a track's analysis windows; when the two best keys of that mean are closer than the stop margin,
over those and its further key windows; when the two best keys of that mean are closer than the copy margin, over
their copies resampled by torchaudio a semitone up (18 -> 17) and down (17 -> 18, cut to a window) too, each copy's
keys rolled back by its semitone."""

from __future__ import annotations

import numpy as np


def moved_back(probabilities: np.ndarray, semitones: int) -> np.ndarray:
    """Keys of audio moved up by ``semitones``, as the keys of the audio before (each mode's tonics rolled)."""
    return np.concatenate([np.roll(probabilities[:, :12], -semitones, axis=1),
                           np.roll(probabilities[:, 12:], -semitones, axis=1)], axis=1)


def _margin(probabilities: np.ndarray) -> float:
    second, first = np.sort(probabilities.mean(axis=0))[-2:]
    return float(first - second)


def key_probabilities(network, windows: np.ndarray, further: np.ndarray | None = None,
                      copy_margin: float | None = None, stop_margin: float | None = None) -> np.ndarray:
    """(24,): ``network`` (eval mode, unfolded) over the analysis ``windows`` (N, samples), then over the
    ``further`` key windows too when the first read's two best keys are within ``stop_margin``, then over their
    semitone copies when the two best keys of all plain reads are within ``copy_margin`` (the engine's
    ``KEY_STOP_MARGIN`` and ``COPY_MARGIN`` when None)."""
    import torch
    import torchaudio

    import engine.analyzer

    copy_margin = engine.analyzer.COPY_MARGIN if copy_margin is None else copy_margin
    stop_margin = engine.analyzer.KEY_STOP_MARGIN if stop_margin is None else stop_margin
    size = windows.shape[1]

    def read(batch: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(network(batch)["key_logits"], -1).numpy()

    plain = read(torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)))
    key_windows = windows
    if further is not None and len(further) and _margin(plain) < stop_margin:
        key_windows = np.concatenate([windows, further])
        plain = np.concatenate([plain, read(torch.from_numpy(np.ascontiguousarray(further, dtype=np.float32)))])
    if _margin(plain) >= copy_margin:
        return plain.mean(axis=0)
    audio = torch.from_numpy(np.ascontiguousarray(key_windows, dtype=np.float32))
    up = torchaudio.functional.resample(audio, 18, 17)
    down = torchaudio.functional.resample(audio, 17, 18)[:, :size]
    assert up.shape[1] == size * 17 // 18
    reads = [plain, moved_back(read(up), 1), moved_back(read(down), -1)]
    return np.concatenate(reads).mean(axis=0)
