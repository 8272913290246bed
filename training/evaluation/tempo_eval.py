"""The tempo evaluation (``engine eval``, beside key): Acc1 / Acc2 on held-out renders whose tempo is exact, and
time-stretch consistency on held-out real music, for the engine's estimator and its baselines in one run.

- Renders: the tonal test set's manifest (``tempo_bpm``: the exact quarter-note tempo; ``drums``); Acc1 counts
  an estimate within 4 % of the tempo, Acc2 also within 4 % of ×2, ×3, ×½ or ×⅓ of it (the usual definitions).
- Stretch: a 30 s excerpt of each held-out track is stretched by a factor in 0.85–1.15 with its pitch kept (sox
  ``tempo``); a method is consistent on a pair when bpm(stretched) / bpm(excerpt) is within 4 % of the factor.
- Methods: ``engine`` (``engine.tempo``, as indexing runs it), ``onset_autocorrelation`` (the same onset
  envelope, tempo at its highest autocorrelation peak: no comb, no prior, no metrical-level rule) and Essentia's
  RhythmExtractor2013 when the optional wheel is importable (benchmark only, never a product dependency).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio import AudioDecodeError, decode_mono, probe
from engine.tempo import (
    ANALYSIS_SECONDS, FRAMES_PER_SECOND, MAX_BPM, MIN_BPM, TempoError, autocorrelation, estimate_tempo, onset_strength,
)
from engine.tempo_audio import TEMPO_SAMPLE_RATE

TOLERANCE = 0.04  # Acc1 / Acc2 and stretch consistency: within 4 %
ACC2_FACTORS = (1.0, 2.0, 3.0, 1 / 2, 1 / 3)
STRETCH_RANGE = (0.85, 1.15)
MIN_STRETCH_CHANGE = 0.02  # factors closer to 1 than this are drawn again: they would test nothing
STRETCHES_PER_TRACK = 2
ESSENTIA_RATE = 44100  # RhythmExtractor2013 expects 44.1 kHz
WAV_FULL_SCALE = 32767
TempoMethod = Callable[[np.ndarray, int], float | None]  # mono audio at a rate → BPM (None: no estimate)
Progress = Callable[[str, int, int], None]


def tempo_accuracy(estimate: float | None, truth: float) -> tuple[bool, bool]:
    """(Acc1, Acc2) of one estimate against the true tempo; no estimate counts as wrong for both."""
    if estimate is None or estimate <= 0:
        return False, False
    return (abs(estimate / truth - 1.0) <= TOLERANCE,
            any(abs(estimate / (truth * factor) - 1.0) <= TOLERANCE for factor in ACC2_FACTORS))


def stretch_consistent(original: float | None, stretched: float | None, factor: float) -> bool:
    """bpm(stretched) / bpm(original) within ``TOLERANCE`` of the stretch ``factor``."""
    if not original or not stretched:
        return False
    return abs(stretched / original / factor - 1.0) <= TOLERANCE


def engine_bpm(samples: np.ndarray, sample_rate: int) -> float | None:
    try:
        return estimate_tempo(samples, sample_rate).bpm
    except TempoError:
        return None


def onset_autocorrelation_bpm(samples: np.ndarray, sample_rate: int) -> float | None:
    """The plain baseline: the lag of the onset envelope's highest autocorrelation between ``MIN_BPM`` and
    ``MAX_BPM``, to the frame."""
    correlation = autocorrelation(onset_strength(samples, sample_rate))
    shortest, longest = int(np.ceil(60 * FRAMES_PER_SECOND / MAX_BPM)), int(60 * FRAMES_PER_SECOND / MIN_BPM)
    if correlation.size <= longest or correlation[0] <= 0:
        return None
    lag = shortest + int(np.argmax(correlation[shortest : longest + 1]))
    return 60.0 * FRAMES_PER_SECOND / lag


def essentia_tempo_function() -> TempoMethod | None:
    """Essentia's RhythmExtractor2013 (multifeature) where importable; None otherwise."""
    try:
        import essentia.standard as essentia_standard
    except ImportError:
        return None
    extractor = essentia_standard.RhythmExtractor2013(method="multifeature")

    def estimate(samples: np.ndarray, sample_rate: int) -> float | None:
        if sample_rate != ESSENTIA_RATE:
            raise ValueError(f"RhythmExtractor2013 runs at {ESSENTIA_RATE} Hz, not {sample_rate}")
        bpm = float(extractor(samples.astype(np.float32))[0])
        return bpm if bpm > 0 else None

    return estimate


