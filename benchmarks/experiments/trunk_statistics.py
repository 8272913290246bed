"""Is a model's similarity limited by its embedding head or by its trunk? Same-soundtrack retrieval on the held-out
game music for the model's embedding and for its trunk's plain statistics (per-channel mean, max and std of the
last convolution block over pitch and time, averaged over the evaluation's windows, standardised over the set).

    python -m benchmarks.experiments.trunk_statistics --model resources/models/default \
        --debian ../data/debian/manifest.jsonl

(from the repository root). LogFreqCNN models only. Prints one line per embedding;
docs/lab-notes/2026-11-30-model-history.md ("v1.2") has the figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from engine.audio import decode_mono
from engine.model_folder import load_model
from engine.networks import BlockStatistics
from training.corpora.manifest import read_manifest
from training.evaluation.logmel_embedding import standardised
from training.evaluation.metrics import same_label_retrieval
from training.evaluation.model_inference import evenly_spaced_windows


def trunk_statistics(encoder: torch.nn.Module, windows: torch.Tensor) -> np.ndarray:
    """Window-averaged (mean, max, std) per channel of the last block, over pitch and time."""
    return BlockStatistics.raw(encoder.block_outputs(windows)[-1:]).mean(0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model folder (LogFreqCNN)")
    parser.add_argument("--debian", type=Path, required=True, help="game-music manifest (its test split is used)")
    options = parser.parse_args()
    loaded = load_model(options.model)
    records = [record for record in read_manifest(options.debian) if record["split"] == "test"]
    statistics, embeddings, soundtracks = [], [], []
    with torch.inference_mode():
        for record in records:
            audio = decode_mono(record["path"], loaded.config.sample_rate)
            windows = torch.from_numpy(evenly_spaced_windows(audio, loaded.config.window_samples))
            statistics.append(trunk_statistics(loaded.network.encoder, windows))
            window_embeddings = torch.nn.functional.normalize(loaded.network(windows)["embeddings"], dim=1)
            embeddings.append(window_embeddings.mean(0).numpy())
            soundtracks.append(record["soundtrack"])
    statistics = np.stack(statistics)
    for name, vectors in (("model embedding", np.stack(embeddings)),
                          ("trunk statistics, standardised", standardised(statistics)),
                          ("log trunk statistics, standardised", standardised(np.log1p(np.maximum(statistics, 0))))):
        print(f"{name}: {same_label_retrieval(vectors, soundtracks)}")


if __name__ == "__main__":
    main()
