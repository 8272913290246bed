"""The held-out evaluation: key (clean and corrupted) and tags on held-out renders, similarity and
transposition consistency on held-out soundtracks, each for the model and its baselines."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torchaudio

from engine.audio import AudioDecodeError, decode_mono
from engine.keys import key_from_index
from engine.library_standardisation import fit_standardisation
from training.evaluation.bootstrap import retrieval_difference, retrieval_with_intervals
from training.evaluation.chroma_key import estimate_key
from training.evaluation.corruptions import CORRUPTIONS, EXCERPT_BITRATE, corrupted, mp3_round_trip, pitch_shift_by_resampling
from training.evaluation.library_retrieval import library_excerpt_retrieval
from training.evaluation.logmel_embedding import logmel_statistics, standardised
from training.evaluation.metrics import (
    average_precision, key_metrics, per_query_label_retrieval, target_ranks, top1_summary, version_pair_retrieval,
)
from training.evaluation.model_inference import run_model
from training.evaluation.per_item import PER_ITEM, mirex_per_item, per_item, retrieval_per_item

EXCERPT_SECONDS = 30.0
TRANSPOSITION_SHIFTS = (-5, -3, -2, -1, 1, 2, 3, 4, 6)
SHIFTS_PER_TRACK = 2
KEY_EXCERPT_SECONDS = 60.0  # transposition consistency looks at this much of each track
Progress = Callable[[str, int, int], None]


@dataclass
class EvaluationSettings:
    sample_rate: int = 22050
    seed: int = 5
    max_clips: int | None = None
    max_tracks: int | None = None
    corruptions: tuple[str, ...] = tuple(CORRUPTIONS)
    essentia: bool = True
    progress: Progress | None = field(default=None, repr=False)


def _essentia_key_function():
    """Essentia's KeyExtractor where importable (benchmark only: AGPL, never a product dependency)."""
    try:
        import essentia.standard as essentia_standard
    except ImportError:
        return None
    from engine.keys import parse_key

    extractor = essentia_standard.KeyExtractor(sampleRate=44100)
    resample = essentia_standard.Resample

    def estimate(samples: np.ndarray, sample_rate: int):
        audio = resample(inputSampleRate=sample_rate, outputSampleRate=44100)(samples.astype(np.float32))
        tonic, scale, _ = extractor(audio)
        return parse_key(f"{tonic} {scale}")

    return estimate