def tempo_methods(essentia: bool) -> dict[str, tuple[TempoMethod, int]]:
    """Method name → (estimator, the sample rate it is given audio at)."""
    methods: dict[str, tuple[TempoMethod, int]] = {
        "engine": (engine_bpm, TEMPO_SAMPLE_RATE), "onset_autocorrelation": (onset_autocorrelation_bpm, TEMPO_SAMPLE_RATE),
    }
    extractor = essentia_tempo_function() if essentia else None
    if extractor is not None:
        methods["essentia_rhythm_extractor_2013"] = (extractor, ESSENTIA_RATE)
    return methods


def evaluate_tempo_renders(records: list[dict[str, Any]], essentia: bool = True, max_clips: int | None = None,
                           seed: int = 5, progress: Progress | None = None) -> dict[str, Any]:
    """Acc1 / Acc2 per method on the test renders (``split`` "test") with a ``tempo_bpm``: all, with drums, without.
    Each method sees the middle ``ANALYSIS_SECONDS`` of the render, as indexing does."""
    clips = _limited([r for r in records if r.get("split") == "test" and r.get("tempo_bpm")], max_clips, seed)
    methods = tempo_methods(essentia)
    outcomes: dict[str, list[tuple[bool, bool, bool]]] = {name: [] for name in methods}  # (drums, acc1, acc2)
    for done, record in enumerate(clips):
        audio_by_rate = _decoded_middle(record["path"], {rate for _, rate in methods.values()})
        if audio_by_rate is not None:
            for name, (method, rate) in methods.items():
                acc1, acc2 = tempo_accuracy(method(audio_by_rate[rate], rate), float(record["tempo_bpm"]))
                outcomes[name].append((bool(record.get("drums")), acc1, acc2))
        if progress:
            progress("tempo: renders", done + 1, len(clips))
    return {"clips": len(clips), "methods": {name: _accuracies(found) for name, found in outcomes.items()}}


def evaluate_tempo_stretch(records: list[dict[str, Any]], essentia: bool = True, max_tracks: int | None = None,
                           seed: int = 5, progress: Progress | None = None) -> dict[str, Any]:
    """Time-stretch consistency per method on 30 s excerpts of the test tracks (``split`` "test"), each stretched
    by ``STRETCHES_PER_TRACK`` factors drawn from ``STRETCH_RANGE`` with sox ``tempo`` (pitch kept)."""
    if shutil.which("sox") is None:
        return {"error": "sox is not installed (apt-get install sox): no stretch consistency"}
    tracks = _limited([r for r in records if r.get("split") == "test"], max_tracks, seed)
    methods = tempo_methods(essentia)
    rates = {rate for _, rate in methods.values()}
    draw = random.Random(seed)
    consistent: dict[str, list[bool]] = {name: [] for name in methods}
    with tempfile.TemporaryDirectory() as folder:
        for done, record in enumerate(tracks):
            excerpt = _excerpt_wav(record["path"], Path(folder) / "excerpt.wav")
            if excerpt is not None:
                originals = method_estimates(methods, _decoded_whole(excerpt, rates))
                for _ in range(STRETCHES_PER_TRACK):
                    factor = _stretch_factor(draw)
                    stretched = Path(folder) / "stretched.wav"
                    subprocess.run(["sox", str(excerpt), str(stretched), "tempo", "-m", f"{factor:.4f}"], check=True,
                                   capture_output=True)
                    found = method_estimates(methods, _decoded_whole(stretched, rates))
                    for name in methods:
                        consistent[name].append(stretch_consistent(originals[name], found[name], factor))
            if progress:
                progress("tempo: stretched excerpts", done + 1, len(tracks))
    pairs = len(next(iter(consistent.values()), []))
    return {"tracks": len(tracks), "pairs": pairs, "range": list(STRETCH_RANGE),
            "methods": {name: {"consistency": float(np.mean(found)) if found else float("nan")}
                        for name, found in consistent.items()}}


