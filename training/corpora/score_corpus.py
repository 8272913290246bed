"""Build the rendered-score corpus: index the labelled pieces, plan clips, render them in parallel, and
append each finished clip to ``manifest.jsonl``. Re-running resumes: rendered clips are skipped.

Layout under the output folder::

    pieces.jsonl            every labelled piece with its split (and the chorales rejected, with why)
    config.json             the ScoreCorpusConfig used
    manifest.jsonl          one record per rendered clip (labels, split, sound font, sha256, ...)
    failures.jsonl          clips that could not be rendered, with the reason
    audio/<split>/<clip_id>.flac   mono FLAC at config.sample_rate
    cache/notes/            parsed note lists, one JSON per piece
"""

from __future__ import annotations

import json
import multiprocessing
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from engine.keys import Key
from training.corpora.audio_files import peak_normalised, write_audio
from training.corpora.fluidsynth_render import RenderError, render_midi
from training.corpora.manifest import append_records, read_manifest, sha256_of_file
from training.corpora.score_clip import RELEASE_SECONDS, ClipVariant, build_clip_midi
from training.corpora.score_notes import (
    ScoreNotes, ScoreParseError, chorale_key, load_cached_notes, notes_from_stream, parse_abc_tune, parse_chorale,
    save_cached_notes,
)
from training.corpora.score_plan import ClipJob, ScoreCorpusConfig, plan_clips
from training.corpora.score_sources import (
    CHORALE_SOURCE, ScorePiece, bwv_group, bwv_number, chorale_paths, read_tune_text, tune_pieces,
)
from training.corpora.soundfonts import locate_soundfont, soundfont_by_name
from training.corpora.splits import split_of_group

LABELS_VERSION = 1
MANIFEST_NAME = "manifest.jsonl"
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _piece_to_json(piece: ScorePiece, split: str, part_count: int) -> dict[str, Any]:
    record = asdict(piece)
    record.update(key=piece.key.name, key_index=piece.key.index, split=split, part_count=part_count)
    return record


def _piece_from_json(record: dict[str, Any]) -> ScorePiece:
    key = Key(record["key_index"] % 12, "minor" if record["key_index"] >= 12 else "major")
    return ScorePiece(record["piece_id"], record["source"], record["title"], key, record["location"], record["split_group"])


def _index_chorale(task: tuple[str, str]) -> dict[str, Any]:
    path_text, cache_folder = task
    path = Path(path_text)
    bwv = bwv_number(path)
    try:
        score = parse_chorale(path)
        key = chorale_key(score)
        notes = notes_from_stream(score)
    except ScoreParseError as error:
        return {"piece_id": f"bach:BWV{bwv}", "rejected": str(error)}
    if key is None:
        return {"piece_id": f"bach:BWV{bwv}", "rejected": "key element disagrees with final bass note, or no mode"}
    piece = ScorePiece(f"bach:BWV{bwv}", CHORALE_SOURCE, f"BWV {bwv}", key, str(path), bwv_group(bwv))
    save_cached_notes(Path(cache_folder), piece.piece_id, notes)
    return _piece_to_json(piece, split_of_group(piece.split_group), notes.part_count)


