"""How many further key windows a track longer than a minute should read: transposition consistency of the key
``engine index`` stores, under three caps on ``engine.key_audio``'s further windows, on the same pairs:

- ``step``: 20 up to 60 s, 7 above (shipped on 2026-12-06);
- ``linear``: 20 up to 60 s, falling linearly to 7 at 120 s;
- ``shipped``: ``KEY_EXTRA_WINDOWS`` (20) at every length (since 2026-12-06, the layout first tested with the
  half-window hops).

Two sets of pairs on ``--split`` of the game music: ``engine eval``'s (the first 60 s of a track and two seeded
shifts by resampling: a shift down lengthens the excerpt past 60 s) and whole tracks of at least
``LONG_TRACK_MIN_SECONDS`` (their first ``LONG_TRACK_MAX_SECONDS``; both reads past 60 s, the lengths most of a
library has). Paired bootstrap intervals over tracks. Run from the repository root:

    python -m benchmarks.experiments.key_window_cap --model resources/models/default \\
        --soundtracks ../data/debian/manifest.jsonl --split val [--json OUT]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.experiments.key_experiment_cli import print_report
from benchmarks.experiments.key_windows import PRODUCT, array_key, transposition_excerpts
from benchmarks.experiments.stored_vector_retrieval import _located
from engine import key_audio
from engine.analyzer import Analyzer
from engine.audio import AudioDecodeError, AudioWindows, decode_mono
from engine.model_folder import load_model
from engine.tempo import ANALYSIS_SECONDS
from training.corpora.manifest import read_manifest
from training.evaluation.bootstrap import bootstrap_means, paired_difference
from training.evaluation.corruptions import pitch_shift_by_resampling
from training.evaluation.evaluate import SHIFTS_PER_TRACK, TRANSPOSITION_SHIFTS

LONG_TRACK_MIN_SECONDS = 100.0  # shifted up by 6 semitones still past 70 s
LONG_TRACK_MAX_SECONDS = 240.0


SHIPPED = key_audio.KEY_EXTRA_WINDOWS
LONG_TRACK_CAP = 7  # the cap over 60 s shipped on 2026-12-06


def step_cap(audio: AudioWindows) -> int:
    if audio.decoded is not None or audio.duration_seconds <= 2 * ANALYSIS_SECONDS:
        return SHIPPED
    return LONG_TRACK_CAP


def linear_cap(audio: AudioWindows) -> int:
    if audio.decoded is not None or audio.duration_seconds <= 2 * ANALYSIS_SECONDS:
        return SHIPPED
    share = min(1.0, (audio.duration_seconds - 2 * ANALYSIS_SECONDS) / (2 * ANALYSIS_SECONDS))
    return int(round(SHIPPED - share * (SHIPPED - LONG_TRACK_CAP)))


def shipped_cap(audio: AudioWindows) -> int:
    return SHIPPED


CAPS: dict[str, Callable[[AudioWindows], int]] = {"step": step_cap, "linear": linear_cap, "shipped": shipped_cap}


@contextmanager
def cap_rule(rule: Callable[[AudioWindows], int]) -> Iterator[None]:
    """``engine.key_audio`` choosing its further windows with the cap ``rule`` gives each track, for the duration
    (an experiment's switch only: ``chosen_starts`` reads the module's ``KEY_EXTRA_WINDOWS`` when called)."""
    shipped = key_audio.chosen_starts

    def chosen(audio: AudioWindows, candidates, fillers=()) -> list[float]:
        key_audio.KEY_EXTRA_WINDOWS = rule(audio)
        try:
            return shipped(audio, candidates, fillers)
        finally:
            key_audio.KEY_EXTRA_WINDOWS = SHIPPED

    key_audio.chosen_starts = chosen
    try:
        yield
    finally:
        key_audio.chosen_starts = shipped


def long_tracks(manifest: Path, split: str, rate: int) -> Iterator[tuple[np.ndarray, list[int]]]:
    """Whole tracks of ``split`` at least ``LONG_TRACK_MIN_SECONDS`` long, with two seeded shifts each."""
    draw = random.Random(1)
    for record in read_manifest(manifest):
        if record.get("split") != split:
            continue
        try:
            audio = decode_mono(_located(Path(record["path"]), manifest), rate, 0.0, LONG_TRACK_MAX_SECONDS)
        except AudioDecodeError:
            continue
        if audio.size >= LONG_TRACK_MIN_SECONDS * rate:
            yield audio, draw.sample(TRANSPOSITION_SHIFTS, SHIFTS_PER_TRACK)


def consistency_per_track(analyzer: Analyzer, pairs: Iterator[tuple[np.ndarray, list[int]]],
                          settings: Mapping[str, Callable[[], AbstractContextManager]]) -> dict[str, np.ndarray]:
    """Per named setting (a context under which the key is read), (tracks,) share of each track's shifted reads
    whose key moved by the shift."""
    rate = analyzer.sample_rate
    hits: dict[str, list[float]] = {name: [] for name in settings}
    for audio, shifts in pairs:
        moved = {shift: pitch_shift_by_resampling(audio, rate, shift) for shift in shifts}
        for name, setting in settings.items():
            with setting():
                base = array_key(analyzer, audio, PRODUCT)
                hits[name].append(float(np.mean([array_key(analyzer, moved[shift], PRODUCT) == base.transposed(shift)
                                                  for shift in shifts])))
    return {name: np.array(values) for name, values in hits.items()}


def summary(per_track: dict[str, np.ndarray]) -> dict:
    return {
        "consistency": {name: bootstrap_means(values) for name, values in per_track.items()},
        "shipped_minus_step": paired_difference(per_track["shipped"], per_track["step"]),
        "shipped_minus_linear": paired_difference(per_track["shipped"], per_track["linear"]),
    }


PARTS = {"excerpts_60s": transposition_excerpts, "long_tracks": long_tracks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--soundtracks", type=Path, required=True, help="the Debian game-music manifest")
    parser.add_argument("--split", default="val")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args()
    analyzer = Analyzer(load_model(arguments.model))
    rate = analyzer.sample_rate
    settings = {name: partial(cap_rule, rule) for name, rule in CAPS.items()}
    report = {part: summary(consistency_per_track(analyzer, PARTS[part](arguments.soundtracks, arguments.split, rate),
                                                 settings))
              for part in arguments.parts}
    print_report(report, arguments.json)


if __name__ == "__main__":
    main()
