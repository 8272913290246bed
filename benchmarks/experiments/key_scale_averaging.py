"""Does averaging several reads of each key window make the key steadier? The key of a game-music track flips when
the audio is perturbed in ways that should not move it: on the validation pairs of ``engine eval``'s transposition
test, a time stretch with the pitch kept changed the stored key about as often as the transposition did
(``benchmarks.experiments.transposition_failures``). Each variant reads every key window of the stored layout
(``engine.key_audio``, on the track's tuning) several ways and averages the key probabilities of all reads:

- ``single``: one read per window (the stored key until 2026-12-06);
- ``time3``: scales 2**(-1/12), 1, 2**(1/12) (a semitone's resampling, in time only);
- ``time3_pitch``: the same, each moved a semitone in pitch as resampling would move it, the key moved back;
- ``time5``: scales 2**(k/12) for k in -2..2;
- ``grid3``: the window read on pitch grids moved by -100, 0 and +100 cents (the filterbank samples the same STFT
  at other points), the keys moved back;
- ``resampled3``: the window itself resampled a semitone down and up (ratios 17/18 and 18/17, within 1.1 cents of
  a semitone; the up-shifted read is shorter, the down-shifted one cut to the window), the keys moved back: what
  averaging the whole excerpt's key over resampling shifts of -1, 0, +1 did on validation (82.1 -> 89.5 %
  consistency), per window: the stored key since 2026-12-06 (``engine.key_semitone_copies``);
- ``resampled_half``: every window read once, and every other one also resampled a semitone down and up (half the
  copies' cost), all reads averaged;
- ``excerpt3``: that whole-audio averaging itself: the audio resampled a semitone down and up (as ``engine eval``
  shifts it), each copy laid out and read as ``engine index`` would read a file that long, the keys moved back.

Scored on ``--split`` of the game music (transposition consistency on ``engine eval``'s pairs, per track, paired
bootstrap against ``single``) and of key-labelled manifests (MIREX). Validation and train choose; ``--split test`` is
the held-out run made once after the choice. Run from the repository root:

    python -m benchmarks.experiments.key_scale_averaging --model resources/models/default \\
        --soundtracks ../data/debian/manifest.jsonl --manifest ../data/scores/manifest.jsonl --split val
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.experiments.key_experiment_cli import key_experiment_parser, print_report
from benchmarks.experiments.key_windows import labelled_clips, transposition_excerpts
from engine.analyzer import Analyzer
from engine.key_audio import layout_from_samples
from engine.keys import key_from_index, mirex_key_score, moved_key_probabilities
from engine.model_folder import load_model
from engine.track_analysis import DEFAULT_MAX_WINDOWS
from training.evaluation.bootstrap import bootstrap_means, paired_difference
from training.evaluation.corruptions import pitch_shift_by_resampling

SEMITONE = 2 ** (1 / 12)
# name -> [(time scale of the frames, pitch move in semitones)]
VARIANTS: dict[str, list[tuple[float, int]]] = {
    "single": [(1.0, 0)],
    "time3": [(1 / SEMITONE, 0), (1.0, 0), (SEMITONE, 0)],
    "time3_pitch": [(1 / SEMITONE, 1), (1.0, 0), (SEMITONE, -1)],
    "time5": [(SEMITONE ** k, 0) for k in (-2, -1, 0, 1, 2)],
}
OTHER_VARIANTS = ("grid3", "resampled3", "resampled_half", "excerpt3")
NAMES = (*VARIANTS, *OTHER_VARIANTS)


def moved_in_pitch(spectrogram: torch.Tensor, bins: int) -> torch.Tensor:
    """(batch, 1, pitch bins, frames) moved up by ``bins`` (down when negative), silence where nothing was."""
    if bins == 0:
        return spectrogram
    moved = torch.zeros_like(spectrogram)
    if bins > 0:
        moved[:, :, bins:] = spectrogram[:, :, :-bins]
    else:
        moved[:, :, :bins] = spectrogram[:, :, -bins:]
    return moved


def scaled_key_probabilities(analyzer: Analyzer, windows: np.ndarray, tuning_cents: float,
                             reads: list[tuple[float, int]]) -> np.ndarray:
    """(windows, 24): each window's key probabilities averaged over ``reads`` of its spectrogram."""
    model = analyzer.network
    encoder = model.encoder
    bins_per_semitone = encoder.config.bins_per_octave // 12
    total = np.zeros((len(windows), 24))
    with torch.inference_mode():
        spectrogram = encoder.frontend(torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)), tuning_cents)
        for scale, semitones in reads:
            read = spectrogram
            if scale != 1.0:
                frames = max(8, int(round(spectrogram.shape[-1] * scale)))
                read = F.interpolate(read, size=(read.shape[2], frames), mode="bilinear", align_corners=True)
            read = moved_in_pitch(read, semitones * bins_per_semitone)
            block = encoder.blocks[0](encoder.input_norm(read))
            probabilities = torch.softmax(model.key_head(encoder.key_path([block])), -1).numpy()
            total += moved_key_probabilities(probabilities, semitones)
    return total / len(reads)


