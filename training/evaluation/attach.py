"""Put an ``engine eval`` report into the model folder it measured: the report as ``evaluation.json`` beside the
weights, and its headline figures as ``config.json``'s ``metrics``. Both come from one report, so the figures a
folder carries cannot drift from its evaluation (the shipped config once kept key figures of a window layout the
product no longer read). The weights, and so the model id, are unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.atomic_write import write_bytes_atomically
from engine.model_folder import update_config
from engine.model_spec import ModelLoadError, read_model_spec
from training.evaluation.floors import STORED_VECTORS, report_value

EVALUATION_FILE = "evaluation.json"
KEY_SECTIONS = (("renders", "key_renders"), ("tonal_test", "key_tonal_test"))
DIGITS = 3


class AttachError(ValueError):
    """The report does not belong to this folder or is not an ``engine eval`` report; the message says why."""


def headline_metrics(report: dict[str, Any]) -> dict[str, Any]:
    """The report's headline figures: key accuracy and MIREX per test set and condition, same-soundtrack retrieval,
    excerpt and version-pair top-1, transposition consistency (each only where the report measured it)."""
    metrics: dict[str, Any] = {"evaluation": f"{EVALUATION_FILE} (held-out; see MODEL_CARD.md)"}
    for section, prefix in KEY_SECTIONS:
        by_condition = report.get(section, {}).get("key", {}).get("model", {})
        for condition, groups in by_condition.items():
            overall = groups["all"]
            metrics[f"{prefix}_{condition}"] = {"accuracy": round(overall["accuracy"], DIGITS),
                                                "mirex": round(overall["mirex"], DIGITS), "clips": overall["count"]}
    soundtracks = report.get("soundtracks", {})
    model = soundtracks.get("similarity", {}).get("model", {})
    stored = report_value(report, *STORED_VECTORS)  # the vectors `engine index` stores
    if stored is not None:
        metrics["soundtracks_stored_vectors_r_precision"] = round(stored["r_precision"], DIGITS)
        metrics["soundtracks_stored_vectors_map"] = round(stored["map"], DIGITS)
    if "same_soundtrack" in model:
        metrics["soundtracks_16_windows_r_precision"] = round(model["same_soundtrack"]["r_precision"], DIGITS)
    if "excerpt_96kbps" in model:
        metrics["excerpt_96k_top1_embedding_only"] = round(model["excerpt_96kbps"]["top1"], DIGITS)
    if "library_excerpt_96kbps" in model:
        metrics["excerpt_96k_top1_through_engine_similar"] = round(model["library_excerpt_96kbps"]["top1"], DIGITS)
    if "version_pairs" in model:
        metrics["version_pairs_top1"] = round(model["version_pairs"]["top1"], DIGITS)
    transposition = soundtracks.get("transposition_consistency", {}).get("model")
    if transposition is not None:
        metrics["transposition_consistency"] = round(transposition["rate"], DIGITS)
    if "tracks" in soundtracks:
        metrics["soundtrack_tracks"] = soundtracks["tracks"]
    return metrics


def attach_evaluation(model_folder: Path, report_path: Path, stage: str | None = None) -> dict[str, Any]:
    """Copy the report into ``model_folder`` and set its config's ``metrics`` from it (plus ``stage`` when given);
    sections the report lacks but the folder's previous report had (e.g. a tempo section measured apart) are kept.
    Returns the new metrics. Raises ``AttachError``."""
    try:
        report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise AttachError(f"cannot read the report {report_path}: {error}") from None
    if not isinstance(report, dict) or "command" not in report or "model" not in report:
        raise AttachError(f"{report_path} is not an `engine eval` report (no command or model)")
    measured = report.get("weights_sha256")
    if measured is not None:  # reports before it name the model only
        try:
            held = read_model_spec(model_folder).weights_sha256
        except ModelLoadError as error:
            raise AttachError(str(error)) from None
        if held != measured:
            raise AttachError(f"the report measured other weights ({measured[:12]}…) than {model_folder} holds "
                              f"({held[:12]}…): run `engine eval --model {model_folder}` on these weights")
    previous_path = Path(model_folder) / EVALUATION_FILE
    if previous_path.exists():
        previous = json.loads(previous_path.read_text(encoding="utf-8"))
        for section, value in previous.items():
            if section != "weights_sha256":  # the weights this report measured, or none named
                report.setdefault(section, value)
    metrics = headline_metrics(report)

    def record(config: dict[str, Any]) -> None:  # runs before anything is written
        if report["model"] != config.get("name"):
            raise AttachError(f"the report measured a model named {report['model']!r}, this folder holds "
                              f"{config.get('name')!r}")
        config["metrics"] = metrics
        if stage:
            config["stage"] = stage

    try:
        update_config(model_folder, record)
    except AttachError:
        raise
    except (OSError, ValueError) as error:
        raise AttachError(f"{model_folder} is not a readable model folder ({error})") from None
    write_bytes_atomically(previous_path, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
    return metrics
