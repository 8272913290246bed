"""Does the key read the same when its windows inside one decoded stretch are read from one pass over that stretch?

The key reads a 25 s clip's audio about twice (18 windows of 2.7 s at half-window hops, each through the
spectrogram, the first block and the key path on its own): about half the inference of a short file. Read
*continuously*, the spectrogram, the first block and the key path run once over the stretch of audio the windows
cover, and each window's key features are pooled from that map's frames under the window (its start rounded to the
key path's 2,048-sample frame grid, 0.128 s). The frames inside a window are the same computation; what differs is
the window's edges (real neighbouring audio instead of the reflection and zero padding of a window read alone) and
the start, moved by up to 64 ms. This scores both readings on validation only, with the product's layout
(``engine.key_audio.layout_from_samples``: the same window starts), the product's tuning rule and its semitone
copies for close calls (also read continuously in the continuous variant), and times both:

    python -m benchmarks.experiments.key_continuous --model resources/models/default \\
        --manifest ../data/scores/manifest.jsonl --manifest ../data/generated/manifest.jsonl \\
        --soundtracks ../data/debian/manifest.jsonl --split val --out ../data/key_continuous_val.json

(from the repository root). Windows that are no part of a longer decoded stretch (a long track's sought analysis
windows and landmark spans) are read alone in both variants.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmarks.experiments.key_windows import labelled_clips, relative_minor_share, transposition_excerpts
from engine.analyzer import COPY_MARGIN, Analyzer, key_margin
from engine.audio import WHOLE_DECODE_SECONDS, AudioWindows, cut_windows, too_short_to_spread
from engine.key_audio import _cut, _span_windows, chosen_starts, hop_starts, middle_hop_starts
from engine.key_semitone_copies import SEMITONE_RATIO, semitone_copies
from engine.keys import key_from_index, mirex_key_score, moved_key_probabilities
from engine.landmark_audio import track_span_starts
from engine.model_folder import load_model
from engine.tempo import ANALYSIS_SECONDS
from engine.tempo_audio import middle_start
from engine.track_analysis import DEFAULT_MAX_WINDOWS

KEY_FRAME_SAMPLES = 2048  # hop 512 x the first block's time pooling 2 x the key path's 2: one key-path frame


@dataclass
class KeyLayout:
    """One piece's key reads as the product lays them out: ``alone`` windows read one by one (their key from the
    full pass when ``full_pass``), and ``stretch`` (samples) with the ``starts`` (samples into it) of the windows
    that lie in it."""

    analysis: np.ndarray
    alone: np.ndarray
    stretch: np.ndarray | None
    starts: list[int]
    analysis_in_stretch: bool


def product_layout(samples: np.ndarray, rate: int, window_samples: int) -> KeyLayout:
    """``layout_from_samples``' windows, told apart by where they come from."""
    duration = samples.size / rate
    windows, starts = cut_windows(samples, rate, window_samples, DEFAULT_MAX_WINDOWS)
    if duration <= WHOLE_DECODE_SECONDS or too_short_to_spread(duration, window_samples / rate, DEFAULT_MAX_WINDOWS):
        audio = AudioWindows(windows, rate, duration, starts, decoded=samples)
        extra = chosen_starts(audio, hop_starts(0.0, duration - window_samples / rate, window_samples / rate))
        every = [int(round(start * rate)) for start in [*starts, *extra]]
        return KeyLayout(windows, np.zeros((0, window_samples), np.float32), samples, every, True)
    audio = AudioWindows(windows, rate, duration, starts)
    spans = _span_windows(audio, {start: _cut(samples, start, rate, window_samples) for start in track_span_starts(audio)})
    first = middle_start(duration)
    middle = _cut(samples, first, rate, int(ANALYSIS_SECONDS * rate), pad=False)
    extra = chosen_starts(audio, spans, middle_hop_starts(audio))
    alone = [spans[start] for start in extra if start in spans]
    in_middle = [int(round((start - first) * rate)) for start in extra if start not in spans]
    stacked = np.stack(alone).astype(np.float32) if alone else np.zeros((0, window_samples), np.float32)
    return KeyLayout(windows, stacked, middle, in_middle, False)


