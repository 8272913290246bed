"""Does reading the key on a track's own tuning help, and does it cost anything in tune? One model, two arms on the
same items: the key as ``engine index`` stores it now (the key path's grid follows the tuning ``engine.tuning``
estimates, from ``engine.analyzer.MIN_FOLLOWED_CENTS`` away) and on the trained A = 440 Hz grid only, with paired
bootstrap intervals of the difference. Run from the repository root:

    python -m benchmarks.experiments.key_tuning --model resources/models/default \\
        --manifest ../data/scores/manifest.jsonl --manifest ../data/generated/manifest.jsonl --split val \\
        [--follow-from 5 10 15] [--debian ../data/debian/manifest.jsonl] [--json OUT]

Per key-labelled piece of ``--split``, each manifest on its own: MIREX, clean and under each ``training.evaluation.corruptions`` condition
(drawn with a per-piece seed, the same for every arm), among them "detuned_15_45_cents". With ``--debian``, the
transposition consistency of ``engine eval`` on that manifest's ``--split`` of game music (first 60 s, two seeded
whole-semitone shifts by resampling) for each arm. Each ``--follow-from`` value is an arm (cents); the trained grid
is always the first.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

import engine.analyzer
from benchmarks.experiments.key_windows import labelled_clips, transposition_excerpts
from engine.analyzer import Analyzer
from engine.key_audio import layout_from_samples
from engine.keys import Key, key_from_index, mirex_key_score
from engine.model_folder import load_model
from engine.track_analysis import DEFAULT_MAX_WINDOWS
from engine.tuning import estimate_tuning
from training.evaluation.bootstrap import bootstrap_means, paired_difference
from training.evaluation.corruptions import CORRUPTIONS, pitch_shift_by_resampling

TRAINED_GRID = float("inf")  # the arm that never follows a tuning


def product_key(analyzer: Analyzer, audio: np.ndarray, follow_from: float) -> Key:
    """The key ``engine index`` stores for a file holding ``audio``, its grid following tunings ``follow_from`` cents
    or more away from A = 440 Hz."""
    engine.analyzer.MIN_FOLLOWED_CENTS = follow_from
    windows, extras = layout_from_samples(audio, analyzer.sample_rate, analyzer.window_samples, DEFAULT_MAX_WINDOWS)
    return key_from_index(int(np.argmax(analyzer.analyze_windows(windows, extras).key_probs)))


def key_scores(analyzer: Analyzer, manifests: list[Path], split: str, arms: list[float]) -> tuple[dict, dict]:
    """Per condition, each arm's MIREX per piece; and per condition the tuning estimates (cents) of the pieces."""
    rate = analyzer.sample_rate
    scores: dict[str, list[list[float]]] = {c: [[] for _ in arms] for c in ("clean", *CORRUPTIONS)}
    estimates: dict[str, list[float]] = {c: [] for c in scores}
    number = 0
    for manifest in manifests:
        for clean, reference in labelled_clips(manifest, split, rate):
            for condition, per_arm in scores.items():
                audio = clean if condition == "clean" else CORRUPTIONS[condition](clean, rate, np.random.default_rng(number))
                estimates[condition].append(estimate_tuning(layout_from_samples(
                    audio, rate, analyzer.window_samples, DEFAULT_MAX_WINDOWS)[0], rate).cents)
                for column, follow_from in enumerate(arms):
                    per_arm[column].append(mirex_key_score(product_key(analyzer, audio, follow_from), reference))
            number += 1
    return ({c: [np.array(v) for v in per_arm] for c, per_arm in scores.items()},
            {c: np.array(v) for c, v in estimates.items()})


def transposition_hits(analyzer: Analyzer, manifest: Path, split: str, arms: list[float]) -> list[np.ndarray]:
    """Per arm, 1/0 per (track, shift) pair: did the key move by the shift (``engine eval``'s definition)?"""
    rate = analyzer.sample_rate
    hits: list[list[float]] = [[] for _ in arms]
    for audio, shifts in transposition_excerpts(manifest, split, rate):
        for column, follow_from in enumerate(arms):
            base = product_key(analyzer, audio, follow_from)
            for shift in shifts:
                moved = product_key(analyzer, pitch_shift_by_resampling(audio, rate, shift), follow_from)
                hits[column].append(float(moved == base.transposed(shift)))
    return [np.array(values) for values in hits]


def rows_for(measure: str, per_arm: list[np.ndarray], arms: list[float]) -> list[dict[str, Any]]:
    """One row per following arm against the trained grid (the first arm)."""
    return [{"measure": measure, "follow_from_cents": arms[column], "items": int(per_arm[0].size),
             "trained_grid": bootstrap_means(per_arm[0])["mean"], "followed": bootstrap_means(per_arm[column])["mean"],
             "difference": paired_difference(per_arm[column], per_arm[0])} for column in range(1, len(arms))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, action="append", default=[], help="key-labelled manifest")
    parser.add_argument("--split", default="val")
    parser.add_argument("--follow-from", type=float, nargs="+", default=[engine.analyzer.MIN_FOLLOWED_CENTS])
    parser.add_argument("--debian", type=Path, help="game-music manifest: transposition consistency")
    parser.add_argument("--json", type=Path)
    arguments = parser.parse_args()
    analyzer = Analyzer(load_model(arguments.model))
    arms = [TRAINED_GRID, *arguments.follow_from]
    rows: list[dict[str, Any]] = []
    for manifest in arguments.manifest:
        scores, estimates = key_scores(analyzer, [manifest], arguments.split, arms)
        for condition, per_arm in scores.items():
            rows += rows_for(f"{manifest.parent.name} key MIREX, {condition}", per_arm, arms)
            cents = estimates[condition]
            print(f"{manifest.parent.name}, {condition}: tuning estimates median {np.median(cents):+.1f} cents, "
                  f"{100 * np.mean(np.abs(cents) >= arms[-1]):.0f} % at {arms[-1]:g} cents or more")
    if arguments.debian:
        rows += rows_for("transposition consistency", transposition_hits(analyzer, arguments.debian, arguments.split,
                                                                         arms), arms)
    for row in rows:
        low, high = row["difference"]["ci95"]
        print(f"{row['measure']} ({row['items']}), following from {row['follow_from_cents']:g} cents: "
              f"{100 * row['followed']:.1f} vs {100 * row['trained_grid']:.1f} on the trained grid, "
              f"difference {100 * row['difference']['mean']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]", flush=True)
    if arguments.json:
        arguments.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