def grid_key_probabilities(analyzer: Analyzer, windows: np.ndarray, tuning_cents: float) -> np.ndarray:
    """(windows, 24): each window read on grids a semitone down, at and a semitone up from its tuning, averaged."""
    total = np.zeros((len(windows), 24))
    for semitones in (-1, 0, 1):
        # a grid moved up by a semitone reads a note on the bin of the note below it: its keys sit a semitone low
        total += moved_key_probabilities(analyzer.run_key_windows(windows, tuning_cents + 100 * semitones), -semitones)
    return total / 3


def resampled_key_probabilities(analyzer: Analyzer, windows: np.ndarray, tuning_cents: float) -> np.ndarray:
    """(windows, 24): each window and its semitone copies (``Analyzer.run_semitone_copies``), averaged."""
    reads = analyzer.run_semitone_copies(windows, tuning_cents).sum(axis=0)
    return (reads + analyzer.run_key_windows(windows, tuning_cents)) / 3


def half_copies_key_probabilities(analyzer: Analyzer, windows: np.ndarray, tuning_cents: float) -> np.ndarray:
    """(reads, 24): every window read once, and every other window's semitone copies, as rows."""
    copies = analyzer.run_semitone_copies(windows[::2], tuning_cents)
    return np.concatenate([analyzer.run_key_windows(windows, tuning_cents), *copies])


def window_key_probabilities(analyzer: Analyzer, windows: np.ndarray, tuning: float, name: str) -> np.ndarray:
    if name == "resampled_half":
        return half_copies_key_probabilities(analyzer, windows, tuning)
    if name == "grid3":
        return grid_key_probabilities(analyzer, windows, tuning)
    if name == "resampled3":
        return resampled_key_probabilities(analyzer, windows, tuning)
    return scaled_key_probabilities(analyzer, windows, tuning, VARIANTS[name])


def track_key_probabilities(analyzer: Analyzer, audio: np.ndarray, name: str) -> np.ndarray:
    if name == "excerpt3":
        return np.mean([moved_key_probabilities(track_key_probabilities(
            analyzer, pitch_shift_by_resampling(audio, analyzer.sample_rate, semitones) if semitones else audio,
            "single"), semitones) for semitones in (-1, 0, 1)], axis=0)
    return window_track_key_probabilities(analyzer, audio, name)


def window_track_key_probabilities(analyzer: Analyzer, audio: np.ndarray, name: str) -> np.ndarray:
    """The stored key's distribution for decoded ``audio`` (the windows ``engine index`` reads, on the track's
    tuning), each window read as the variant ``name`` reads it."""
    windows, extras = layout_from_samples(audio, analyzer.sample_rate, analyzer.window_samples, DEFAULT_MAX_WINDOWS)
    tuning = analyzer.key_tuning(windows)
    every = windows if not len(extras) else np.concatenate([windows, extras], axis=0)
    return window_key_probabilities(analyzer, every, tuning, name).mean(axis=0)


def consistency_per_track(analyzer: Analyzer, manifest: Path, split: str, names: tuple[str, ...],
                          max_tracks: int | None = None) -> dict[str, list[float]]:
    rate = analyzer.sample_rate
    per_track: dict[str, list[float]] = {name: [] for name in names}
    for track, (audio, shifts) in enumerate(transposition_excerpts(manifest, split, rate)):
        if max_tracks is not None and track >= max_tracks:
            break
        moved = {shift: pitch_shift_by_resampling(audio, rate, shift) for shift in shifts}
        for name in names:
            base = int(np.argmax(track_key_probabilities(analyzer, audio, name)))
            per_track[name].append(float(np.mean([
                int(np.argmax(moved_key_probabilities(track_key_probabilities(analyzer, moved[shift], name), shift))) == base
                for shift in shifts])))
    return per_track


def mirex_per_clip(analyzer: Analyzer, manifest: Path, split: str, names: tuple[str, ...]) -> dict[str, list[float]]:
    scores: dict[str, list[float]] = {name: [] for name in names}
    for audio, reference in labelled_clips(manifest, split, analyzer.sample_rate):
        for name in names:
            estimate = key_from_index(int(np.argmax(track_key_probabilities(analyzer, audio, name))))
            scores[name].append(mirex_key_score(estimate, reference))
    return scores


def summary(per_item: dict[str, list[float]]) -> dict:
    values = {name: np.array(items) for name, items in per_item.items()}
    return {"means": {name: bootstrap_means(items) for name, items in values.items()},
            "minus_single": {name: paired_difference(items, values["single"])
                             for name, items in values.items() if name != "single"}}


def main() -> None:
    parser = key_experiment_parser(__doc__)
    parser.add_argument("--variants", nargs="+", choices=NAMES, default=list(NAMES), help="single is always read")
    arguments = parser.parse_args()
    names = tuple(dict.fromkeys(["single", *arguments.variants]))
    analyzer = Analyzer(load_model(arguments.model))
    report = {}
    for manifest in arguments.manifest:
        report[f"mirex:{manifest}"] = summary(mirex_per_clip(analyzer, manifest, arguments.split, names))
        print(json.dumps(report[f"mirex:{manifest}"]["means"]), flush=True)
    if arguments.soundtracks:
        report["transposition"] = summary(consistency_per_track(analyzer, arguments.soundtracks, arguments.split, names,
                                                                     arguments.max_tracks))
    print_report(report, arguments.json)


if __name__ == "__main__":
    main()
