"""Calibrate a model's tags before it ships: a threshold per tag, and whether the tag is shown at all.

A tag head trained on rendered scores can fire on almost every real track (v1.3: "choir" above 0.5 on most
game music), and how often it fires differs from one soundtrack to the next far more than from one track to
the next (the v1.4 candidate's "choir" fired on 13 % of one validation soundtrack and on 100 % of another). So
a threshold is judged on soundtracks, not on pooled tracks:

1. the threshold that maximises F1 on the validation renders (whose instrumentation is known);
2. raised, if needed, until the one-sided 95 % upper bound of the mean per-soundtrack fire rate over every
   non-test soundtrack stays at or under ``MAX_REAL_FIRE_RATE`` (a new library is one more soundtrack: the
   bound, not the pooled rate, says how often the tag will fire there). The tag head never trained on game
   music, so the training soundtracks are fair reference material for how often it fires;
3. shown only when its validation-render AP reaches ``MIN_SHOWN_AP`` and, at the final threshold, it still
   finds at least ``MIN_SHOWN_RECALL`` of the validation renders that carry it (a tag raised out of reach
   would be shown in name only).

The result goes into the model folder's ``config.json`` at ``heads.tags.calibration``, which
``engine.tag_calibration`` reads. The test split stays for ``engine eval``.

    engine train calibrate-tags --model DIR --scores data/scores/manifest.jsonl --debian data/debian/manifest.jsonl
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.analyzer import Analyzer
from engine.audio import AudioDecodeError, decode_mono
from engine.model_folder import load_model
from training.corpora.manifest import read_given_manifest
from training.evaluation.bootstrap import upper_bound_of_mean
from training.evaluation.evaluate import tag_label
from training.evaluation.metrics import average_precision
from training.evaluation.model_inference import run_model

MIN_SHOWN_AP = 0.5
MIN_SHOWN_RECALL = 0.25
MAX_REAL_FIRE_RATE = 0.5
CALIBRATION_SPLIT = "val"
HELD_OUT_SPLIT = "test"
NEVER_FIRES = 1.0
ABOVE_TOP_SCORE = 1e-5
THRESHOLD_DECIMALS = 6
Progress = Callable[[str, int, int], None]


class TagCalibrationError(ValueError):
    """What the tags cannot be calibrated on (no tag head, no renders, too few soundtracks): one line."""


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold (a midpoint between two observed scores) with the highest F1 of ``scores >= t``."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores, hits = scores[order], labels[order].astype(float)
    true_positives = np.cumsum(hits)
    predicted = np.arange(1, len(scores) + 1)
    f1 = 2 * true_positives / (predicted + hits.sum())
    best = int(np.argmax(f1))
    below = sorted_scores[best + 1] if best + 1 < len(sorted_scores) else sorted_scores[best] - 1e-3
    return float((sorted_scores[best] + below) / 2)


def fire_rates_by_soundtrack(soundtracks: list[np.ndarray], thresholds: np.ndarray) -> np.ndarray:
    """(soundtracks, thresholds): the share of each soundtrack's tracks whose score reaches each threshold."""
    return np.stack([(scores[:, None] >= thresholds[None, :]).mean(axis=0) for scores in soundtracks])


def threshold_within_fire_rate(soundtracks: list[np.ndarray], lowest: float,
                               max_rate: float = MAX_REAL_FIRE_RATE) -> tuple[float, float]:
    """The smallest threshold ≥ ``lowest`` at which the upper bound of the mean per-soundtrack fire rate is at
    most ``max_rate``, and that bound; ``NEVER_FIRES`` when no observed score allows it.

    Candidates are ``lowest``, the midpoints between consecutive observed scores above it (so a threshold never
    sits on a track's score) and a hair above the top score (fires on no reference track, still on renders).
    """
    observed = np.unique(np.concatenate(soundtracks))
    above = observed[observed > lowest]
    over_every_track = [min(above[-1] + ABOVE_TOP_SCORE, NEVER_FIRES)] if above.size else []
    candidates = np.concatenate([[lowest], (above[:-1] + above[1:]) / 2, over_every_track, [NEVER_FIRES]])
    bounds = upper_bound_of_mean(fire_rates_by_soundtrack(soundtracks, candidates))
    within = np.flatnonzero(bounds <= max_rate)
    chosen = int(within[0]) if within.size else len(candidates) - 1
    return float(candidates[chosen]), float(bounds[chosen])


