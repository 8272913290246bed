"""Does the metrical-level scorer choose better when it also sees the combs of other onset envelopes?

The shipped estimator finds its candidate tempi and refines the chosen one on one envelope (1/3-octave bands,
40 Hz-7 kHz), which keeps a kick-snare groove at its beat; finer bands alone mark chord changes in music
without drums better but halve such grooves (BENCHMARKS.md, "Finer onset bands"). Here the candidates and the
refinement stay on the shipped envelope, and the scorer gets, beside that envelope's comb features, the same
features measured on other envelopes of the same spectrum: fine bands (chord changes), the low bands (kick,
bass) and the high bands (hi-hat, snare), so it can learn which level each part marks. Each feature set gets
its own scorer, fitted and chosen as ``benchmarks/experiments/tempo_level_training.py`` fits the shipped one (train clips of
the generated corpus, each also stretched to four tempi; chosen on val; test splits never read), and is then
checked on the synthesised signals of the unit tests (click tracks, drum grooves, plucked chords).

    python -m benchmarks.experiments.tempo_level_features --manifest ../data/generated/manifest.jsonl
(from the repository root; writes each variant's scorer to --out-dir).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks.experiments.tempo_onset_variants import decoded_clips, scores
from benchmarks.experiments.tempo_level_training import (
    HIDDEN_SIZES, WEIGHT_DECAYS, _fixed_length, fit, stretched,
)
from engine import tempo
from engine.tempo_audio import TEMPO_SAMPLE_RATE
from benchmarks.experiments.tempo_level import LevelScorer, candidate_features, candidate_tempi

# Envelopes besides the shipped one: (bands per octave, lowest Hz, highest Hz).
ENVELOPES = {"fine": (24, 40.0, 7000.0), "low": (3, 40.0, 250.0), "high": (3, 2000.0, 7000.0)}
VARIANTS = {"shipped": (), "fine": ("fine",), "low_high": ("low", "high"), "fine_low_high": ("fine", "low", "high")}
UNIT_SIGNALS = [("click_track", bpm) for bpm in (62.0, 87.5, 100.0, 123.0, 140.0, 174.0, 180.0)] + \
    [("drum_groove", bpm) for bpm in (64.0, 92.0, 96.0, 118.0, 136.0, 171.0)] + \
    [("plucked_chords", bpm) for bpm in (61.0, 72.0, 84.0, 110.0, 132.0, 150.0, 178.0)]


def correlations_of(audio: np.ndarray) -> dict[str, np.ndarray]:
    """The autocorrelation of the shipped envelope ("shipped") and of each of ``ENVELOPES``, from one spectrum."""
    power, frame = tempo.frame_power(audio, TEMPO_SAMPLE_RATE)
    layouts = {"shipped": tempo.band_starts(frame, TEMPO_SAMPLE_RATE)}
    layouts.update({name: tempo.band_starts(frame, TEMPO_SAMPLE_RATE, bands, low, high)
                    for name, (bands, low, high) in ENVELOPES.items()})
    return {name: _fixed_length(tempo.autocorrelation(tempo.band_onsets(power, starts)))
            for name, starts in layouts.items()}


def features_of(correlations: dict[str, np.ndarray], extra: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(candidate tempi, features): the shipped envelope's candidates and comb features, then for each ``extra``
    envelope its comb features at the same candidates (without the repeated tempo-prior columns)."""
    shipped = correlations["shipped"]
    strongest_bpm, strongest_salience = tempo.strongest_comb(shipped)
    candidates = candidate_tempi(strongest_bpm, tempo.MIN_BPM, tempo.MAX_BPM)
    columns = [candidate_features(shipped, candidates, strongest_salience, tempo.FRAMES_PER_SECOND, tempo.COMB_MULTIPLES)]
    for name in extra:
        own_salience = max(tempo.strongest_comb(correlations[name])[1], 1e-9)
        columns.append(candidate_features(correlations[name], candidates, own_salience, tempo.FRAMES_PER_SECOND,
                                          tempo.COMB_MULTIPLES)[:, 2:])
    return candidates, np.concatenate(columns, axis=1)


def estimate(scorer: LevelScorer, correlations: dict[str, np.ndarray], extra: tuple[str, ...]) -> float:
    candidates, features = features_of(correlations, extra)
    if not candidates.size:
        return 0.0
    return tempo.refined(correlations["shipped"], float(candidates[int(np.argmax(scorer.scores(features)))]))


def unit_signals() -> Iterator[tuple[str, float, np.ndarray]]:
    """(maker, tempo, audio) of each of ``UNIT_SIGNALS``, made as the unit tests make them."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    import rhythm_factory

    for maker, bpm in UNIT_SIGNALS:
        make = getattr(rhythm_factory, maker)
        yield maker, bpm, (make(bpm, 30.0, TEMPO_SAMPLE_RATE) if maker == "click_track" else
                           make(bpm, 30.0, seed=int(bpm), sample_rate=TEMPO_SAMPLE_RATE))


def unit_signal_misses(scorer: LevelScorer, extra: tuple[str, ...]) -> list[str]:
    """The unit tests' synthesised signals this scorer times more than 1 % off."""
    misses = []
    for maker, bpm, audio in unit_signals():
        found = estimate(scorer, correlations_of(audio), extra)
        if abs(found / bpm - 1.0) > 0.01:
            misses.append(f"{maker} {bpm:g} -> {found:.1f}")
    return misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, default=Path("tempo_level_features"))
    options = parser.parse_args()
    decoded = decoded_clips(options.manifest)
    clips = [(split, bpm, drums, correlations_of(audio)) for split, bpm, drums, audio in decoded]
    del decoded
    train = stretched([(split, bpm, c) for split, bpm, _, c in clips if split == "train"])
    val = [(bpm, drums, c) for split, bpm, drums, c in clips if split == "val"]
    print(json.dumps({"train_clips": sum(c[0] == "train" for c in clips), "val_clips": len(val)}), flush=True)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    summary = []
    for variant, extra in VARIANTS.items():
        train_sets = []
        for _, bpm, correlations in train:
            candidates, features = features_of(correlations, extra)
            train_sets.append((candidates, features, np.abs(candidates / bpm - 1.0) <= 0.04))
        best = None
        for hidden in HIDDEN_SIZES:
            for weight_decay in WEIGHT_DECAYS:
                scorer = fit(train_sets, hidden, weight_decay)
                estimates = [estimate(scorer, c, extra) for _, _, c in val]
                result = {"variant": variant, "hidden": hidden, "weight_decay": weight_decay,
                          **scores(estimates, [bpm for bpm, _, _ in val], [drums for _, drums, _ in val])}
                print(json.dumps(result), flush=True)
                if best is None or (result["acc1"], result["acc2"]) > (best[0]["acc1"], best[0]["acc2"]):
                    best = (result, scorer)
        result, scorer = best
        result["unit_signal_misses"] = unit_signal_misses(scorer, extra)
        (options.out_dir / f"level_{variant}.json").write_text(json.dumps(scorer.to_json()) + "\n", encoding="utf-8")
        print(json.dumps(result), flush=True)
        summary.append(result)
    print(json.dumps({"best_per_variant": summary}, indent=1))


if __name__ == "__main__":
    main()
