"""Is the key's transposition consistency limited by the network or by the music? Two diagnostics on the game
music's transposition pairs (``engine eval``'s pairs, on ``--split``; the product's key windows):

- **grid shift**: the same audio read on a pitch grid moved by whole semitones (``tuning_cents`` = -100 k), which
  is an exact transposition of the spectrogram with nothing else changed (no resampling, same windows): how often
  the key moves with it;
- **grid offsets**: the key averaged over reads on grids moved by the given cents (whole semitones rolled back),
  a smoothing at test time, scored by transposition consistency (real shifts, as ``engine eval``).

    python -m benchmarks.experiments.key_grid_offsets --model resources/models/default \
        --soundtracks ../data/debian/manifest.jsonl --split val --offsets 0 --offsets -33 0 33
(from the repository root). Validation only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks.experiments.key_windows import transposition_excerpts
from engine.analyzer import Analyzer
from engine.key_audio import layout_from_samples
from engine.model_folder import load_model
from engine.track_analysis import DEFAULT_MAX_WINDOWS
from training.learner import untranspose_key_distribution


def unshifted(probabilities: np.ndarray, semitones: int) -> np.ndarray:
    """Key probabilities (24,) of audio shifted by ``semitones`` → those of the audio before the shift
    (``training.learner.untranspose_key_distribution``, which gathers and so takes probabilities as well)."""
    return untranspose_key_distribution(torch.from_numpy(probabilities), torch.tensor(semitones)).numpy()


def key_probabilities(analyzer: Analyzer, audio: np.ndarray, offsets: list[int]) -> np.ndarray:
    """The mean key probabilities over the product's key windows, read on grids moved by each of ``offsets``
    cents from the track's own (a read a whole semitone off is rolled back)."""
    windows, extras = layout_from_samples(audio, analyzer.sample_rate, analyzer.window_samples, DEFAULT_MAX_WINDOWS)
    every = windows if not len(extras) else np.concatenate([windows, extras])
    tuning = analyzer.key_tuning(windows)  # as the product reads it: on the track's own grid when that is off
    total = np.zeros(24)
    for cents in offsets:
        # a grid moved up reads the audio as if shifted down by as much
        total += unshifted(analyzer.run_key_windows(every, tuning + cents).mean(0), -round(cents / 100))
    return total / len(offsets)


def main() -> None:
    from training.evaluation.corruptions import pitch_shift_by_resampling

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--soundtracks", type=Path, required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--offsets", type=int, nargs="+", action="append", required=True)
    options = parser.parse_args()
    analyzer = Analyzer(load_model(options.model))
    rate = analyzer.sample_rate
    real: dict[str, list[bool]] = {" ".join(map(str, offsets)): [] for offsets in options.offsets}
    grid: list[bool] = []
    for audio, shifts in transposition_excerpts(options.soundtracks, options.split, rate):
        bases = {name: key_probabilities(analyzer, audio, list(map(int, name.split()))) for name in real}
        plain = bases.get("0", key_probabilities(analyzer, audio, [0]))
        for shift in shifts:
            moved = pitch_shift_by_resampling(audio, rate, shift)
            for name, base in bases.items():
                found = key_probabilities(analyzer, moved, list(map(int, name.split())))
                real[name].append(int(np.argmax(unshifted(found, shift))) == int(np.argmax(base)))
            on_moved_grid = key_probabilities(analyzer, audio, [-100 * shift])  # read `shift` up, rolled back
            grid.append(int(np.argmax(on_moved_grid)) == int(np.argmax(plain)))
    print(json.dumps({"pairs": len(grid), "grid_shift_consistency": float(np.mean(grid)),
                      "consistency_by_offsets": {name: float(np.mean(hits)) for name, hits in real.items()}}))


if __name__ == "__main__":
    main()
