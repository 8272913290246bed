"""Why a key does not move with a transposition: each pair of ``engine eval``'s transposition test (the first 60 s of
a game-music track and two seeded shifts of it by resampling) read as ``engine index`` stores the key, with what
differs between the two reads:

- the relation of the shifted read (moved back by its shift) to the original's key (fifth / relative / parallel /
  other, as the key breakdown names them);
- the original's margin (its best key's mean probability minus the second's): an ambiguous track flips on small
  changes, a confident one should not;
- each read's tuning (``Analyzer.key_tuning``): a grid followed on one side of ``MIN_FOLLOWED_CENTS`` and not on the
  other reads the two on different grids;
- the L1 distance between the two key distributions (the shifted one rotated back).

With ``--perturbations``, how often the same reader's key changes under what should not change it or should move
it by a known amount, on the same tracks: the excerpt started 1 s later (same key), stretched to the pair's
duration with its pitch kept (phase vocoder; same key), shifted in pitch with its tempo kept (phase vocoder; key
moved by the shift), resampled as ``engine eval`` shifts it (the reference), and the key read from windows every
half window over the whole excerpt (``key_audio.hop_starts``) instead of the stored layout. With ``--folds``, the
consistency when the key path's octave fold averages only some octaves (a reader change at test time, to see
whether the pitch range's edges matter).

Validation and train splits only (the test split is ``engine eval``'s). Run from the repository root:

    python -m benchmarks.experiments.transposition_failures --model resources/models/default \\
        --soundtracks ../data/debian/manifest.jsonl --split val [--perturbations] [--folds] --json OUT.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from unittest.mock import patch

import numpy as np
import torch

import engine.analyzer
from benchmarks.experiments.key_windows import transposition_excerpts
from engine.analyzer import Analyzer, key_margin
from engine import networks
from engine.key_audio import _cut, hop_starts, layout_from_samples
from engine.keys import key_from_index, moved_key_probabilities
from engine.model_folder import load_model
from engine.track_analysis import DEFAULT_MAX_WINDOWS
from training.augment import pitch_shift_rows, stretch_rows, vocoder_sizes
from training.evaluation.bootstrap import bootstrap_means
from training.evaluation.corruptions import pitch_shift_by_resampling
from training.evaluation.key_breakdown import key_relation

MARGIN_EDGES = (0.0, 0.05, 0.1, 0.2, 0.4, 1.01)
LATER_START_SECONDS = 1.0
FOLDS = {"all 8 octaves": None, "without the top octave": range(0, 7), "without the bottom octave": range(1, 8),
         "octaves 2-7": range(1, 7), "octaves 2-6": range(1, 6)}


def plain_reads() -> AbstractContextManager:
    """The key read as before 2026-12-06's semitone copies (``engine.key_semitone_copies``): each window once, no
    read counting as a close call (``engine.analyzer.COPY_MARGIN``)."""
    return patch.object(engine.analyzer, "COPY_MARGIN", 0.0)


@contextmanager
def folded_over(octaves: range | None) -> Iterator[None]:
    """The pitch-class key path's profile averaged over ``octaves`` only (None: all, as trained)."""
    shipped = networks.PitchClassKeyPath.forward

    def forward(self, block_outputs):
        features = self.layers(block_outputs[0])
        pooled = torch.cat(networks.time_mean_max(features), dim=1)
        by_octave = pooled.reshape(pooled.shape[0], pooled.shape[1], self.octaves, self.bins_per_octave)
        return self.norm(by_octave[:, :, list(octaves)].mean(dim=2)).flatten(1)

    if octaves is not None:
        networks.PitchClassKeyPath.forward = forward
    try:
        yield
    finally:
        networks.PitchClassKeyPath.forward = shipped


def read(analyzer: Analyzer, audio: np.ndarray) -> tuple[np.ndarray, float]:
    """The key distribution ``engine index`` stores for ``audio`` and the tuning its grid follows."""
    windows, extras = layout_from_samples(audio, analyzer.sample_rate, analyzer.window_samples, DEFAULT_MAX_WINDOWS)
    return analyzer.analyze_windows(windows, extras).key_probs, analyzer.key_tuning(windows)


def pair_records(analyzer: Analyzer, manifest: Path, split: str) -> list[dict]:
    records = []
    for track, (audio, shifts) in enumerate(transposition_excerpts(manifest, split, analyzer.sample_rate)):
        base, base_tuning = read(analyzer, audio)
        base_key = key_from_index(int(np.argmax(base)))
        for shift in shifts:
            moved, moved_tuning = read(analyzer, pitch_shift_by_resampling(audio, analyzer.sample_rate, shift))
            back = moved_key_probabilities(moved, shift)
            back_key = key_from_index(int(np.argmax(back)))
            records.append({
                "track": track, "shift": shift, "base_key": base_key.name, "back_key": back_key.name,
                "relation": key_relation(back_key, base_key), "base_margin": key_margin(base),
                "back_margin": key_margin(back), "base_tuning": base_tuning, "moved_tuning": moved_tuning,
                "l1": float(np.abs(base - back).sum()),
                "base_second": key_from_index(int(np.argsort(base)[-2])).name,
            })
    return records


def every_hop_key(analyzer: Analyzer, audio: np.ndarray) -> int:
    """The key from windows every half window over all of ``audio`` (no analysis windows, no cap)."""
    rate, size = analyzer.sample_rate, analyzer.window_samples
    starts = hop_starts(0.0, audio.size / rate - size / rate, size / rate)
    windows = np.stack([_cut(audio, start, rate, size) for start in starts]).astype(np.float32)
    return int(np.argmax(analyzer.run_key_windows(windows).mean(axis=0)))