def at_rate(samples: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Resample mono audio when the model runs at another rate than the evaluation decodes at."""
    if sample_rate == target_rate:
        return samples
    tensor = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    return torchaudio.functional.resample(tensor, sample_rate, target_rate).numpy()


def _limited(records: list[dict[str, Any]], limit: int | None, seed: int) -> list[dict[str, Any]]:
    if limit is None or len(records) <= limit:
        return records
    return random.Random(seed).sample(records, limit)


def evaluate_renders(records: list[dict[str, Any]], loaded, settings: EvaluationSettings) -> dict[str, Any]:
    """Key accuracy / MIREX per method and condition, split by held-out vs seen sound font; tag AP."""
    records = _limited([r for r in records if r["split"] == "test"], settings.max_clips, settings.seed)
    methods: dict[str, Callable] = {"ks_chroma": estimate_key}
    essentia = _essentia_key_function() if settings.essentia else None
    if essentia:
        methods["essentia"] = essentia
    conditions = ("clean",) + settings.corruptions
    estimates = {(m, c): [] for m in list(methods) + (["model"] if loaded and loaded.network.key_head else []) for c in conditions}
    tag_scores: list[np.ndarray] = []
    references = [key_from_index(r["key_index"]) for r in records]
    for done, record in enumerate(records, 1):
        clean = decode_mono(record["path"], settings.sample_rate)
        for condition in conditions:
            audio = corrupted(clean, settings.sample_rate, condition, settings.seed, done)
            for name, method in methods.items():
                estimates[(name, condition)].append(method(audio, settings.sample_rate))
            if loaded is not None and (("model", condition) in estimates or condition == "clean"):
                outputs = run_model(loaded, at_rate(audio, settings.sample_rate, loaded.config.sample_rate))
                if ("model", condition) in estimates:
                    estimates[("model", condition)].append(outputs.key)
                if condition == "clean" and outputs.tag_probabilities is not None:
                    tag_scores.append(outputs.tag_probabilities)
        if settings.progress:
            settings.progress("held-out renders", done, len(records))
    held_out = np.array([r["soundfont_held_out"] for r in records], dtype=bool)
    key_table: dict[str, Any] = {}
    for (method, condition), keys in estimates.items():
        entry = {"all": key_metrics(keys, references)}
        if method == "model":
            entry[PER_ITEM] = mirex_per_item(records, keys, references)
        for subset, mask in (("held_out_soundfont", held_out), ("seen_soundfonts", ~held_out)):
            entry[subset] = key_metrics([k for k, m in zip(keys, mask) if m], [k for k, m in zip(references, mask) if m])
        key_table.setdefault(method, {})[condition] = entry
    result: dict[str, Any] = {"clips": len(records), "key": key_table}
    if tag_scores:
        result["tags"] = _tag_average_precision(np.stack(tag_scores), records, loaded.config.tag_names)
    return result


def tag_label(record: dict[str, Any], tag: str) -> bool | None:
    """A render's truth for a tag name: an instrument family, "solo" or "ensemble"; None if unknown."""
    if tag in ("solo", "ensemble"):
        return record["texture"] == tag if "texture" in record else None
    from training.corpora.instrumentation import FAMILIES

    return tag in record["families"] if tag in FAMILIES and "families" in record else None


def _tag_average_precision(scores: np.ndarray, records: list[dict[str, Any]], tag_names: list[str]) -> dict[str, Any]:
    table = {}
    for column, tag in enumerate(tag_names):
        truth = [tag_label(record, tag) for record in records]
        if any(value is None for value in truth):
            continue
        labels = np.array(truth, dtype=bool)
        table[tag] = {"ap": average_precision(scores[:, column], labels), "positives": int(labels.sum()),
                      "prevalence": float(labels.mean())}
    return table


def draw_excerpt_and_shifts(track: np.ndarray, sample_rate: int, rng: random.Random) -> tuple[np.ndarray, list[int]]:
    """A track's 30 s excerpt re-encoded at 96 kbps and its transposition shifts, drawn from ``rng`` in the
    evaluation's order, so experiments seeded alike see the very excerpts ``engine eval`` scores."""
    excerpt, shifts = draw_clean_excerpt_and_shifts(track, sample_rate, rng)
    return mp3_round_trip(excerpt, sample_rate, EXCERPT_BITRATE), shifts


def draw_clean_excerpt_and_shifts(track: np.ndarray, sample_rate: int, rng: random.Random) -> tuple[np.ndarray, list[int]]:
    """``draw_excerpt_and_shifts`` before the 96 kbps encoding (the same draws from ``rng``)."""
    excerpt_samples = int(EXCERPT_SECONDS * sample_rate)
    start = rng.randrange(max(1, track.size - excerpt_samples))
    return track[start:start + excerpt_samples], rng.sample(TRANSPOSITION_SHIFTS, SHIFTS_PER_TRACK)


def _stranger_excerpts(records: list[dict[str, Any]], count: int, settings: EvaluationSettings) -> list[np.ndarray]:
    """30 s from the middle of ``count`` seeded tracks outside the held-out library (other soundtracks)."""
    excerpts = []
    excerpt_samples = int(EXCERPT_SECONDS * settings.sample_rate)
    for record in _limited(records, count, settings.seed):
        try:
            track = decode_mono(record["path"], settings.sample_rate)
        except AudioDecodeError:
            continue
        start = max(0, (track.size - excerpt_samples) // 2)
        excerpts.append(track[start:start + excerpt_samples])
    return excerpts


def evaluate_soundtracks(records: list[dict[str, Any]], loaded, settings: EvaluationSettings) -> dict[str, Any]:
    """Same-soundtrack retrieval, 96 kbps excerpt retrieval, version pairs, transposition consistency."""
    others = [r for r in records if r["split"] != "test"]
    records = _limited([r for r in records if r["split"] == "test"], settings.max_tracks, settings.seed)
    rng = random.Random(settings.seed)
    logmel_tracks, logmel_excerpts, model_tracks, model_excerpts, clean_excerpts = [], [], [], [], []
    tag_probabilities: list[np.ndarray] = []
    consistency: dict[str, list[bool]] = {"ks_chroma": []}
    essentia = _essentia_key_function() if settings.essentia else None
    if essentia:
        consistency["essentia"] = []
    if loaded and loaded.network.key_head is not None:
        consistency["model"] = []
    kept, shift_ids = [], []
    for done, record in enumerate(records, 1):
        try:
            track = decode_mono(record["path"], settings.sample_rate)
        except AudioDecodeError:
            continue
        kept.append(record)
        clean_excerpt, shifts = draw_clean_excerpt_and_shifts(track, settings.sample_rate, rng)
        clean_excerpts.append(clean_excerpt)
        excerpt = mp3_round_trip(clean_excerpt, settings.sample_rate, EXCERPT_BITRATE)
        logmel_tracks.append(logmel_statistics(track, settings.sample_rate))
        logmel_excerpts.append(logmel_statistics(excerpt, settings.sample_rate))
        if loaded:
            whole = run_model(loaded, at_rate(track, settings.sample_rate, loaded.config.sample_rate))
            model_tracks.append(whole.embedding)
            if whole.tag_probabilities is not None:
                tag_probabilities.append(whole.tag_probabilities)
            model_excerpts.append(run_model(loaded, at_rate(excerpt, settings.sample_rate, loaded.config.sample_rate)).embedding)
        key_audio = track[: int(KEY_EXCERPT_SECONDS * settings.sample_rate)]
        for shift in shifts:
            shift_ids.append(f"{record['path']}@{shift:+d}")
            shifted = pitch_shift_by_resampling(key_audio, settings.sample_rate, shift)
            consistency["ks_chroma"].append(
                estimate_key(shifted, settings.sample_rate) == estimate_key(key_audio, settings.sample_rate).transposed(shift))
            if essentia:
                consistency["essentia"].append(
                    essentia(shifted, settings.sample_rate) == essentia(key_audio, settings.sample_rate).transposed(shift))
            if "model" in consistency:
                consistency["model"].append(
                    run_model(loaded, at_rate(shifted, settings.sample_rate, loaded.config.sample_rate)).key
                    == run_model(loaded, at_rate(key_audio, settings.sample_rate, loaded.config.sample_rate)).key.transposed(shift))
        if settings.progress:
            settings.progress("held-out soundtracks", done, len(records))
    soundtracks = [r["soundtrack"] for r in kept]
    pairs = [r["version_pair"] for r in kept]
    everything = np.vstack(logmel_tracks + logmel_excerpts)
    normalised = standardised(everything)
    embeddings = {"logmel_stats": (normalised[: len(kept)], normalised[len(kept):])}
    if loaded:
        embeddings["model"] = (np.stack(model_tracks), np.stack(model_excerpts))
        if loaded.config.library_standardisation:  # as the product searches: on the evaluated library's moments
            moments = fit_standardisation(np.stack(model_tracks))
            embeddings["model_library_standardised"] = (moments.apply(np.stack(model_tracks)),
                                                        moments.apply(np.stack(model_excerpts)))
    track_ids = [str(r["path"]) for r in kept]
    similarity, per_query = {}, {}
    for name, (tracks, excerpts) in embeddings.items():
        per_query[name] = per_query_label_retrieval(tracks, soundtracks)
        excerpt_ranks = target_ranks(excerpts, tracks, list(range(len(kept))))
        similarity[name] = {
            "same_soundtrack": retrieval_with_intervals(*per_query[name]),
            "excerpt_96kbps": top1_summary(excerpt_ranks),
            "version_pairs": version_pair_retrieval(tracks, pairs),
        }
        if name == "model":
            similarity[name]["same_soundtrack"][PER_ITEM] = retrieval_per_item(track_ids, soundtracks, per_query[name])
            similarity[name]["excerpt_96kbps"][PER_ITEM] = per_item(track_ids, excerpt_ranks == 1)
    if loaded:
        for name in [name for name in similarity if name.startswith("model")]:
            similarity[name]["same_soundtrack"]["minus_logmel_stats"] = retrieval_difference(per_query[name], per_query["logmel_stats"])
        baseline_by_path = dict(zip((r["path"] for r in kept), embeddings["logmel_stats"][0]))
        library = library_excerpt_retrieval(
            [r["path"] for r in kept], clean_excerpts, _stranger_excerpts(others, len(kept), settings),
            settings.sample_rate, loaded.folder, soundtracks, baseline_by_path)
        similarity["model"]["library_excerpt_96kbps"] = library
    return {
        "tracks": len(kept),
        "hours": round(sum(r["duration"] for r in kept) / 3600, 3),
        "soundtracks": sorted(set(soundtracks)),
        "similarity": similarity,
        "transposition_consistency": transposition_entries(consistency, shift_ids),
        **({"tags_on_real_music": tag_firing(np.stack(tag_probabilities), loaded)} if tag_probabilities else {}),
    }


def transposition_entries(consistency: dict[str, list[bool]], pair_ids: list[str]) -> dict[str, Any]:
    """Each method's consistency rate over the transposition pairs; the model's with its per-pair outcomes."""
    entries = {}
    for method, outcomes in consistency.items():
        entries[method] = {"rate": float(np.mean(outcomes)) if outcomes else float("nan"), "pairs": len(outcomes)}
        if method == "model" and outcomes:
            entries[method][PER_ITEM] = per_item(pair_ids, outcomes)
    return entries


def tag_firing(probabilities: np.ndarray, loaded) -> dict[str, Any]:
    """Share of real tracks each tag fires on: at 0.5, and at the model's calibrated threshold where it has one
    (``heads.tags.calibration`` of its config), with whether the model shows the tag at all."""
    calibration = (loaded.config.tag_head or {}).get("calibration", {})
    table = {}
    for column, tag in enumerate(loaded.config.tag_names):
        scores = probabilities[:, column]
        entry = {"fires_at_0.5": float(np.mean(scores > 0.5)), "median_probability": float(np.median(scores))}
        if tag in calibration:
            entry["fires_at_threshold"] = float(np.mean(scores > calibration[tag]["threshold"]))
            entry["threshold"] = float(calibration[tag]["threshold"])
            entry["shown"] = bool(calibration[tag]["shown"])
        table[tag] = entry
    return {"tracks": int(probabilities.shape[0]), "tags": table}
