"""``engine train from-library``, stage 4, report: the run's report (the plan's, then what training, re-embedding
and evaluation added) as JSON in the run folder, and its readable forms for the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPORT_FILE = "report.json"


def write_report(run_dir: Path, report: dict[str, Any]) -> None:
    (run_dir / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def plan_text(report: dict[str, Any]) -> str:
    """The readable form of ``PlannedRun.report()``: what the tags give, before any training."""
    labels = report["labels"]
    lines = [
        f"{labels['labeled_tracks']} of {labels['tracks']} tracks tagged ({100 * labels['labeled_share']:.0f} %) with "
        f"{len(labels['labels'])} {'/'.join(labels['fields'])} labels of at least {labels['min_tracks']} tracks:",
        *[f"  {row['label']}: {row['tracks']} tracks ({row['held_out']} held out)" for row in labels["labels"]],
    ]
    if labels["dropped_labels"]:
        rare = ", ".join(f"{row['label']} ({row['tracks']})" for row in labels["dropped_labels"][:8])
        lines.append(f"dropped (too rare): {rare}{' ...' if len(labels['dropped_labels']) > 8 else ''}")
    lines += [
        f"held out for evaluation: {labels['held_out_tracks']} tagged tracks of {labels['held_out_albums']} albums",
        f"untagged tracks used as the unlabeled part: {labels['unlabeled_tracks']}"
        + (f" (of {labels['unlabeled_tracks'] + labels['unlabeled_not_sampled']})" if labels["unlabeled_not_sampled"] else ""),
        f"base model: {report['base_model']}; new model: {report['name']} in {report['model_folder']}",
    ]
    return "\n".join(lines)


def result_text(report: dict[str, Any]) -> str:
    """The readable form of the full report: what training did, and the held-out figures before vs after."""
    evaluation, training, embedded = report["evaluation"], report["training"], report["reembedding"]

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    precision, tag_map = evaluation["precision_at_10"], evaluation["tag_map"]
    return "\n".join([
        f"model {evaluation['model_id']} in {report['model_folder']} ({training['steps']} steps; "
        f"library re-embedded: {embedded['analysed']} tracks analysed)",
        f"held out: {evaluation['held_out_tracks']} tracks of {evaluation['held_out_albums']} albums",
        f"  same-label precision@10: {shown(precision['before'])} before -> {shown(precision['after'])} after",
        f"  tag mAP: {shown(tag_map['before'])} before (linear probe) -> {shown(tag_map['after'])} after (heads), "
        f"{shown(tag_map['after_probe'])} (linear probe)",
        f"  key agreement with the base model: {shown(evaluation['key_agreement_with_base'])}"
        + (f"; key = key tag: {shown(keys['before'])} before -> {shown(keys['after'])} after ({keys['tracks']} tracks)"
           if (keys := evaluation.get("key_accuracy_vs_tags")) else ""),
        f"use it: engine similar QUERY --model {report['name']}",
    ])


__all__ = ["REPORT_FILE", "plan_text", "result_text", "write_report"]
