"""What the key experiments' command lines share: the arguments of a run over game music and key-labelled clips,
the rows of their reports, and the JSON report printed and kept."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.keys import key_from_index, mirex_key_score
from training.evaluation.bootstrap import bootstrap_means, paired_difference


def key_experiment_parser(description: str) -> argparse.ArgumentParser:
    """A parser with ``--model``, ``--soundtracks`` (transposition pairs), ``--manifest`` (key-labelled clips, any
    number), ``--split`` (test: the held-out run, made once after a choice), ``--max-tracks`` and ``--json``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--soundtracks", type=Path, help="the Debian game-music manifest")
    parser.add_argument("--manifest", type=Path, action="append", default=[], help="key-labelled clips")
    parser.add_argument("--split", default="val", choices=("val", "train", "test"),
                        help="test: the held-out run, once, after the choice")
    parser.add_argument("--max-tracks", type=int, default=None, help="the first N tracks of the split's pairs")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    return parser


def print_report(report: dict, path: Path | None) -> None:
    """``report`` printed as indented JSON, and written to ``path`` when one is given."""
    text = json.dumps(report, indent=2)
    print(text)
    if path:
        path.write_text(text + "\n", encoding="utf-8")


def scored_row(result: dict, reference: dict, against: str) -> dict:
    """A report row from per-item scores (``result["consistency"]``: per track; ``result["mirex"]``: per clip, by
    manifest): each with its bootstrap interval, and paired against ``reference``'s scores of the same items (keys
    ending ``_minus_<against>``)."""
    row = {}
    if result["consistency"]:
        row["transposition"] = bootstrap_means(result["consistency"])
        row[f"transposition_minus_{against}"] = paired_difference(result["consistency"], reference["consistency"])
    for name, scores in result["mirex"].items():
        row[f"mirex:{name}"] = bootstrap_means(scores)
        row[f"mirex:{name}_minus_{against}"] = paired_difference(scores, reference["mirex"][name])
    return row


def scored_reads(tracks: list, clips: dict[str, list], decide: Callable[[object], tuple[int, bool]]) -> dict:
    """Per-item scores of a rule that turns each read into (key index, whether it took the rule's costly branch):
    transposition consistency per track of ``tracks`` ((read, [moved-back reads of its shifted copies])), MIREX per
    clip of ``clips`` (by manifest: [(read, reference key)]), and the share of all reads that took the branch."""
    branched, consistency = [], []
    for read, moved in tracks:
        base, branch = decide(read)
        branched.append(branch)
        hits = []
        for moved_read in moved:
            key, branch = decide(moved_read)
            branched.append(branch)
            hits.append(key == base)
        consistency.append(float(np.mean(hits)))
    mirex = {}
    for name, items in clips.items():
        mirex[name] = []
        for read, reference in items:
            key, branch = decide(read)
            branched.append(branch)
            mirex[name].append(mirex_key_score(key_from_index(key), reference))
    return {"consistency": consistency, "mirex": mirex, "branched_share": float(np.mean(branched)) if branched else 0.0}
