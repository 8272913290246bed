"""Two model folders on the same held-out items, with paired bootstrap intervals of their difference: the
comparison ``engine eval``'s per-model intervals cannot give (two overlapping intervals can still be a real
gap, and one model ahead by a point can be noise). Used for the SSL-only vs SemiSupCon arms at the same budget,
and to read a candidate's gaps to the shipped model. Run from the repository root:

    python -m benchmarks.experiments.paired_comparison --first ../data/models/v4c --second ../data/models/v4_ssl_only_c \\
        --debian ../data/debian/manifest.jsonl --scores ../data/scores/manifest.jsonl \\
        --tonal-test ../data/tonal_test/manifest.jsonl [--json OUT]

Per item: same-soundtrack R-precision of the vectors ``engine index`` stores (test split of the game music);
key MIREX score per piece on the test renders and the independent tonal test, clean and under each corruption
(every corruption drawn with the same per-piece seed for both models).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.experiments.stored_vector_retrieval import _located, stored_vectors
from engine.audio import decode_mono
from engine.keys import key_from_index, mirex_key_score
from engine.model_folder import load_model
from training.corpora.manifest import read_manifest
from training.evaluation.bootstrap import bootstrap_means, paired_difference
from training.evaluation.corruptions import CORRUPTIONS
from training.evaluation.evaluate import at_rate
from training.evaluation.metrics import per_query_label_retrieval
from training.evaluation.model_inference import run_model

EVALUATION_RATE = 22050
HELD_OUT = "test"


def soundtrack_r_precisions(models: list[Path], manifest: Path) -> list[np.ndarray]:
    """Per-query R-precision of each model's stored vectors over the test tracks every model could decode."""
    records = [r for r in read_manifest(manifest) if r["split"] == HELD_OUT]
    paths = [_located(Path(r["path"]), manifest) for r in records]
    results = [stored_vectors(model, paths) for model in models]
    common = sorted(set.intersection(*(set(kept) for _, kept in results)))
    labels = [records[i].get("soundtrack") or records[i]["package"] for i in common]
    per_model = []
    for vectors, kept in results:
        rows = [kept.index(i) for i in common]
        per_model.append(per_query_label_retrieval(vectors[rows], labels)[0])
    return per_model


def key_scores(models: list[Path], manifest: Path) -> dict[str, list[np.ndarray]]:
    """Per condition, each model's MIREX score per test piece (corruptions seeded per piece, shared by models)."""
    loaded = [load_model(model) for model in models]
    records = [r for r in read_manifest(manifest) if r["split"] == HELD_OUT]
    scores: dict[str, list[list[float]]] = {c: [[] for _ in models] for c in ("clean", *CORRUPTIONS)}
    for number, record in enumerate(records):
        reference = key_from_index(record["key_index"])
        clean = decode_mono(_located(Path(record["path"]), manifest), EVALUATION_RATE)
        for condition in scores:
            audio = clean if condition == "clean" else \
                CORRUPTIONS[condition](clean, EVALUATION_RATE, np.random.default_rng(number))
            for column, model in enumerate(loaded):
                key = run_model(model, at_rate(audio, EVALUATION_RATE, model.config.sample_rate)).key
                scores[condition][column].append(mirex_key_score(key, reference))
    return {condition: [np.array(values) for values in per_model] for condition, per_model in scores.items()}


def comparison_row(measure: str, first: np.ndarray, second: np.ndarray) -> dict[str, Any]:
    return {"measure": measure, "items": int(first.size), "first": bootstrap_means(first)["mean"],
            "second": bootstrap_means(second)["mean"], "difference": paired_difference(first, second)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", required=True, type=Path, help="model folder")
    parser.add_argument("--second", required=True, type=Path, help="model folder it is compared with")
    parser.add_argument("--debian", type=Path, help="game-music manifest (its test split)")
    parser.add_argument("--scores", type=Path, help="rendered-score manifest (its test split)")
    parser.add_argument("--tonal-test", type=Path, help="independent tonal test manifest")
    parser.add_argument("--json", type=Path, help="write the rows here too")
    arguments = parser.parse_args()
    models = [arguments.first, arguments.second]
    rows = []
    if arguments.debian:
        first, second = soundtrack_r_precisions(models, arguments.debian)
        rows.append(comparison_row("stored-vector same-soundtrack R-precision", first, second))
    for name, manifest in (("renders", arguments.scores), ("tonal test", arguments.tonal_test)):
        if manifest:
            for condition, (first, second) in key_scores(models, manifest).items():
                rows.append(comparison_row(f"{name} key MIREX, {condition}", first, second))
    print(f"first: {arguments.first}; second: {arguments.second}")
    for row in rows:
        low, high = row["difference"]["ci95"]
        print(f"{row['measure']} ({row['items']}): {100 * row['first']:.1f} vs {100 * row['second']:.1f}, "
              f"difference {100 * row['difference']['mean']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]")
    if arguments.json:
        arguments.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
