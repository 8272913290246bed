"""Can a clear key skip its further windows? A track's key reads its 6 analysis windows (already through the
network for the embedding) and up to 20 further windows through the key's part alone (``engine.key_audio``): on a
25 s clip the further windows are 29 of its 111 ms of CPU (``benchmarks/bench_per_file.py``). They were added
because 6 windows miss what the rest of a piece says (docs/lab-notes/2026-12-05-key-windows.md), but the misses they
mend may all be close calls, as the semitone copies' were (docs/lab-notes/2026-12-06-key-copy-margin.md).

Each item is read once: its analysis windows alone, and the product's stored key (analysis and further windows,
with semitone copies when their margin is under ``COPY_MARGIN``). A threshold then decides per item: when the
analysis windows' mean has a margin between its two best keys at or above the threshold, the key is theirs and the
further windows are never read; otherwise the product's key. Every threshold is scored on the same reads:
transposition consistency on ``engine eval``'s pairs of ``--split`` (each read decides on its own, as indexing
would), MIREX on key-labelled manifests, and the share of reads that stop after the analysis windows. Paired
bootstrap against the product (never stopping). Validation chooses; ``--split test`` is the held-out run made once
after a choice.

    python -m benchmarks.experiments.key_analysis_first --model resources/models/default \\
        --soundtracks ../data/debian/manifest.jsonl --manifest ../data/scores/manifest.jsonl \\
        --manifest ../data/generated/manifest.jsonl --split val
"""

from __future__ import annotations


import numpy as np

from benchmarks.experiments import key_windows
from benchmarks.experiments.key_experiment_cli import key_experiment_parser, print_report, scored_reads, scored_row
from benchmarks.experiments.key_windows import labelled_clips
from engine.analyzer import Analyzer, key_margin
from engine.key_audio import layout_from_samples
from engine.keys import moved_key_probabilities
from engine.model_folder import load_model
from engine.track_analysis import DEFAULT_MAX_WINDOWS

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 2.0)  # 2: never stop early (a margin is at most 1)


def analysis_and_product(analyzer: Analyzer, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the analysis windows' mean, the product's stored distribution), each (24,), of decoded ``audio`` laid out as
    indexing lays it out."""
    windows, extras = layout_from_samples(audio, analyzer.sample_rate, analyzer.window_samples, DEFAULT_MAX_WINDOWS)
    first = analyzer.run_key_windows(windows, analyzer.key_tuning(windows)).mean(axis=0)
    return first, analyzer.key_probabilities(windows, extras)


def stored_key(read: tuple[np.ndarray, np.ndarray], threshold: float) -> tuple[int, bool]:
    """(key index, whether the read stopped after the analysis windows) under ``threshold``."""
    first, product = read
    stop = key_margin(first) >= threshold
    return int(np.argmax(first if stop else product)), stop


def main() -> None:
    arguments = key_experiment_parser(__doc__).parse_args()
    analyzer = Analyzer(load_model(arguments.model))
    clips = {str(manifest): [(analysis_and_product(analyzer, audio), reference)
                             for audio, reference in labelled_clips(manifest, arguments.split, analyzer.sample_rate)]
             for manifest in arguments.manifest}
    tracks = key_windows.transposition_reads(
        arguments.soundtracks, arguments.split, analyzer.sample_rate,
        lambda audio: analysis_and_product(analyzer, audio),
        lambda read, shift: tuple(moved_key_probabilities(probabilities, shift) for probabilities in read),
        arguments.max_tracks) if arguments.soundtracks else []
    product = scored_reads(tracks, clips, lambda read: stored_key(read, THRESHOLDS[-1]))
    rows = {}
    for threshold in THRESHOLDS:
        result = scored_reads(tracks, clips, lambda read: stored_key(read, threshold))
        rows[str(threshold)] = {"stopped_share": result["branched_share"], **scored_row(result, product, "product")}
    print_report(rows, arguments.json)


if __name__ == "__main__":
    main()