def _accuracies(outcomes: list[tuple[bool, bool, bool]]) -> dict[str, Any]:
    def share(rows: list[tuple[bool, bool, bool]], column: int) -> float:
        return float(np.mean([row[column] for row in rows])) if rows else float("nan")

    groups = {"all": outcomes, "drums": [o for o in outcomes if o[0]], "no_drums": [o for o in outcomes if not o[0]]}
    return {group: {"acc1": share(rows, 1), "acc2": share(rows, 2), "clips": len(rows)} for group, rows in groups.items()}


def method_estimates(methods: dict[str, tuple[TempoMethod, int]], audio_by_rate: dict[int, np.ndarray] | None
                     ) -> dict[str, float | None]:
    """Each method's estimate of one piece of audio (given at every rate the methods read; None: it did not
    decode, so every estimate is None)."""
    if audio_by_rate is None:
        return {name: None for name in methods}
    return {name: method(audio_by_rate[rate], rate) for name, (method, rate) in methods.items()}


def _decoded_middle(path: str, rates: set[int]) -> dict[int, np.ndarray] | None:
    """The middle ``ANALYSIS_SECONDS`` of a file at each rate; None when it does not decode."""
    try:
        duration = probe(path).duration_seconds
        start = max(0.0, (duration - ANALYSIS_SECONDS) / 2)
        return {rate: decode_mono(path, rate, start, min(ANALYSIS_SECONDS, duration or ANALYSIS_SECONDS))
                for rate in rates}
    except AudioDecodeError:
        return None


def _decoded_whole(path: Path, rates: set[int]) -> dict[int, np.ndarray] | None:
    try:
        return {rate: decode_mono(path, rate) for rate in rates}
    except AudioDecodeError:
        return None


def _excerpt_wav(path: str, target: Path) -> Path | None:
    """The middle ``ANALYSIS_SECONDS`` of a track as a 16-bit mono WAV at ``ESSENTIA_RATE`` (sox reads WAV)."""
    audio_by_rate = _decoded_middle(path, {ESSENTIA_RATE})
    if audio_by_rate is None:
        return None
    samples = np.clip(audio_by_rate[ESSENTIA_RATE], -1.0, 1.0)
    with wave.open(str(target), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(ESSENTIA_RATE)
        handle.writeframes((samples * WAV_FULL_SCALE).astype("<i2").tobytes())
    return target


def _stretch_factor(draw: random.Random) -> float:
    while True:
        factor = draw.uniform(*STRETCH_RANGE)
        if abs(factor - 1.0) >= MIN_STRETCH_CHANGE:
            return factor


def _limited(records: list[dict[str, Any]], limit: int | None, seed: int) -> list[dict[str, Any]]:
    if limit is None or len(records) <= limit:
        return records
    return random.Random(seed).sample(records, limit)


def tempo_markdown(tempo: dict[str, Any] | None) -> list[str]:
    """The report's tempo section (Markdown lines); [] when the run had none."""
    if not tempo:
        return []

    from training.evaluation.report import _percent as percent  # the report's own number format

    lines: list[str] = []
    renders = tempo.get("renders")
    if renders:
        lines += [f"## Tempo on held-out renders ({renders['clips']} clips; within 4 %)", "",
                  "| method | Acc1 % | Acc2 % | with drums Acc1 / Acc2 % | without drums Acc1 / Acc2 % |",
                  "|---|---|---|---|---|"]
        for name, entry in renders["methods"].items():
            lines.append(f"| {name} | {percent(entry['all']['acc1'])} | {percent(entry['all']['acc2'])} "
                         f"| {percent(entry['drums']['acc1'])} / {percent(entry['drums']['acc2'])} "
                         f"| {percent(entry['no_drums']['acc1'])} / {percent(entry['no_drums']['acc2'])} |")
        lines.append("")
    stretch = tempo.get("stretch")
    if stretch and "methods" in stretch:
        lines += [f"## Tempo under time-stretch ({stretch['pairs']} excerpt pairs from {stretch['tracks']} tracks, "
                  f"sox tempo {stretch['range'][0]}–{stretch['range'][1]})", "",
                  "| method | consistent % |", "|---|---|"]
        lines += [f"| {name} | {percent(entry['consistency'])} |" for name, entry in stretch["methods"].items()]
        lines.append("")
    elif stretch:
        lines += [f"Tempo under time-stretch: {stretch['error']}", ""]
    return lines
