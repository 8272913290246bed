"""Could a file query find the recording an excerpt was cut from by matching single windows instead of whole-track
means? Each held-out game track keeps one window every 27 s (about what ``engine index`` analyses), each 30 s,
96 kbps excerpt (drawn as ``engine eval`` draws them) is cut into windows at a fine hop, so one of them lines up
with a stored window; a track scores its best window match. Prints top-1 and how the true track's best match
compares with the best match among the other tracks (a threshold needs the two apart). Run from the repository
root:

    python -m benchmarks.experiments.passage_matching --model resources/models/default \
        --debian ../data/debian/manifest.jsonl

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
from training.corpora.manifest import read_manifest
from training.evaluation.evaluate import at_rate, draw_excerpt_and_shifts

EVALUATION_RATE = 22050
STORED_SPACING_SECONDS = 27.0  # a 30 s excerpt then always holds one stored 2.7 s window whole
QUERY_HOPS_SECONDS = (0.5, 1.0)


def _windows(audio: np.ndarray, window_samples: int, hop_samples: int) -> np.ndarray:
    starts = np.arange(0, max(1, audio.size - window_samples + 1), hop_samples)
    return np.stack([np.pad(audio[s:s + window_samples], (0, max(0, window_samples - audio[s:s + window_samples].size)))
                     for s in starts]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--debian", type=Path, required=True, help="game-music manifest (its test split is used)")
    options = parser.parse_args()
    loaded = load_model(options.model)
    rate, window = loaded.config.sample_rate, loaded.config.window_samples

    def embed(windows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.nn.functional.normalize(loaded.network(torch.from_numpy(windows))["embeddings"], dim=1).numpy()

    rng = random.Random(5)
    stored, queries = [], {hop: [] for hop in QUERY_HOPS_SECONDS}
    for record in (r for r in read_manifest(options.debian) if r["split"] == "test"):
        track = decode_mono(record["path"], EVALUATION_RATE)
        excerpt, _ = draw_excerpt_and_shifts(track, EVALUATION_RATE, rng)
        stored.append(embed(_windows(at_rate(track, EVALUATION_RATE, rate), window, int(STORED_SPACING_SECONDS * rate))))
        for hop in QUERY_HOPS_SECONDS:
            queries[hop].append(embed(_windows(at_rate(excerpt, EVALUATION_RATE, rate), window, int(hop * rate))))
    count = len(stored)
    print(f"{count} tracks, {np.mean([len(s) for s in stored]):.1f} stored windows per track")
    for hop, excerpts in queries.items():
        best = np.array([[float(np.max(q @ s.T)) for s in stored] for q in excerpts])
        true = best[np.arange(count), np.arange(count)]
        others = np.where(np.eye(count, dtype=bool), -np.inf, best).max(axis=1)
        print(f"query hop {hop} s ({np.mean([len(q) for q in excerpts]):.0f} windows): top-1 "
              f"{np.mean(best.argmax(1) == np.arange(count)):.3f}; own track's best match, 5th/50th percentile "
              f"{np.percentile(true, 5):.3f}/{np.percentile(true, 50):.3f}; other tracks' best, 50th/95th "
              f"{np.percentile(others, 50):.3f}/{np.percentile(others, 95):.3f}")


if __name__ == "__main__":
    main()
