"""Run a model folder on in-memory audio: whole-track embedding = mean of its window embeddings
(L2-normalised), tags = averaged sigmoids, over up to ``MAX_WINDOWS`` evenly spaced windows; key = argmax of the
key probabilities averaged over the windows ``engine index`` reads for its key (``engine.key_audio``), so the key
scored is the key a user gets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.analyzer import Analyzer
from engine.key_audio import layout_from_samples
from engine.keys import Key, key_from_index
from engine.track_analysis import DEFAULT_MAX_WINDOWS

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
        key = key_from_index(int(product_key_probabilities(loaded, samples).argmax()))
    tags = outputs["tag_logits"].sigmoid().mean(dim=0).numpy() if "tag_logits" in outputs else None
    return ModelOutputs(embedding, key, tags)


def product_key_probabilities(loaded, samples: np.ndarray) -> np.ndarray:
    """(24,) key probabilities as indexing computes them for a file holding ``samples`` (``engine.analyzer``): the
    mean softmax over its analysis windows and the further windows its key reads, on its tuning's pitch grid."""
    config = loaded.config
    windows, extras = layout_from_samples(samples, config.sample_rate, config.window_samples, DEFAULT_MAX_WINDOWS)
    return Analyzer(loaded).analyze_windows(windows, extras).key_probs