def stored_key(analyzer: Analyzer, audio: np.ndarray) -> int:
    return int(np.argmax(read(analyzer, audio)[0]))


def perturbation_agreement(analyzer: Analyzer, manifest: Path, split: str) -> dict[str, dict]:
    """Per perturbation, the share of tracks (or pairs) whose key did what it should (bootstrap over tracks)."""
    rate = analyzer.sample_rate
    n_fft, hop = vocoder_sizes(rate)
    per_track: dict[str, list[float]] = {name: [] for name in (
        "start 1 s later: same key", "time stretch, pitch kept: same key", "pitch shift, tempo kept: key moved",
        "resampled (engine eval): key moved", "every half window over the excerpt, resampled: key moved")}
    for audio, shifts in transposition_excerpts(manifest, split, rate):
        base = stored_key(analyzer, audio)
        tensor = torch.from_numpy(audio[None].astype(np.float32))
        per_track["start 1 s later: same key"].append(
            float(stored_key(analyzer, audio[int(LATER_START_SECONDS * rate):]) == base))
        stretched, pitched, resampled, hops = [], [], [], []
        every_base = every_hop_key(analyzer, audio)
        for shift in shifts:
            ratio = 2 ** (shift / 12)
            length = int(round(audio.size / ratio))
            stretch = stretch_rows(tensor, torch.tensor([1 / ratio]), length, n_fft, hop)[0].numpy()
            stretched.append(stored_key(analyzer, stretch) == base)
            pitch = pitch_shift_rows(tensor, torch.tensor([float(shift)]), audio.size, rate)[0].numpy()
            pitched.append(key_from_index(stored_key(analyzer, pitch)) == key_from_index(base).transposed(shift))
            moved = pitch_shift_by_resampling(audio, rate, shift)
            resampled.append(key_from_index(stored_key(analyzer, moved)) == key_from_index(base).transposed(shift))
            hops.append(key_from_index(every_hop_key(analyzer, moved)) == key_from_index(every_base).transposed(shift))
        per_track["time stretch, pitch kept: same key"].append(float(np.mean(stretched)))
        per_track["pitch shift, tempo kept: key moved"].append(float(np.mean(pitched)))
        per_track["resampled (engine eval): key moved"].append(float(np.mean(resampled)))
        per_track["every half window over the excerpt, resampled: key moved"].append(float(np.mean(hops)))
    return {name: bootstrap_means(np.array(values)) for name, values in per_track.items()}


def fold_consistency(analyzer: Analyzer, manifest: Path, split: str) -> dict[str, dict]:
    per_track: dict[str, list[float]] = {name: [] for name in FOLDS}
    for audio, shifts in transposition_excerpts(manifest, split, analyzer.sample_rate):
        moved = {shift: pitch_shift_by_resampling(audio, analyzer.sample_rate, shift) for shift in shifts}
        for name, octaves in FOLDS.items():
            with folded_over(octaves):
                base = key_from_index(stored_key(analyzer, audio))
                per_track[name].append(float(np.mean([key_from_index(stored_key(analyzer, moved[shift]))
                                                      == base.transposed(shift) for shift in shifts])))
    return {name: bootstrap_means(np.array(values)) for name, values in per_track.items()}


def summary(records: list[dict]) -> dict:
    misses = [r for r in records if r["relation"] != "exact"]
    by_margin = {}
    for low, high in zip(MARGIN_EDGES, MARGIN_EDGES[1:]):
        band = [r for r in records if low <= r["base_margin"] < high]
        by_margin[f"{low:.2f}-{high:.2f}"] = {"pairs": len(band),
                                               "consistent": sum(r["relation"] == "exact" for r in band)}
    return {
        "pairs": len(records), "consistency": 1 - len(misses) / max(1, len(records)),
        "miss_relations": dict(Counter(r["relation"] for r in misses)),
        "misses_to_base_second": sum(r["back_key"] == r["base_second"] for r in misses),
        "by_base_margin": by_margin,
        "tuning_grid_differs": {"pairs": sum((r["base_tuning"] == 0.0) != (r["moved_tuning"] == 0.0) for r in records),
                                "of_them_misses": sum((r["base_tuning"] == 0.0) != (r["moved_tuning"] == 0.0)
                                                      for r in misses)},
        "miss_shifts": dict(Counter(r["shift"] for r in misses)),
        "all_shifts": dict(Counter(r["shift"] for r in records)),
        "median_l1": {"consistent": float(np.median([r["l1"] for r in records if r["relation"] == "exact"] or [0])),
                      "missed": float(np.median([r["l1"] for r in misses] or [0]))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--soundtracks", type=Path, required=True, help="the Debian game-music manifest")
    parser.add_argument("--split", default="val", choices=("val", "train"))
    parser.add_argument("--reader", choices=("shipped", "plain"), default="shipped",
                        help="plain: each key window read once, as before the semitone copies")
    parser.add_argument("--perturbations", action="store_true")
    parser.add_argument("--folds", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    analyzer = Analyzer(load_model(arguments.model))
    with plain_reads() if arguments.reader == "plain" else nullcontext():
        records = pair_records(analyzer, arguments.soundtracks, arguments.split)
        report = {"summary": summary(records), "pairs": records}
        if arguments.perturbations:
            report["perturbations"] = perturbation_agreement(analyzer, arguments.soundtracks, arguments.split)
        if arguments.folds:
            report["folds"] = fold_consistency(analyzer, arguments.soundtracks, arguments.split)
    print(json.dumps({name: part for name, part in report.items() if name != "pairs"}, indent=2))
    if arguments.json:
        arguments.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
