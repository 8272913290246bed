"""Calibrate a model's tags before it ships: a threshold per tag, and whether the tag is shown at all.

A tag head trained on rendered scores can fire on almost every real track (v1.3: "choir" above 0.5 on most
game music). Each tag's threshold is the one that maximises F1 on the validation renders (whose
instrumentation is known); the tag is shown only when its validation AP reaches ``MIN_SHOWN_AP`` and, at that
threshold, it fires on at most ``MAX_REAL_FIRE_RATE`` of the validation soundtracks' real tracks. The result
goes into the model folder's ``config.json`` at ``heads.tags.calibration``, which ``engine.tag_calibration``
reads. Only validation material is used: the test split stays for ``engine eval``.

    engine train calibrate-tags --model DIR --scores data/scores/manifest.jsonl --debian data/debian/manifest.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.analyzer import Analyzer
from engine.audio import AudioDecodeError, decode_mono
from engine.model_folder import load_model
from training.corpora.manifest import read_manifest
from training.evaluation.evaluate import tag_label
from training.evaluation.metrics import average_precision
from training.evaluation.model_inference import run_model

MIN_SHOWN_AP = 0.5
MAX_REAL_FIRE_RATE = 0.5
CALIBRATION_SPLIT = "val"
Progress = Callable[[str, int, int], None]


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


def render_tag_scores(loaded, records: list[dict[str, Any]], progress: Progress | None) -> np.ndarray:
    """(clips, tags) probabilities of the model on rendered clips, as ``engine eval`` computes them."""
    rows = []
    for done, record in enumerate(records, 1):
        audio = decode_mono(record["path"], loaded.config.sample_rate)
        rows.append(run_model(loaded, audio).tag_probabilities)
        if progress:
            progress("validation renders", done, len(records))
    return np.stack(rows)


def real_music_tag_scores(loaded, records: list[dict[str, Any]], progress: Progress | None) -> np.ndarray:
    """(tracks, tags) probabilities on real tracks through the windows ``engine index`` reads."""
    analyzer = Analyzer(loaded)
    rows = []
    for done, record in enumerate(records, 1):
        try:
            rows.append(analyzer.analyze_file(record["path"]).tag_probs)
        except AudioDecodeError:
            continue
        if progress:
            progress("validation soundtracks", done, len(records))
    return np.stack(rows)


def calibrate(model_folder: Path, scores_manifest: Path, debian_manifest: Path,
              progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """Per tag: threshold, shown, validation AP and the share of real validation tracks it fires on."""
    loaded = load_model(model_folder)
    if loaded.network.tag_head is None:
        raise ValueError(f"{model_folder} has no tag head to calibrate")
    renders = [r for r in read_manifest(scores_manifest) if r["split"] == CALIBRATION_SPLIT]
    tracks = [r for r in read_manifest(debian_manifest) if r["split"] == CALIBRATION_SPLIT]
    render_scores = render_tag_scores(loaded, renders, progress)
    real_scores = real_music_tag_scores(loaded, tracks, progress)
    calibration = {}
    for column, tag in enumerate(loaded.config.tag_names):
        truth = [tag_label(record, tag) for record in renders]
        if any(value is None for value in truth) or not any(truth):
            calibration[tag] = {"threshold": 1.0, "shown": False, "held_out_ap": None,
                                "real_fire_rate": float(np.mean(real_scores[:, column] >= 0.5)),
                                "reason": "no validation labels"}
            continue
        labels = np.array(truth, dtype=bool)
        threshold = best_f1_threshold(render_scores[:, column], labels)
        ap = average_precision(render_scores[:, column], labels)
        fire_rate = float(np.mean(real_scores[:, column] >= threshold))
        shown = ap >= MIN_SHOWN_AP and fire_rate <= MAX_REAL_FIRE_RATE
        calibration[tag] = {"threshold": round(threshold, 4), "shown": bool(shown), "held_out_ap": round(ap, 4),
                            "real_fire_rate": round(fire_rate, 4),
                            "reason": "" if shown else ("validation AP below %.2f" % MIN_SHOWN_AP if ap < MIN_SHOWN_AP
                                                        else "fires on most real tracks")}
    return calibration


def write_calibration(model_folder: Path, calibration: dict[str, dict[str, Any]], sources: dict[str, Any]) -> None:
    """Store the calibration in the folder's config.json (the weights, and so the model id, are unchanged)."""
    path = model_folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    tags = config.setdefault("heads", {}).setdefault("tags", {})
    tags["calibration"] = calibration
    tags["calibration_sources"] = sources
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
