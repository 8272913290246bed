"""How much of the training split's mean track vector to take away: same-soundtrack R-precision of the stored vectors
and embedding-only excerpt top-1 for centring strengths 0 … 1, from one pass over one split.

Why: centring v1.3 fully (``engine train centre-embedding``) raised held-out R-precision by 1.6 points but lowered
the embedding-only 96 kbps excerpt top-1 by 2.9, one of the floors a new default must not drop. A window embedding
of a model centred with strength s is the uncentred one minus s·centre (``training.embedding_centre.fold_centre``),
so every strength is read from the same unnormalised vectors. The strength is chosen here, on validation; the test
split is looked at once, with ``engine eval``, for the model that choice gives. Run from the repository root:

    python -m benchmarks.experiments.centring_strength --model resources/models/default \\
        --debian ../data/debian/manifest.jsonl --split val [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch

from benchmarks.experiments.stored_vector_retrieval import _located
from engine.analyzer import Analyzer
from engine.audio import AudioDecodeError, decode_mono
from engine.model_folder import load_model
from training.corpora.manifest import read_manifest
from training.embedding_centre import reference_track_vectors
from training.evaluation.corruptions import mp3_round_trip
from training.evaluation.evaluate import EXCERPT_BITRATE, at_rate, draw_clean_excerpt_and_shifts
from training.evaluation.metrics import per_query_label_retrieval, top1_retrieval
from training.evaluation.model_inference import evenly_spaced_windows

EVALUATION_RATE = 22050
STRENGTHS = (0.0, 0.25, 0.5, 0.625, 0.75, 0.875, 1.0)


def mean_window_embedding(loaded, samples: np.ndarray) -> np.ndarray:
    """The unnormalised mean window embedding ``run_model`` would normalise (its windows, its network)."""
    windows = torch.from_numpy(evenly_spaced_windows(samples, loaded.config.window_samples))
    with torch.no_grad():
        return loaded.network(windows)["embeddings"].mean(dim=0).double().numpy()


def split_vectors(loaded, records: list[dict], manifest: Path, seed: int) -> dict[str, np.ndarray | list[str]]:
    """Per decodable track: stored-vector mean (indexing's windows), whole-track and 96 kbps excerpt means (the
    evaluation's windows and excerpt draws, seeded as ``engine eval`` seeds them)."""
    analyzer = Analyzer(loaded)
    paths = [str(_located(Path(r["path"]), manifest)) for r in records]
    rng = random.Random(seed)
    stored, whole, excerpts, labels = [], [], [], []
    for record, path in zip(records, paths):
        try:
            track = decode_mono(path, EVALUATION_RATE)
        except AudioDecodeError:
            continue
        clean_excerpt, _ = draw_clean_excerpt_and_shifts(track, EVALUATION_RATE, rng)
        excerpt = mp3_round_trip(clean_excerpt, EVALUATION_RATE, EXCERPT_BITRATE)
        rate = loaded.config.sample_rate
        stored.append(reference_track_vectors(analyzer, [path])[0])
        whole.append(mean_window_embedding(loaded, at_rate(track, EVALUATION_RATE, rate)))
        excerpts.append(mean_window_embedding(loaded, at_rate(excerpt, EVALUATION_RATE, rate)))
        labels.append(record.get("soundtrack") or record["package"])
    return {"stored": np.stack(stored), "whole": np.stack(whole), "excerpts": np.stack(excerpts), "labels": labels}


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)


def strength_rows(vectors: dict, centre: np.ndarray, strengths: tuple[float, ...] = STRENGTHS) -> list[dict]:
    """One row per strength: stored-vector R-precision and mAP, whole-track R-precision, excerpt top-1."""
    rows = []
    for strength in strengths:
        shift = strength * centre
        r_precision, average_precision = per_query_label_retrieval(unit(vectors["stored"] - shift), vectors["labels"])
        whole = unit(vectors["whole"] - shift)
        whole_r_precision, _ = per_query_label_retrieval(whole, vectors["labels"])
        excerpt = top1_retrieval(unit(vectors["excerpts"] - shift), whole, list(range(len(whole))))
        rows.append({"strength": strength, "stored_r_precision": float(r_precision.mean()),
                     "stored_map": float(average_precision.mean()),
                     "whole_r_precision": float(whole_r_precision.mean()), "excerpt_top1": excerpt})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="uncentred model folder")
    parser.add_argument("--debian", required=True, type=Path, help="game-music corpus manifest")
    parser.add_argument("--split", default="val", help="split the strength is judged on (never test)")
    parser.add_argument("--reference-split", default="train", help="split the centre is measured on")
    parser.add_argument("--seed", type=int, default=0, help="the excerpt draws (engine eval's default seed)")
    parser.add_argument("--json", type=Path, help="write the rows here too")
    arguments = parser.parse_args()
    if arguments.split == "test":
        parser.error("the strength is chosen on validation; the test split is for one look with engine eval")
    loaded = load_model(arguments.model)
    records = read_manifest(arguments.debian)
    reference = [str(_located(Path(r["path"]), arguments.debian)) for r in records
                 if r["split"] == arguments.reference_split]
    centre = reference_track_vectors(Analyzer(loaded), reference).mean(axis=0)
    judged = [r for r in records if r["split"] == arguments.split]
    rows = strength_rows(split_vectors(loaded, judged, arguments.debian, arguments.seed), centre)
    for row in rows:
        print(f"strength {row['strength']:.3f}: stored R-precision {row['stored_r_precision']:.3f}, "
              f"mAP {row['stored_map']:.3f}, whole-track R-precision {row['whole_r_precision']:.3f}, "
              f"excerpt top-1 {row['excerpt_top1']}")
    if arguments.json:
        arguments.json.write_text(json.dumps({"model": str(arguments.model), "split": arguments.split,
                                              "reference_tracks": len(reference), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
