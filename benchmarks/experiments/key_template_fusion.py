"""Does a pitch-class template score beside the stored key distribution help the key on unseen music?

The learned key (mean of the key windows' reads, semitone copies for close calls) is level with Essentia's template
key finder on the renders and 0.7 points behind it on the clean tonal test pieces; the template finders (Essentia,
the chroma + Krumhansl baseline) make none of the relative-minor errors the network makes on major pieces. Each
item is read once as indexing stores its key (``Analyzer.track_key_reads``: analysis windows, further key windows,
the track's tuning, copies when the plain reads are a close call), and a chroma is taken from the same windows' audio
on the same pitch grid; every fusion ``log p(key) + w * template(key)`` (the template a Pearson correlation of the
chroma with a rotated major / minor profile, in [-1, 1]) is then scored on the same reads: MIREX on key-labelled
manifests, transposition consistency on ``engine eval``'s pairs (each read decides on its own, as indexing would).
Paired bootstrap against the stored key (w = 0). Validation chooses; ``--split test`` is the held-out run, once,
after the choice.

    python -m benchmarks.experiments.key_template_fusion --model resources/models/default \\
        --soundtracks ../data/debian/manifest.jsonl --manifest ../data/scores/manifest.jsonl \\
        --manifest ../data/generated/manifest.jsonl --split val [--cache ../data/ktf_val.npz]
(from the repository root).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.experiments.key_experiment_cli import key_experiment_parser, print_report, scored_row
from benchmarks.experiments.key_windows import labelled_clips, transposition_reads
from engine.analyzer import Analyzer
from engine.key_audio import layout_from_samples
from engine.keys import key_from_index, mirex_key_score, moved_key_probabilities
from engine.model_folder import load_model
from engine.track_analysis import DEFAULT_MAX_WINDOWS
from training.evaluation.chroma_key import (
    FFT_SIZE, HOP_SIZE, MAJOR_PROFILE, MINOR_PROFILE, folded_chroma, frames_semitone_energy, key_scores_from_chroma,
)

WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 1e6)  # 1e6: the template alone
# Pitch-class profiles, tonic first: Krumhansl & Kessler's probe-tone ratings (1982), and the key profiles Temperley
# counted on the Kostka-Payne harmony textbook's excerpts (2007).
PROFILES = {
    "krumhansl": (MAJOR_PROFILE, MINOR_PROFILE),
    "temperley": (np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400]),
                  np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330])),
}


def tuned_chroma(windows: np.ndarray, sample_rate: int, cents: float) -> np.ndarray:
    """(12,) chroma, C first, summing to 1, of the frames inside ``windows`` (N, samples), on the pitch grid of a
    track tuned ``cents`` from A = 440 Hz (``training.evaluation.chroma_key``'s chroma, frame by frame inside each
    window)."""
    starts = np.arange(0, windows.shape[1] - FFT_SIZE + 1, HOP_SIZE)
    frames = windows[:, starts[:, None] + np.arange(FFT_SIZE)[None, :]].reshape(-1, FFT_SIZE)
    return folded_chroma(*frames_semitone_energy(frames, sample_rate, cents))


def template_scores(chroma: np.ndarray, profile: str) -> np.ndarray:
    """(24,) Pearson correlations of ``chroma`` with the profile rotated to each key (major 0..11, minor 12..23)."""
    return key_scores_from_chroma(chroma, PROFILES[profile])


def stored_read(analyzer: Analyzer, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the stored key distribution (24,), the chroma (12,) of the same windows on the same grid) of decoded
    ``audio`` laid out as indexing lays it out."""
    windows, extras = layout_from_samples(audio, analyzer.sample_rate, analyzer.window_samples, DEFAULT_MAX_WINDOWS)
    window_keys = analyzer.run_windows(windows)["key_probs"]
    reads = analyzer.track_key_reads([windows], [window_keys], [extras if len(extras) else None])[0]
    every = windows if not len(extras) else np.concatenate([windows, extras], axis=0)
    return reads.mean(axis=0), tuned_chroma(every, analyzer.sample_rate, analyzer.key_tuning(windows))


def moved_back(read: tuple[np.ndarray, np.ndarray], semitones: int) -> tuple[np.ndarray, np.ndarray]:
    """The read of audio shifted ``semitones`` up, moved back to the original's keys and pitch classes."""
    probabilities, chroma = read
    return moved_key_probabilities(probabilities, semitones), np.roll(chroma, -semitones)


