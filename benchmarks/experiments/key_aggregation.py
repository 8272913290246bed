"""How a track's key should pool its windows' probabilities: transposition consistency of the key ``engine index``
stores when the per-window key probabilities are averaged (shipped: ``Analyzer._summarise``), combined as a
geometric mean (mean log-probability: a window that rules a key out counts), or as a vote of each window's best
key. Same pairs as ``key_window_cap`` (``engine eval``'s 60 s excerpts and whole long tracks of ``--split``);
paired bootstrap over tracks. Run from the repository root:

    python -m benchmarks.experiments.key_aggregation --model resources/models/default \\
        --soundtracks ../data/debian/manifest.jsonl --split val [--parts excerpts_60s] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from functools import partial
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from benchmarks.experiments.key_window_cap import PARTS, consistency_per_track
from engine.analyzer import Analyzer
from engine.model_folder import load_model
from training.evaluation.bootstrap import bootstrap_means, paired_difference


def arithmetic(probabilities: np.ndarray) -> np.ndarray:
    return probabilities.mean(axis=0)


def geometric(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probabilities, 1e-12, None)).mean(axis=0)


def vote(probabilities: np.ndarray) -> np.ndarray:
    """Each window's best key one vote; ties broken by the mean probability."""
    votes = np.bincount(probabilities.argmax(axis=1), minlength=probabilities.shape[1]).astype(np.float64)
    return votes + 1e-3 * probabilities.mean(axis=0)


RULES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"mean": arithmetic, "geometric": geometric, "vote": vote}


@contextmanager
def pooling(rule: Callable[[np.ndarray], np.ndarray]) -> Iterator[None]:
    """``Analyzer`` pooling each track's window key probabilities with ``rule`` for the duration (argmax only is
    read here, so the rule's scores need not be probabilities)."""
    shipped = Analyzer._summarise

    def summarise(outputs: dict[str, np.ndarray], count: int):
        analysis = shipped(outputs, count)
        analysis.key_probs = rule(outputs["key_probs"]).astype(np.float32)
        return analysis

    Analyzer._summarise = staticmethod(summarise)
    try:
        yield
    finally:
        Analyzer._summarise = staticmethod(shipped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--soundtracks", type=Path, required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    analyzer = Analyzer(load_model(arguments.model))
    report = {}
    for part in arguments.parts:
        pairs = PARTS[part](arguments.soundtracks, arguments.split, analyzer.sample_rate)
        per_track = consistency_per_track(analyzer, pairs, {name: partial(pooling, rule) for name, rule in RULES.items()})
        report[part] = {"consistency": {name: bootstrap_means(values) for name, values in per_track.items()},
                        **{f"{name}_minus_mean": paired_difference(per_track[name], per_track["mean"])
                           for name in RULES if name != "mean"}}
    text = json.dumps(report, indent=2)
    print(text)
    if arguments.json:
        arguments.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
