"""Can the key skip its semitone copies when the first read is clear? Reading every key window also resampled a
semitone down and up (``engine.key_semitone_copies``) steadied the key, at three times the key's inference cost:
indexing fell from 790-818x to 688-725x real time on the 2026-12-06 machine. The misses it mended were close calls
(on validation, every pair whose first read had a margin above 0.2 was already consistent), so a track whose plain
reads agree clearly may not need the copies.

Each item is read once with its copies; a threshold then decides per item, from the margin between the two best keys
of its plain reads' mean, whether the stored key is the plain mean (margin at or above the threshold) or the mean
over the reads and their copies. Every threshold is scored on the same reads: transposition consistency on
``engine eval``'s pairs of ``--split`` (each read decides on its own, as indexing would), MIREX on key-labelled
manifests, and the share of reads that pay for the copies. Paired bootstrap against always reading the copies (the
stored key since 2026-12-06). Validation chooses; ``--split test`` is the held-out run made once after the choice.

    python -m benchmarks.experiments.key_copy_margin --model resources/models/default \\
        --soundtracks ../data/debian/manifest.jsonl --manifest ../data/scores/manifest.jsonl --split val
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.experiments.key_experiment_cli import key_experiment_parser, print_report, scored_reads, scored_row
from benchmarks.experiments import key_windows
from benchmarks.experiments.key_windows import labelled_clips
from engine.analyzer import Analyzer, key_margin
from engine.key_audio import layout_from_samples
from engine.keys import moved_key_probabilities
from engine.model_folder import load_model
from engine.track_analysis import DEFAULT_MAX_WINDOWS

THRESHOLDS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 2.0)  # 0: never copy; 2: always (a margin is at most 1)


def plain_and_copied(analyzer: Analyzer, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(plain mean, mean with copies), each (24,): the stored key's distribution for decoded ``audio`` laid out as
    indexing lays it out, without and with the semitone copies of its key windows."""
    windows, extras = layout_from_samples(audio, analyzer.sample_rate, analyzer.window_samples, DEFAULT_MAX_WINDOWS)
    tuning = analyzer.key_tuning(windows)
    every = windows if not len(extras) else np.concatenate([windows, extras], axis=0)
    plain = analyzer.run_key_windows(every, tuning)
    copies = analyzer.run_semitone_copies(every, tuning)
    return plain.mean(axis=0), np.concatenate([plain, *copies]).mean(axis=0)


def stored_key(read: tuple[np.ndarray, np.ndarray], threshold: float) -> tuple[int, bool]:
    """(key index, whether the copies were read) under ``threshold``."""
    plain, copied = read
    copy = key_margin(plain) < threshold
    return int(np.argmax(copied if copy else plain)), copy


def transposition_reads(analyzer: Analyzer, manifest: Path, split: str, max_tracks: int | None) -> list:
    """Per track: (its read, [its shifted copies' reads moved back, ...])."""
    return key_windows.transposition_reads(
        manifest, split, analyzer.sample_rate, lambda audio: plain_and_copied(analyzer, audio),
        lambda read, shift: tuple(moved_key_probabilities(probabilities, shift) for probabilities in read), max_tracks)


def labelled_reads(analyzer: Analyzer, manifest: Path, split: str) -> list:
    """Per labelled clip of ``split``: (its read, its reference key)."""
    return [(plain_and_copied(analyzer, audio), reference)
            for audio, reference in labelled_clips(manifest, split, analyzer.sample_rate)]


def scored(tracks: list, clips: dict[str, list], threshold: float) -> dict:
    """Per-item scores and the copies' share under ``threshold``."""
    result = scored_reads(tracks, clips, lambda read: stored_key(read, threshold))
    return {**result, "copied_share": result["branched_share"]}


def report(tracks: list, clips: dict[str, list]) -> dict:
    always = scored(tracks, clips, THRESHOLDS[-1])
    rows = {}
    for threshold in THRESHOLDS:
        result = scored(tracks, clips, threshold)
        rows[str(threshold)] = {"copied_share": result["copied_share"], **scored_row(result, always, "always")}
    return rows


def main() -> None:
    parser = key_experiment_parser(__doc__)
    arguments = parser.parse_args()
    analyzer = Analyzer(load_model(arguments.model))
    clips = {str(manifest): labelled_reads(analyzer, manifest, arguments.split) for manifest in arguments.manifest}
    tracks = (transposition_reads(analyzer, arguments.soundtracks, arguments.split, arguments.max_tracks)
              if arguments.soundtracks else [])
    print_report(report(tracks, clips), arguments.json)


if __name__ == "__main__":
    main()