def build_piece_index(out: Path, workers: int, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Parse every chorale once (labels need the whole score); tunes are labelled from their headers."""
    index_path = out / "pieces.jsonl"
    existing = read_manifest(index_path)
    if existing:
        return existing
    cache_folder = out / "cache" / "notes"
    paths = chorale_paths()
    records: list[dict[str, Any]] = []
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for done, record in enumerate(pool.imap_unordered(_index_chorale, [(str(p), str(cache_folder)) for p in paths]), 1):
            records.append(record)
            if progress:
                progress("index chorales", done, len(paths))
    for piece in tune_pieces():
        records.append(_piece_to_json(piece, split_of_group(piece.split_group), 1))
    records.sort(key=lambda record: record["piece_id"])
    append_records(index_path, records)
    return records


def _score_notes_for(piece: ScorePiece, cache_folder: Path) -> ScoreNotes:
    cached = load_cached_notes(cache_folder, piece.piece_id)
    if cached is not None:
        return cached
    if piece.source == CHORALE_SOURCE:
        notes = notes_from_stream(parse_chorale(Path(piece.location)))
    else:
        notes = notes_from_stream(parse_abc_tune(read_tune_text(piece.location)))
    save_cached_notes(cache_folder, piece.piece_id, notes)
    return notes


def rendered_clip_fields(clip_id: str, split: str, key: Key, path: Path, out: Path, seconds: float,
                         sample_rate: int) -> dict[str, Any]:
    """The fields every rendered clip's record shares: where its file is (and its hash), its split, length and
    key label in each form. Corpus builders add their own fields."""
    return {
        "clip_id": clip_id,
        "path": str(path),
        "relative_path": str(path.relative_to(out)),
        "key": key.name,
        "key_index": key.index,
        "tonic": key.tonic,
        "pitch_class": key.pitch_class,
        "mode": key.mode,
        "split": split,
        "duration": round(seconds, 3),
        "sample_rate": sample_rate,
        "sha256": sha256_of_file(path),
        "labels_version": LABELS_VERSION,
    }


def _clip_record(job: ClipJob, path: Path, out: Path, seconds: float, sample_rate: int) -> dict[str, Any]:
    soundfont = soundfont_by_name(job.soundfont)
    return {
        **rendered_clip_fields(job.clip_id, job.split, job.key, path, out, seconds, sample_rate),
        "families": list(job.instrumentation.families),
        "programs": list(job.instrumentation.programs),
        "solo": job.instrumentation.solo,
        "texture": "solo" if job.instrumentation.solo else "ensemble",
        "source": job.piece.source,
        "piece_id": job.piece.piece_id,
        "title": job.piece.title,
        "split_group": job.piece.split_group,
        "original_key": job.piece.key.name,
        "transposition": job.transposition,
        "quarter_bpm": job.quarter_bpm,
        "soundfont": job.soundfont,
        "soundfont_held_out": soundfont.held_out,
        "reverb": job.reverb,
    }


def render_job(task: tuple[ClipJob, str, dict[str, Any]]) -> dict[str, Any]:
    """Worker: one clip → FLAC + manifest record, or ``{"clip_id", "failed": reason}``."""
    job, out_text, config_fields = task
    out = Path(out_text)
    config = ScoreCorpusConfig(**config_fields)
    rng = random.Random(job.variant_seed)
    try:
        notes = _score_notes_for(job.piece, out / "cache" / "notes")
        variant = ClipVariant(job.transposition, job.quarter_bpm, job.instrumentation,
                              config.target_seconds, config.min_seconds, config.max_seconds)
        clip = build_clip_midi(notes, variant, rng)
        soundfont_path = locate_soundfont(soundfont_by_name(job.soundfont), out.parent / "soundfonts")
        samples = render_midi(clip.midi_bytes, soundfont_path, config.sample_rate, reverb=job.reverb)
    except (ScoreParseError, RenderError, FileNotFoundError, ValueError) as error:
        return {"clip_id": job.clip_id, "piece_id": job.piece.piece_id, "soundfont": job.soundfont, "failed": str(error)}
    samples = samples[: int((clip.seconds + RELEASE_SECONDS) * config.sample_rate)]
    path = out / "audio" / job.split / f"{job.clip_id}.flac"
    write_audio(path, peak_normalised(samples), config.sample_rate)
    return _clip_record(job, path, out, samples.size / config.sample_rate, config.sample_rate)


def build_score_corpus(out: Path, hours_by_split: dict[str, float], workers: int = 2,
                       config: ScoreCorpusConfig | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Index, plan and render; returns a summary (clips and hours per split, failures)."""
    config = config or ScoreCorpusConfig()
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2))
    index = build_piece_index(out, workers, progress)
    kept = [record for record in index if "rejected" not in record]
    pieces = [_piece_from_json(record) for record in kept]
    split_of_piece = {record["piece_id"]: record["split"] for record in kept}
    part_counts = {record["piece_id"]: record["part_count"] for record in kept}
    jobs = plan_clips(pieces, split_of_piece, part_counts, hours_by_split, config)
    manifest_path = out / MANIFEST_NAME
    done = {record["clip_id"] for record in read_manifest(manifest_path) if Path(record["path"]).exists()}
    failed = {record["clip_id"] for record in read_manifest(out / "failures.jsonl")}
    pending = [job for job in jobs if job.clip_id not in done and job.clip_id not in failed]
    config_fields = asdict(config)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        tasks = [(job, str(out), config_fields) for job in pending]
        for finished, record in enumerate(pool.imap_unordered(render_job, tasks), 1):
            append_records(out / ("failures.jsonl" if "failed" in record else MANIFEST_NAME), [record])
            if progress:
                progress("render", finished, len(pending))
    return summarise_manifest(manifest_path)


def summarise_manifest(manifest_path: Path) -> dict[str, Any]:
    """Clips and hours per split (and per source) of the last record of each clip id."""
    latest = {record["clip_id"]: record for record in read_manifest(manifest_path)}
    summary: dict[str, Any] = {"clips": len(latest), "hours": 0.0, "splits": {}}
    for record in latest.values():
        split = summary["splits"].setdefault(record["split"], {"clips": 0, "hours": 0.0, "by_source": {}})
        hours = record["duration"] / 3600
        split["clips"] += 1
        split["hours"] += hours
        split["by_source"][record["source"]] = split["by_source"].get(record["source"], 0.0) + hours
        summary["hours"] += hours
    return summary