def continuous_probabilities(analyzer: Analyzer, stretch: np.ndarray, starts: list[int], window_samples: int,
                             cents: float) -> np.ndarray:
    """(len(starts), 24): each window's key read from one pass of the key's part of the network over the stretch
    the windows cover (starts rounded to the key path's frame grid)."""
    network = analyzer.network
    encoder, path = network.encoder, network.encoder.key_path
    snapped = [min(int(round(start / KEY_FRAME_SAMPLES)) * KEY_FRAME_SAMPLES,
                   max(0, stretch.size - window_samples) // KEY_FRAME_SAMPLES * KEY_FRAME_SAMPLES) for start in starts]
    low, high = min(snapped), max(snapped) + window_samples
    piece = torch.from_numpy(np.ascontiguousarray(stretch[low:high], dtype=np.float32))
    if piece.numel() < high - low:
        piece = torch.nn.functional.pad(piece, (0, high - low - piece.numel()))
    frames = (1 + window_samples // encoder.frontend.hop_length) // 4
    with torch.inference_mode():
        first_block = encoder.blocks[0](encoder.input_norm(encoder.frontend(piece[None], cents)))
        features = path.layers(first_block)
        pieces = [features[..., (start - low) // KEY_FRAME_SAMPLES:][..., :frames] for start in snapped]
        logits = network.key_head(path.profile(torch.cat(pieces)))
        return torch.softmax(logits, -1).numpy()


def continuous_copies(analyzer: Analyzer, stretch: np.ndarray, starts: list[int], window_samples: int,
                      cents: float) -> list[np.ndarray]:
    """The semitone copies of the stretch's windows, read continuously: the stretch resampled a semitone up and
    down (``SEMITONE_RATIO``), each window at its start moved with the audio (the up copy's windows shorter, as
    ``semitone_copies`` cuts them), each copy's keys moved back."""
    from engine.key_semitone_copies import functional

    higher, lower = SEMITONE_RATIO
    low = min(starts)
    piece = torch.from_numpy(np.ascontiguousarray(stretch[low : max(starts) + window_samples], dtype=np.float32))
    reads = []
    for semitones, (source, target) in ((1, (higher, lower)), (-1, (lower, higher))):
        copy = functional.resample(piece, orig_freq=source, new_freq=target).numpy()
        moved = [int(round((start - low) * target / source)) for start in starts]
        size = window_samples * lower // higher if semitones == 1 else window_samples
        probabilities = continuous_probabilities(analyzer, copy, moved, size, cents)
        reads.append(moved_key_probabilities(probabilities, semitones))
    return reads


def key_probabilities(analyzer: Analyzer, layout: KeyLayout, continuous: bool) -> np.ndarray:
    """(24,) the piece's key: the mean of its plain reads, and of their semitone copies when a close call."""
    size = analyzer.window_samples
    cents = analyzer.key_tuning(layout.analysis)
    stretch_windows = (np.stack([np.pad(layout.stretch[start : start + size], (0, max(0, start + size - layout.stretch.size)))
                                 for start in layout.starts]).astype(np.float32)
                       if layout.starts else np.zeros((0, size), np.float32))
    alone = layout.alone if layout.analysis_in_stretch else np.concatenate([layout.analysis, layout.alone])
    if not continuous:
        every = np.concatenate([alone, stretch_windows])
        plain = analyzer.run_key_windows(every, cents)
        if key_margin(plain.mean(axis=0)) < COPY_MARGIN:
            copies = analyzer.run_semitone_copies(every, cents)
            plain = np.concatenate([plain, *copies])
        return plain.mean(axis=0)
    reads = [analyzer.run_key_windows(alone, cents)] if len(alone) else []
    if layout.starts:
        reads.append(continuous_probabilities(analyzer, layout.stretch, layout.starts, size, cents))
    plain = np.concatenate(reads)
    if key_margin(plain.mean(axis=0)) < COPY_MARGIN:
        extra = []
        if len(alone):
            extra.extend(moved_key_probabilities(analyzer.run_key_windows(copies, cents), semitones)
                         for copies, semitones in semitone_copies(alone))
        if layout.starts:
            extra.extend(continuous_copies(analyzer, layout.stretch, layout.starts, size, cents))
        plain = np.concatenate([plain, *extra])
    return plain.mean(axis=0)


def timed(analyzer: Analyzer, layout: KeyLayout, continuous: bool, spent: dict[str, float]) -> np.ndarray:
    started = time.thread_time()
    probabilities = key_probabilities(analyzer, layout, continuous)
    spent["continuous" if continuous else "windows"] += time.thread_time() - started
    return probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, action="append", default=[])
    parser.add_argument("--soundtracks", type=Path)
    parser.add_argument("--split", default="val")
    parser.add_argument("--out", type=Path)
    options = parser.parse_args()
    torch.set_num_threads(1)
    analyzer = Analyzer(load_model(options.model))
    rate, size = analyzer.sample_rate, analyzer.window_samples
    spent = {"windows": 0.0, "continuous": 0.0}
    report: dict = {}
    for manifest in options.manifest:
        rows = {"windows": [], "continuous": []}
        for audio, reference in labelled_clips(manifest, options.split, rate):
            layout = product_layout(audio, rate, size)
            for name in rows:
                estimate = key_from_index(int(np.argmax(timed(analyzer, layout, name == "continuous", spent))))
                rows[name].append((estimate, reference))
        report[manifest.parent.name] = {
            name: {"pieces": len(pairs), "mirex": float(np.mean([mirex_key_score(e, r) for e, r in pairs])),
                   "accuracy": float(np.mean([e == r for e, r in pairs])),
                   "relative_minor_on_major": relative_minor_share(pairs),
                   "agree": float(np.mean([a[0] == b[0] for a, b in zip(rows["windows"], rows["continuous"])]))}
            for name, pairs in rows.items()}
        print(json.dumps(report, indent=1), flush=True)
    if options.soundtracks:
        from training.evaluation.corruptions import pitch_shift_by_resampling

        hits = {"windows": [], "continuous": []}
        for audio, shifts in transposition_excerpts(options.soundtracks, options.split, rate):
            for name in hits:
                continuous = name == "continuous"
                key = lambda samples: key_from_index(int(np.argmax(  # noqa: E731
                    timed(analyzer, product_layout(samples, rate, size), continuous, spent))))
                base = key(audio)
                hits[name].extend(key(pitch_shift_by_resampling(audio, rate, shift)) == base.transposed(shift)
                                  for shift in shifts)
        report["transposition"] = {name: {"pairs": len(values), "consistency": float(np.mean(values))}
                                   for name, values in hits.items()}
    report["key_cpu_seconds"] = spent
    print(json.dumps(report, indent=1))
    if options.out:
        options.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
