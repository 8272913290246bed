"""Build the generated tonal corpus: plan clips, compose and render them in parallel, append each finished
clip to ``manifest.jsonl``. Re-running resumes (rendered clips are skipped); a bigger ``hours`` adds clips.

Layout under the output folder::

    config.json                    the TonalCorpusConfig used (a different one is refused: use another folder)
    manifest.jsonl                 one record per rendered clip, in the score corpus's shape plus
                                   tempo_bpm, style, drums and generator
    failures.jsonl                 clips that could not be rendered, with the reason
    audio/<split>/<clip_id>.flac   mono FLAC at config.sample_rate
"""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from engine.keys import Key
from training.corpora.audio_files import peak_normalised, write_audio
from training.corpora.fluidsynth_render import RenderError, render_midi
from training.corpora.manifest import append_records, read_manifest
from training.corpora.score_clip import RELEASE_SECONDS
from training.corpora.score_corpus import rendered_clip_fields, summarise_manifest
from training.corpora.soundfonts import ensure_training_soundfont, locate_soundfont, soundfont_by_name
from training.corpora.tonal_generator import compose
from training.corpora.tonal_plan import GENERATOR_NAME, TonalClipJob, TonalCorpusConfig, plan_clips
from training.corpora.tonal_styles import STYLE_NAMES, family_of_generated_program

MANIFEST_NAME, FAILURES_NAME, CONFIG_NAME = "manifest.jsonl", "failures.jsonl", "config.json"
SOURCE = "tonal_generator"
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class CorpusConfigMismatch(ValueError):
    """The output folder was built with another configuration; resuming would mix two corpora."""


def clip_record(job: TonalClipJob, path: Path, out: Path, seconds: float, sample_rate: int) -> dict[str, Any]:
    """The manifest record: the score corpus's fields plus tempo_bpm, style, drums, minor colour, generator
    and the whole spec (the clip can be composed again from it)."""
    spec = job.spec
    key = Key(spec.pitch_class, spec.mode)
    programs = sorted(set(spec.programs))
    return {
        **rendered_clip_fields(job.clip_id, job.split, key, path, out, seconds, sample_rate),
        "minor_colour": spec.colour if spec.mode == "minor" else None,
        "families": sorted({family_of_generated_program(program) for program in programs}),
        "programs": programs,
        "solo": spec.solo,
        "texture": "solo" if spec.solo else "ensemble",
        "source": SOURCE,
        "piece_id": job.clip_id,
        "split_group": job.clip_id,
        "tempo_bpm": spec.tempo_bpm,
        "quarter_bpm": float(spec.tempo_bpm),
        "style": spec.style,
        "drums": spec.drums,
        "generator": GENERATOR_NAME,
        "spec": asdict(spec),
        "soundfont": job.soundfont,
        "soundfont_held_out": False,
        "reverb": job.reverb,
    }


def render_job(task: tuple[TonalClipJob, str, int]) -> dict[str, Any]:
    """Worker: one clip → FLAC + manifest record, or ``{"clip_id", "failed": reason}``."""
    job, out_text, sample_rate = task
    out = Path(out_text)
    soundfont = soundfont_by_name(job.soundfont)
    try:
        soundfont_path = locate_soundfont(soundfont, out.parent / "soundfonts")
        ensure_training_soundfont(soundfont, soundfont_path)
        piece = compose(job.spec)
        samples = render_midi(piece.midi_bytes, soundfont_path, sample_rate, reverb=job.reverb,
                              load_samples_on_demand=True)
    except (RenderError, FileNotFoundError) as error:
        return {"clip_id": job.clip_id, "soundfont": job.soundfont, "failed": str(error)}
    samples = samples[: int((piece.seconds + RELEASE_SECONDS) * sample_rate)]
    path = out / "audio" / job.split / f"{job.clip_id}.flac"
    write_audio(path, peak_normalised(samples), sample_rate)
    return clip_record(job, path, out, samples.size / sample_rate, sample_rate)


def _stored_config(path: Path) -> dict:
    """A config.json as written; one written before the style deck (or the tempo range) existed was dealt from the
    default deck at each style's tempi, so it resumes under the default config."""
    stored = json.loads(path.read_text())
    stored.setdefault("styles", list(STYLE_NAMES))
    stored.setdefault("tempo_range", None)
    return stored


def _check_config(out: Path, config: TonalCorpusConfig) -> None:
    """Write config.json, or refuse when the folder holds a corpus built with a different config."""
    wanted = json.loads(json.dumps(asdict(config)))
    path = out / CONFIG_NAME
    if path.exists() and _stored_config(path) != wanted:
        raise CorpusConfigMismatch(f"{path} was written with another configuration; build into a new --out folder")
    path.write_text(json.dumps(wanted, indent=2))


def build_tonal_corpus(out: Path, hours: float, workers: int = 2, config: TonalCorpusConfig | None = None,
                       progress: Progress | None = None) -> dict[str, Any]:
    """Plan and render ``hours`` of clips into ``out``; returns clips and hours per split."""
    config = config or TonalCorpusConfig()
    out.mkdir(parents=True, exist_ok=True)
    _check_config(out, config)
    manifest_path = out / MANIFEST_NAME
    finished_ids = {record["clip_id"] for record in read_manifest(manifest_path)
                    if (out / record["relative_path"]).exists()}
    finished_ids |= {record["clip_id"] for record in read_manifest(out / FAILURES_NAME)}
    pending = [job for job in plan_clips(hours, config) if job.clip_id not in finished_ids]
    tasks = [(job, str(out), config.sample_rate) for job in pending]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for finished, record in enumerate(pool.imap_unordered(render_job, tasks), 1):
            append_records(out / (FAILURES_NAME if "failed" in record else MANIFEST_NAME), [record])
            if progress:
                progress("render", finished, len(pending))
    summary = summarise_manifest(manifest_path)
    summary["failures"] = len(read_manifest(out / FAILURES_NAME))
    return summary
