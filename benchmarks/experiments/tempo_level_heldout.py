"""Two metrical-level scorers on the held-out tempo material, item by item, with paired bootstrap intervals.

Run once for a scorer chosen on validation (``benchmarks/experiments/tempo_level_data.py``), against the shipped
one: the tonal test set's renders (exact tempo, held-out generator and sound font; Acc1 / Acc2 as ``engine eval``)
and the test split of the game music, each 30 s excerpt stretched twice by sox ``tempo -m`` (0.85-1.15). Both
scorers read the same envelopes, so every difference is the scorer's.

    PYTHONPATH=main python -m benchmarks.experiments.tempo_level_heldout --first main/engine/tempo_level.json \
        --second data/tempo_level_data/level_generated_chorales_ensemble.json \
        --tonal-test data/tonal_test/manifest.jsonl --debian data/debian/manifest.jsonl \
        --cache data/tempo_heldout.npz
(from the folder the manifests' paths are relative to, /work here, with PYTHONPATH=main).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.experiments.tempo_level_data import (
    cached_correlations, file_correlation, stretch_keys, stretched_correlation, strongest_relatives,
)
from benchmarks.experiments.tempo_onset_variants import estimated
from benchmarks.experiments.tempo_level import LevelScorer, load_scorer
from training.evaluation.bootstrap import bootstrap_means, paired_difference
from training.evaluation.tempo_eval import stretch_consistent, tempo_accuracy


def estimate(scorer: LevelScorer, correlation: np.ndarray) -> float:
    return estimated(scorer, *strongest_relatives(correlation), correlation)


def per_item(scorer: LevelScorer, renders: list[dict], correlations: dict, pairs: list, stretch: dict) -> dict:
    """Per render (acc1, acc2) and per stretched pair (consistent) of one scorer, in a fixed order."""
    outcomes = [tempo_accuracy(estimate(scorer, correlations[r["path"]]), r["tempo_bpm"]) for r in renders]
    consistent = [stretch_consistent(estimate(scorer, stretch[a]), estimate(scorer, stretch[b]), factor)
                  for a, b, factor in pairs]
    return {"acc1": np.array([o[0] for o in outcomes], float), "acc2": np.array([o[1] for o in outcomes], float),
            "stretch": np.array(consistent, float), "drums": np.array([bool(r.get("drums")) for r in renders])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=Path, required=True)
    parser.add_argument("--second", type=Path, required=True)
    parser.add_argument("--tonal-test", type=Path, required=True)
    parser.add_argument("--debian", type=Path, required=True)
    parser.add_argument("--cache", type=Path)
    options = parser.parse_args()
    renders = [json.loads(line) for line in options.tonal_test.read_text(encoding="utf-8").splitlines()]
    renders = [r for r in renders if r.get("split") == "test" and r.get("tempo_bpm")]
    correlations = cached_correlations([r["path"] for r in renders], file_correlation, options.cache)
    renders = [r for r in renders if r["path"] in correlations]
    pairs = stretch_keys(options.debian, "test")
    stretch_cache = None if options.cache is None else options.cache.with_name(options.cache.stem + "_stretch.npz")
    stretch = cached_correlations(sorted({k for a, b, _ in pairs for k in (a, b)}), stretched_correlation, stretch_cache)
    pairs = [(a, b, f) for a, b, f in pairs if a in stretch and b in stretch]
    found = {name: per_item(load_scorer(path), renders, correlations, pairs, stretch)
             for name, path in (("first", options.first), ("second", options.second))}
    report: dict = {"renders": len(renders), "stretch_pairs": len(pairs)}
    for measure in ("acc1", "acc2", "stretch"):
        report[measure] = {name: bootstrap_means(values[measure]) for name, values in found.items()}
        report[measure]["second_minus_first"] = paired_difference(found["second"][measure], found["first"][measure])
    for group, chosen in (("drums", found["first"]["drums"]), ("no_drums", ~found["first"]["drums"])):
        report[group] = {name: {m: float(values[m][chosen].mean()) for m in ("acc1", "acc2")}
                         for name, values in found.items()}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
