"""How much of a model's similarity depends on how window features become a track vector? On the held-out
game music, every non-overlapping window of every track (and of the evaluation's 30 s, 96 kbps excerpts) is
run once; then same-soundtrack R-precision and excerpt top-1 are measured for several aggregations:

- the track vector over 6 evenly spaced windows (what ``engine index`` uses), 16 (what ``engine eval`` uses)
  or all of them;
- for excerpts, the best-matching 30 s stretch of the track (a sliding mean over consecutive windows) instead
  of the whole track's mean, with every window or every k-th window indexed.

Features: the model's embedding, and the per-channel mean, max and std of each convolution block (LogFreqCNN
only), standardised over all windows of the set. Run from the repository root:

    python -m benchmarks.experiments.window_aggregation --model resources/models/default \
        --debian ../data/debian/manifest.jsonl --cache ../data/exp/windows_default.npz

docs/lab-notes/2026-11-30-embedding-experiments.md ("Where the excerpt misses come from") has the figures.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import torch

from engine.audio import decode_mono
from engine.model_folder import load_model
from engine.networks import BlockStatistics
from training.corpora.manifest import read_manifest
from training.evaluation.evaluate import at_rate, draw_excerpt_and_shifts
from training.evaluation.metrics import same_label_retrieval

EVALUATION_RATE = 22050
WINDOW_COUNTS = (6, 16, None)  # None = every window
STRIDES = (1, 2, 4)
EXCERPT_WINDOWS = 11  # 30 s of 2.7 s windows


def all_windows(samples: np.ndarray, window_samples: int) -> np.ndarray:
    """(samples,) → (windows, window_samples), non-overlapping; short audio is padded to one window."""
    count = max(1, samples.size // window_samples)
    padded = np.pad(samples, (0, max(0, count * window_samples - samples.size)))
    return padded[: count * window_samples].reshape(count, window_samples).astype(np.float32)


def window_features(network: torch.nn.Module, windows: np.ndarray) -> dict[str, np.ndarray]:
    """Per window: the unit-length embedding and, for a LogFreqCNN, each block's channel statistics."""
    audio = torch.from_numpy(windows)
    with torch.inference_mode():
        features = {"embedding": torch.nn.functional.normalize(network(audio)["embeddings"], dim=1).numpy()}
        encoder = network.encoder
        if hasattr(encoder, "block_outputs"):
            for index, output in enumerate(encoder.block_outputs(audio)):
                features[f"block{index}"] = BlockStatistics.raw([output]).numpy()
    return features


def collect(model: Path, debian: Path, seed: int = 5) -> dict[str, np.ndarray]:
    """Window features of every held-out track and of its excerpt, drawn as ``engine eval`` draws them."""
    loaded = load_model(model)
    rate, window_samples = loaded.config.sample_rate, loaded.config.window_samples
    records = [record for record in read_manifest(debian) if record["split"] == "test"]
    rng = random.Random(seed)
    parts: dict[str, list[np.ndarray]] = {}
    soundtracks = []
    for record in records:
        track = decode_mono(record["path"], EVALUATION_RATE)
        excerpt, _ = draw_excerpt_and_shifts(track, EVALUATION_RATE, rng)
        for prefix, audio in (("track", track), ("excerpt", excerpt)):
            features = window_features(loaded.network, all_windows(at_rate(audio, EVALUATION_RATE, rate), window_samples))
            for name, values in features.items():
                parts.setdefault(f"{prefix}/{name}", []).append(values)
            parts.setdefault(f"{prefix}/count", []).append(np.array([len(features["embedding"])]))
        soundtracks.append(record["soundtrack"])
    arrays = {name: np.concatenate(values) for name, values in parts.items()}
    arrays["soundtrack"] = np.array(soundtracks)
    return arrays


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=-1, keepdims=True) + 1e-12)


def _evenly(windows: np.ndarray, count: int | None) -> np.ndarray:
    if count is None or len(windows) <= count:
        return windows
    return windows[np.linspace(0, len(windows) - 1, count).astype(int)]


def _stretches(windows: np.ndarray, stride: int) -> np.ndarray:
    """Unit means of every 30 s run of windows, with only every ``stride``-th window indexed."""
    kept = windows[::stride]
    length = max(1, min(len(kept), round(EXCERPT_WINDOWS / stride)))
    sums = np.cumsum(np.vstack([np.zeros((1, kept.shape[1])), kept]), axis=0)
    return _unit((sums[length:] - sums[:-length]) / length)


def report(arrays: dict[str, np.ndarray]) -> list[str]:
    soundtracks = list(arrays["soundtrack"])
    track_counts, excerpt_counts = arrays["track/count"], arrays["excerpt/count"]
    names = sorted(name.split("/", 1)[1] for name in arrays if name.startswith("track/") and name != "track/count")
    block_names = [name for name in names if name.startswith("block")]
    lines = ["features | track windows | R-precision | mAP | excerpt top-1, mean | excerpt top-1, best 30 s (stride "
             + ", ".join(map(str, STRIDES)) + ")"]
    for label, keys in [("embedding", ["embedding"])] + [(name, [name]) for name in block_names] + (
            [("all blocks", block_names)] if block_names else []):
        track = np.concatenate([arrays[f"track/{key}"] for key in keys], axis=1)
        excerpt = np.concatenate([arrays[f"excerpt/{key}"] for key in keys], axis=1)
        if keys != ["embedding"]:
            mean, std = track.mean(0), track.std(0) + 1e-8
            track, excerpt = (track - mean) / std, (excerpt - mean) / std
        tracks = np.split(track, np.cumsum(track_counts)[:-1])
        excerpts = _unit(np.stack([e.mean(0) for e in np.split(excerpt, np.cumsum(excerpt_counts)[:-1])]))
        targets = np.arange(len(tracks))
        stretch_hits = []
        for stride in STRIDES:
            stretches = [_stretches(t, stride) for t in tracks]
            scores = np.array([[float(np.max(s @ query)) for s in stretches] for query in excerpts])
            stretch_hits.append(float(np.mean(scores.argmax(1) == targets)))
        for count in WINDOW_COUNTS:
            means = _unit(np.stack([_evenly(t, count).mean(0) for t in tracks]))
            grouping = same_label_retrieval(means, soundtracks)
            top1 = float(np.mean((excerpts @ means.T).argmax(1) == targets))
            lines.append(f"{label} | {count or 'all'} | {grouping['r_precision']:.3f} | {grouping['map']:.3f} | {top1:.3f} | "
                         + " / ".join(f"{hit:.3f}" for hit in stretch_hits))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--debian", type=Path, required=True, help="game-music manifest (its test split is used)")
    parser.add_argument("--cache", type=Path, help="npz of the window features: written once, then reused")
    options = parser.parse_args()
    if options.cache and options.cache.is_file():
        arrays = dict(np.load(options.cache))
    else:
        torch.set_num_threads(2)
        arrays = collect(options.model, options.debian)
        if options.cache:
            np.savez(options.cache, **arrays)
    print("\n".join(report(arrays)))


if __name__ == "__main__":
    main()
