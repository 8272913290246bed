"""Run a model folder on in-memory audio: whole-track embedding = mean of its window embeddings
(L2-normalised), key = argmax of the window-averaged key probabilities, tags = averaged sigmoids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.keys import Key, key_from_index

MAX_WINDOWS = 16


@dataclass
class ModelOutputs:
    embedding: np.ndarray  # (D,) L2-normalised
    key: Key | None
    tag_probabilities: np.ndarray | None  # (T,)


def evenly_spaced_windows(samples: np.ndarray, window_samples: int, max_windows: int = MAX_WINDOWS) -> np.ndarray:
    """(samples,) → (windows, window_samples); short audio is zero-padded to one window."""
    if samples.size <= window_samples:
        return np.pad(samples, (0, window_samples - samples.size))[None, :].astype(np.float32)
    count = min(max_windows, samples.size // window_samples)
    starts = np.linspace(0, samples.size - window_samples, count).astype(int)
    return np.stack([samples[start:start + window_samples] for start in starts]).astype(np.float32)


def run_model(loaded, samples: np.ndarray) -> ModelOutputs:
    """``loaded`` is an ``engine.model_folder.LoadedModel``; ``samples`` at its sample rate."""
    windows = torch.from_numpy(evenly_spaced_windows(samples, loaded.config.window_samples))
    with torch.no_grad():
        outputs = loaded.network(windows)
    embedding = outputs["embeddings"].mean(dim=0)
    embedding = (embedding / (embedding.norm() + 1e-12)).numpy()
    key = None
    if "key_logits" in outputs:
        key = key_from_index(int(outputs["key_logits"].softmax(dim=-1).mean(dim=0).argmax()))
    tags = outputs["tag_logits"].sigmoid().mean(dim=0).numpy() if "tag_logits" in outputs else None
    return ModelOutputs(embedding, key, tags)
