"""Build the tonal key TEST set: procedural pieces rendered with the held-out sound font, one manifest line each.

    engine train data tonal-test --out DIR [--pieces N] [--seed S] [--workers N]

Evaluation only: this generator shares no code with the training corpora except the FluidSynth renderer, and
its sound font (MuseScore General Lite) is never used for training. Piece i depends on (seed, i) alone, so
the set is reproducible and an interrupted run keeps every finished piece (its manifest line is written
when its audio is in place) and renders only the rest.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from training.corpora.audio_files import peak_normalised, write_audio
from training.corpora.fluidsynth_render import RenderError, fluidsynth_available, render_midi
from training.corpora.manifest import append_records, read_manifest, write_manifest
from training.evaluation.tonal_test_piece import GENERATOR, TAIL_SECONDS, PiecePlan, piece_midi, plan_piece

SOUNDFONT = Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")
SAMPLE_RATE = 22050  # the rate `engine eval` decodes at
FADE_SECONDS = 0.5  # the ring-out is faded over its last half second instead of cut
DEFAULT_PIECES = 240
DEFAULT_SEED = 20
MANIFEST_NAME = "manifest.jsonl"
Progress = Callable[[str, int, int], None]


class TonalTestSetError(ValueError):
    """The output folder holds another set (other seed or generator), or a renderer is missing."""


def piece_record(plan: PiecePlan, audio_path: Path, midi_path: Path, samples: int) -> dict[str, Any]:
    """The manifest line of a rendered piece (the fields DESIGN.md documents for the tonal test set)."""
    return {
        "path": str(audio_path.resolve()), "midi": str(midi_path.resolve()), "index": plan.index,
        "key": plan.key.name, "key_index": plan.key.index, "mode": plan.key.mode, "minor_kind": plan.minor_kind,
        "style": plan.style, "tempo_bpm": plan.tempo_bpm, "beats_per_bar": plan.beats_per_bar, "drums": plan.drums,
        "soundfont": SOUNDFONT.name, "programs": plan.programs, "comp_pattern": plan.comp_pattern,
        "bass_pattern": plan.bass_pattern, "duration": samples / SAMPLE_RATE, "sample_rate": SAMPLE_RATE,
        "seed": plan.seed, "split": "test", "generator": GENERATOR,
    }


def _trimmed(samples: np.ndarray, plan: PiecePlan) -> np.ndarray:
    """The render cut ``TAIL_SECONDS`` after the final chord ends, with a short fade-out."""
    kept = samples[: int(round((plan.music_seconds + TAIL_SECONDS) * SAMPLE_RATE))].copy()
    fade = min(kept.size, int(FADE_SECONDS * SAMPLE_RATE))
    kept[kept.size - fade:] *= np.linspace(1.0, 0.0, fade, dtype=kept.dtype)
    return kept


def render_piece(out: Path, seed: int, index: int) -> dict[str, Any]:
    """Write piece ``index``'s MIDI and FLAC under ``out`` and return its manifest record."""
    plan = plan_piece(seed, index)
    midi = piece_midi(plan)
    midi_path = out / "midi" / f"{index:04d}.mid"
    midi_path.parent.mkdir(parents=True, exist_ok=True)
    midi_path.write_bytes(midi)
    samples = peak_normalised(_trimmed(render_midi(midi, SOUNDFONT, SAMPLE_RATE, load_samples_on_demand=True), plan))
    audio_path = out / "audio" / f"{index:04d}.flac"
    write_audio(audio_path, samples, SAMPLE_RATE)
    return piece_record(plan, audio_path, midi_path, samples.size)


def _finished(records: list[dict[str, Any]], seed: int) -> dict[int, dict[str, Any]]:
    """Records of pieces whose audio is on disk, by index; refuses a folder built with another seed."""
    for record in records:
        if record.get("generator") != GENERATOR or record.get("seed") != seed:
            raise TonalTestSetError(f"the folder holds a set from {record.get('generator')} seed {record.get('seed')}, "
                                    f"not {GENERATOR} seed {seed}; choose another --out")
    return {record["index"]: record for record in records if Path(record["path"]).exists()}


def _rendered(out: Path, seed: int, indices: list[int], workers: int) -> Iterator[tuple[int, dict | str]]:
    """(index, record) per piece as it finishes, or (index, reason) when FluidSynth failed on it. Threads are
    enough: the work is the fluidsynth process and the FLAC encoder, neither holds the GIL."""
    if workers <= 1:
        for index in indices:
            yield index, _render_or_reason(out, seed, index)
        return
    with ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(_render_or_reason, out, seed, index): index for index in indices}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _render_or_reason(out: Path, seed: int, index: int) -> dict[str, Any] | str:
    try:
        return render_piece(out, seed, index)
    except RenderError as error:
        return str(error)


def build_tonal_test_set(out: Path, pieces: int = DEFAULT_PIECES, seed: int = DEFAULT_SEED, workers: int = 2,
                         progress: Progress | None = None) -> dict[str, Any]:
    """Render pieces 0..pieces-1 that ``out/manifest.jsonl`` lacks; returns a summary of the whole set."""
    if not fluidsynth_available():
        raise TonalTestSetError("the fluidsynth command is not installed (apt install fluidsynth)")
    if not SOUNDFONT.exists():
        raise TonalTestSetError(f"held-out sound font missing: {SOUNDFONT} (apt install musescore-general-soundfont-small)")
    manifest = out / MANIFEST_NAME
    finished = _finished(read_manifest(manifest), seed)
    missing = [index for index in range(pieces) if index not in finished]
    failures: dict[int, str] = {}
    for done, (index, result) in enumerate(_rendered(out, seed, missing, workers), 1):
        if isinstance(result, str):
            failures[index] = result
        else:
            append_records(manifest, [result])
            finished[index] = result
        if progress:
            progress("tonal test pieces", done, len(missing))
    records = [finished[index] for index in sorted(finished)]
    write_manifest(manifest, records)
    return _summary(manifest, records, len(missing) - len(failures), failures)


def _summary(manifest: Path, records: list[dict[str, Any]], rendered_now: int, failures: dict[int, str]) -> dict[str, Any]:
    def count(field: str) -> dict[str, int]:
        values = [str(record[field]) for record in records]
        return {value: values.count(value) for value in sorted(set(values))}

    return {
        "manifest": str(manifest.resolve()), "pieces": len(records), "rendered_now": rendered_now,
        "hours": round(sum(record["duration"] for record in records) / 3600, 3),
        "keys": len({record["key"] for record in records}), "modes": count("mode"), "minor_kinds": count("minor_kind"),
        "styles": count("style"), "drums": count("drums"), "failed": {str(index): reason for index, reason in failures.items()},
    }