def fused_key(read: tuple[np.ndarray, np.ndarray], weight: float, profile: str) -> int:
    probabilities, chroma = read
    return int(np.argmax(np.log(probabilities + 1e-9) + weight * template_scores(chroma, profile)))


def scored(tracks: list, clips: dict[str, list], weight: float, profile: str) -> dict:
    consistency = []
    for read, moved in tracks:
        base = fused_key(read, weight, profile)
        consistency.append(float(np.mean([fused_key(other, weight, profile) == base for other in moved])))
    mirex = {name: [mirex_key_score(key_from_index(fused_key(read, weight, profile)), reference)
                    for read, reference in items] for name, items in clips.items()}
    relative = {name: float(np.mean([fused_key(read, weight, profile) == 12 + (reference.pitch_class + 9) % 12
                                     for read, reference in items if reference.mode == "major"] or [0.0]))
                for name, items in clips.items()}
    return {"consistency": consistency, "mirex": mirex, "relative_minor_on_major": relative}


def report(tracks: list, clips: dict[str, list]) -> dict:
    stored = scored(tracks, clips, 0.0, "krumhansl")
    rows = {}
    for profile in PROFILES:
        for weight in WEIGHTS:
            result = scored(tracks, clips, weight, profile)
            relative = {f"relative_minor_on_major:{name}": share for name, share in result["relative_minor_on_major"].items()}
            rows[f"{profile} w={weight:g}"] = {**scored_row(result, stored, "stored"), **relative}
    return rows


def read_items(analyzer: Analyzer, arguments) -> tuple[list, dict[str, list]]:
    rate = analyzer.sample_rate
    clips = {}
    for manifest in arguments.manifest:
        clips[str(manifest)] = [(stored_read(analyzer, audio), reference)
                                for audio, reference in labelled_clips(manifest, arguments.split, rate)]
        print(f"{manifest}: {len(clips[str(manifest)])} clips", flush=True)
    tracks = []
    if arguments.soundtracks:
        tracks = transposition_reads(arguments.soundtracks, arguments.split, rate,
                                     lambda audio: stored_read(analyzer, audio), moved_back, arguments.max_tracks)
    return tracks, clips


def saved_reads(path: Path, tracks: list, clips: dict[str, list]) -> None:
    """Every read in one ``.npz`` (plain arrays), so other profiles and weights are scored without reading again."""
    arrays: dict[str, np.ndarray] = {}
    for number, (read, moved) in enumerate(tracks):
        arrays[f"track{number}:p"], arrays[f"track{number}:c"] = read
        arrays[f"track{number}:moved_p"] = np.stack([p for p, _ in moved])
        arrays[f"track{number}:moved_c"] = np.stack([c for _, c in moved])
    for name, items in clips.items():
        for number, ((probabilities, chroma), reference) in enumerate(items):
            stem = f"clip:{name}:{number}"
            arrays[stem + ":p"], arrays[stem + ":c"] = probabilities, chroma
            arrays[stem + ":key"] = np.array(reference.index)
    np.savez(path, **arrays)


def loaded_reads(path: Path) -> tuple[list, dict[str, list]]:
    with np.load(path, allow_pickle=False) as stored:
        data = {name: stored[name] for name in stored.files}
    tracks, clips = [], {}
    for number in range(sum(name.endswith(":moved_p") for name in data)):
        stem = f"track{number}"
        moved = list(zip(data[stem + ":moved_p"], data[stem + ":moved_c"]))
        tracks.append(((data[stem + ":p"], data[stem + ":c"]), moved))
    for name in sorted({name.rsplit(":", 2)[0] for name in data if name.startswith("clip:")}):
        count = sum(key.startswith(name + ":") and key.endswith(":key") for key in data)
        clips[name.split(":", 1)[1]] = [((data[f"{name}:{n}:p"], data[f"{name}:{n}:c"]),
                                         key_from_index(int(data[f"{name}:{n}:key"]))) for n in range(count)]
    return tracks, clips


def main() -> None:
    parser = key_experiment_parser(__doc__)
    parser.add_argument("--cache", type=Path, help="the reads, kept (and read from here when the file exists)")
    arguments = parser.parse_args()
    if arguments.cache is not None and arguments.cache.exists():
        tracks, clips = loaded_reads(arguments.cache)
    else:
        tracks, clips = read_items(Analyzer(load_model(arguments.model)), arguments)
        if arguments.cache is not None:
            saved_reads(arguments.cache, tracks, clips)
    print_report(report(tracks, clips), arguments.json)


if __name__ == "__main__":
    main()