def calibrate_tag(render_scores: np.ndarray, render_labels: np.ndarray,
                  soundtracks: list[np.ndarray]) -> dict[str, Any]:
    """One tag's entry from its validation-render scores and labels and its real-music scores per soundtrack."""
    f1_threshold = best_f1_threshold(render_scores, render_labels)
    threshold, bound = threshold_within_fire_rate(soundtracks, f1_threshold)
    ap = average_precision(render_scores, render_labels)
    recall = float(np.mean(render_scores[render_labels] >= threshold))
    pooled = float(np.mean(np.concatenate(soundtracks) >= threshold))
    if ap < MIN_SHOWN_AP:
        reason = "validation AP below %.2f" % MIN_SHOWN_AP
    elif recall < MIN_SHOWN_RECALL:
        reason = "rare enough on real music only where it finds %.0f %% of its renders" % (100 * recall)
    else:
        reason = ""
    return {"threshold": round(threshold, THRESHOLD_DECIMALS), "shown": not reason, "held_out_ap": round(ap, 4),
            "real_fire_rate": round(pooled, 4), "real_fire_rate_bound": round(bound, 4),
            "f1_threshold": round(f1_threshold, 4), "render_recall": round(recall, 4), "reason": reason}


def render_tag_scores(loaded, records: list[dict[str, Any]], progress: Progress | None) -> np.ndarray:
    """(clips, tags) probabilities of the model on rendered clips, as ``engine eval`` computes them."""
    rows = []
    for done, record in enumerate(records, 1):
        audio = decode_mono(record["path"], loaded.config.sample_rate)
        rows.append(run_model(loaded, audio).tag_probabilities)
        if progress:
            progress("validation renders", done, len(records))
    return np.stack(rows)


def real_music_tag_scores(loaded, records: list[dict[str, Any]],
                          progress: Progress | None) -> dict[str, np.ndarray]:
    """Per soundtrack, (tracks, tags) probabilities through the windows ``engine index`` reads."""
    analyzer = Analyzer(loaded)
    rows: dict[str, list[np.ndarray]] = defaultdict(list)
    for done, record in enumerate(records, 1):
        try:
            rows[record["soundtrack"]].append(analyzer.analyze_file(record["path"]).tag_probs)
        except AudioDecodeError:
            pass
        if progress:
            progress("reference soundtracks", done, len(records))
    return {soundtrack: np.stack(scores) for soundtrack, scores in rows.items()}


def calibrate(model_folder: Path, scores_manifest: Path, debian_manifest: Path,
              progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """Per tag: threshold, shown, validation AP, and how often it fires on the non-test soundtracks."""
    loaded = load_model(model_folder)
    if loaded.network.tag_head is None:
        raise TagCalibrationError(f"{model_folder} has no tag head to calibrate")
    renders = [r for r in read_given_manifest(scores_manifest) if r["split"] == CALIBRATION_SPLIT]
    tracks = [r for r in read_given_manifest(debian_manifest) if r["split"] != HELD_OUT_SPLIT]
    if not renders:
        raise TagCalibrationError(f"{scores_manifest}: no {CALIBRATION_SPLIT!r} renders to calibrate the tags on")
    if not any(_labelled(renders, tag) for tag in loaded.config.tag_names):  # else every tag would be hidden
        raise TagCalibrationError(f"{scores_manifest}: none of the model's tags ({', '.join(loaded.config.tag_names)}) "
                                  f"is labelled on its {CALIBRATION_SPLIT!r} renders; the model folder is unchanged")
    render_scores = render_tag_scores(loaded, renders, progress)
    real_scores = list(real_music_tag_scores(loaded, tracks, progress).values())
    if len(real_scores) < 2:
        raise TagCalibrationError(f"{debian_manifest}: tag calibration needs real tracks from at least two non-test soundtracks")
    calibration = {}
    for column, tag in enumerate(loaded.config.tag_names):
        truth = [tag_label(record, tag) for record in renders]
        per_soundtrack = [scores[:, column] for scores in real_scores]
        if not _labelled(renders, tag):
            calibration[tag] = {"threshold": NEVER_FIRES, "shown": False, "held_out_ap": None,
                                "real_fire_rate": float(np.mean(np.concatenate(per_soundtrack) >= 0.5)),
                                "reason": "no validation labels"}
            continue
        calibration[tag] = calibrate_tag(render_scores[:, column], np.array(truth, dtype=bool), per_soundtrack)
    return calibration


def _labelled(renders: list[dict[str, Any]], tag: str) -> bool:
    """Whether every render says whether it carries ``tag`` and at least one does: a tag to calibrate."""
    truth = [tag_label(record, tag) for record in renders]
    return all(value is not None for value in truth) and any(truth)


def write_calibration(model_folder: Path, calibration: dict[str, dict[str, Any]], sources: dict[str, Any]) -> None:
    """Store the calibration in the folder's config.json (the weights, and so the model id, are unchanged)."""
    from engine.model_folder import update_config

    def record(config: dict[str, Any]) -> None:
        tags = config.setdefault("heads", {}).setdefault("tags", {})
        tags["calibration"] = calibration
        tags["calibration_sources"] = sources

    update_config(model_folder, record)
