"""Key results on the tonal test set (``engine eval --tonal-test MANIFEST``): accuracy / MIREX per method and
condition, and what the errors are (fifth, relative, parallel, other), split by mode and by minor kind.

The split matters because a single MIREX figure hides the typical failure: a major piece called its relative
minor scores 0.3 and looks like a near miss, while for a listener (or a DJ) it is the wrong key.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from engine.audio import decode_mono
from engine.keys import Key, parse_key
from training.evaluation.chroma_key import estimate_key
from training.evaluation.corruptions import corrupted
from training.evaluation.evaluate import EvaluationSettings, _essentia_key_function, at_rate
from training.evaluation.metrics import key_metrics
from training.evaluation.model_inference import run_model
from training.evaluation.per_item import PER_ITEM, mirex_per_item
from training.evaluation.report import KEY_WINDOWS_NOTE, _percent

RELATIONS = ("exact", "fifth", "relative", "parallel", "other")
KeyMethod = Callable[[np.ndarray, int], Key]


class TonalTestManifestError(ValueError):
    """A manifest line without a readable key or without the tonal test set's fields."""


def key_relation(estimated: Key, reference: Key) -> str:
    """How an estimate relates to the truth, in the MIREX categories (exact 1, fifth .5, relative .3, parallel .2)."""
    if estimated == reference:
        return "exact"
    if estimated.mode == reference.mode and (estimated.pitch_class - reference.pitch_class) % 12 in (5, 7):
        return "fifth"
    if estimated.mode != reference.mode and estimated.camelot_number == reference.camelot_number:
        return "relative"
    if estimated.pitch_class == reference.pitch_class:
        return "parallel"
    return "other"


def relation_shares(estimated: Sequence[Key], reference: Sequence[Key]) -> dict[str, float]:
    """The share of each relation in ``RELATIONS`` (they sum to 1; all nan when there is nothing)."""
    relations = [key_relation(e, r) for e, r in zip(estimated, reference)]
    return {name: relations.count(name) / len(relations) if relations else float("nan") for name in RELATIONS}


def key_breakdown(estimated: Sequence[Key], reference: Sequence[Key], records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, MIREX and relation shares over all pieces, by mode, by minor kind and with / without drums."""
    def entry(mask: Sequence[bool]) -> dict[str, Any]:
        chosen_estimates = [e for e, keep in zip(estimated, mask) if keep]
        chosen_reference = [r for r, keep in zip(reference, mask) if keep]
        return {**key_metrics(chosen_estimates, chosen_reference), **relation_shares(chosen_estimates, chosen_reference)}

    result: dict[str, Any] = {"all": entry([True] * len(records))}
    for field, name in (("mode", "by_mode"), ("minor_kind", "by_minor_kind"), ("drums", "by_drums")):
        values = sorted({str(record[field]) for record in records if record[field] != ""})
        result[name] = {value: entry([str(record[field]) == value for record in records]) for value in values}
    return result


def reference_keys(records: Sequence[dict[str, Any]]) -> list[Key]:
    """The labelled key of each tonal test record ("A minor")."""
    keys = []
    for record in records:
        key = parse_key(str(record.get("key", "")))
        if key is None or record.get("split") != "test":
            raise TonalTestManifestError(f"{record.get('path')}: not a tonal test record (key {record.get('key')!r})")
        keys.append(key)
    return keys


def _methods(loaded, settings: EvaluationSettings) -> dict[str, KeyMethod]:
    methods: dict[str, KeyMethod] = {"ks_chroma": estimate_key}
    essentia = _essentia_key_function() if settings.essentia else None
    if essentia:
        methods["essentia"] = essentia
    if loaded is not None and loaded.network.key_head is not None:
        methods["model"] = lambda samples, rate: run_model(loaded, at_rate(samples, rate, loaded.config.sample_rate)).key
    return methods


def conditioned(clean: np.ndarray, sample_rate: int, conditions: Sequence[str], seed: int, item: int) -> dict[str, np.ndarray]:
    """The audio of piece number ``item`` under each condition (``corruptions.corrupted``)."""
    return {condition: corrupted(clean, sample_rate, condition, seed, item) for condition in conditions}


def evaluate_tonal_test(records: list[dict[str, Any]], loaded, settings: EvaluationSettings) -> dict[str, Any]:
    """Every method on every piece (a seeded sample of ``settings.max_clips`` when set), clean and corrupted."""
    if settings.max_clips is not None and len(records) > settings.max_clips:
        records = random.Random(settings.seed).sample(records, settings.max_clips)
    if not records:
        raise TonalTestManifestError("the tonal test manifest lists no pieces (build it with `engine train data tonal-test`)")
    references = reference_keys(records)
    methods = _methods(loaded, settings)
    conditions = ("clean",) + tuple(settings.corruptions)
    estimates: dict[tuple[str, str], list[Key]] = {(m, c): [] for m in methods for c in conditions}
    for done, record in enumerate(records, 1):
        versions = conditioned(decode_mono(record["path"], settings.sample_rate), settings.sample_rate, conditions,
                               settings.seed, done)
        for (method, condition), keys in estimates.items():
            keys.append(methods[method](versions[condition], settings.sample_rate))
        if settings.progress:
            settings.progress("tonal test set", done, len(records))
    table: dict[str, dict[str, Any]] = {}
    for (method, condition), keys in estimates.items():
        table.setdefault(method, {})[condition] = key_breakdown(keys, references, records)
        if method == "model":
            table[method][condition][PER_ITEM] = mirex_per_item(records, keys, references)
    return {"pieces": len(records), "hours": round(sum(r["duration"] for r in records) / 3600, 3),
            "generator": sorted({str(r.get("generator")) for r in records}),
            "soundfont": sorted({str(r.get("soundfont")) for r in records}), "key": table}


def tonal_test_markdown(result: dict[str, Any]) -> list[str]:
    """The report's section: every method and condition with its error kinds, then the clean split by mode."""
    lines = ["", f"## Key on the independent tonal test set ({result['pieces']} pieces, {result['hours']} h, "
             f"{', '.join(result['soundfont'])})", "", KEY_WINDOWS_NOTE, "",
             "| method | condition | accuracy % | MIREX % | exact % | fifth % | relative % | parallel % | other % |",
             "|---|---|---|---|---|---|---|---|---|"]
    for method, conditions in result["key"].items():
        for condition, entry in conditions.items():
            overall = entry["all"]
            lines.append(f"| {method} | {condition} | {_percent(overall['accuracy'])} | {_percent(overall['mirex'])} | "
                         + " | ".join(_percent(overall[name]) for name in RELATIONS) + " |")
    lines += ["", "Clean audio, by mode and minor kind:", "",
              "| method | subset | pieces | accuracy % | MIREX % | fifth % | relative % | parallel % | other % |",
              "|---|---|---|---|---|---|---|---|---|"]
    for method, conditions in result["key"].items():
        clean = conditions["clean"]
        for group in ("by_mode", "by_minor_kind", "by_drums"):
            for subset, entry in clean[group].items():
                label = f"drums {subset}" if group == "by_drums" else subset
                lines.append(f"| {method} | {label} | {entry['count']} | {_percent(entry['accuracy'])} | "
                             f"{_percent(entry['mirex'])} | " + " | ".join(_percent(entry[n]) for n in RELATIONS[1:]) + " |")
    return lines
