"""Where do the tempo estimator's remaining validation misses come from? Four diagnostics, validation only (test
splits and the tonal test set are never read):

1. ``misses``: the generated corpus's val clips whose estimate is no metrical relative of the tempo (Acc2 misses),
   with their programs and the strongest comb (the family the level is chosen from).
2. ``rise_floors``: Acc1 / Acc2 on the val clips of the generated corpus and of the chorales when a floor is taken
   off every band's rise before the onset sum (``engine.tempo.band_onsets(..., rise_floor)``; the product's is 0):
   do small, slow rises (beating, tremolo of sustained instruments) mislead the tempo?
3. ``stretch``: the val game music's stretched pairs (as ``engine eval`` draws them on the test split), each
   inconsistent pair by the ratio of its two estimates, and the shipped scorer without its tempo-position features
   (``octaves_from_centre``, ``octaves_squared``: its learned prior) on the same pairs and on the generated val clips.
4. ``--caps``: instead of the above, the strongest comb (whose relatives are the candidates) looked for below a cap
   of 160-240 BPM: do the Acc2 misses' strongest combs at 200-240 BPM go away without new misses?

    PYTHONPATH=main python -m benchmarks.experiments.tempo_miss_diagnostics --generated data/generated/manifest.jsonl \\
        --scores data/scores/manifest.jsonl --debian data/debian/manifest.jsonl [--cache data/stretch_val.npz]
(from /work, where the game-music manifest's paths are relative to).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.experiments.tempo_level_data import (
    cached_correlations, labelled_records, stretch_keys, stretched_correlation,
)
from benchmarks.experiments.tempo_onset_variants import estimated, scores
from benchmarks.experiments.tempo_level_training import candidate_set, middle_audio
from engine import tempo
from engine.tempo_audio import TEMPO_SAMPLE_RATE
from benchmarks.experiments.tempo_level import FEATURE_NAMES, LevelScorer, shipped_scorer
from training.evaluation.tempo_eval import TOLERANCE, stretch_consistent, tempo_accuracy

RISE_FLOORS = (0.0, 0.3, 0.5, 1.0, 1.5, 2.0)  # log units per 10 ms frame
PRIOR_FEATURES = ("octaves_from_centre", "octaves_squared")
RATIOS = (1 / 3, 1 / 2, 2 / 3, 3 / 4, 1.0, 4 / 3, 3 / 2, 2.0, 3.0)
COMB_CAPS = (240.0, 220.0, 208.0, 200.0, 190.0, 180.0, 170.0, 160.0)  # BPM; 240 is the product's MAX_BPM


def envelope_correlation(audio: np.ndarray, rise_floor: float) -> np.ndarray:
    power, frame = tempo.frame_power(audio, TEMPO_SAMPLE_RATE)
    return tempo.autocorrelation(tempo.band_onsets(power, tempo.band_starts(frame, TEMPO_SAMPLE_RATE), rise_floor))


def estimate(scorer: LevelScorer, correlation: np.ndarray) -> float:
    return estimated(scorer, *candidate_set(correlation, 100.0)[:2], correlation)


def without_prior(scorer: LevelScorer) -> LevelScorer:
    """The scorer with its tempo-position features' weights set to 0: it chooses from the combs alone."""
    weights = scorer.hidden_weights.copy()
    weights[:, [FEATURE_NAMES.index(name) for name in PRIOR_FEATURES]] = 0.0
    return dataclasses.replace(scorer, hidden_weights=weights)


def misses(clips: list[dict], audio: dict[str, np.ndarray], records: dict[str, dict]) -> list[dict]:
    found = []
    for clip in clips:
        if clip["corpus"] != "generated":
            continue
        correlation = envelope_correlation(audio[clip["path"]], 0.0)
        bpm = estimate(shipped_scorer(), correlation)
        if not tempo_accuracy(bpm, clip["bpm"])[1]:
            found.append({"clip": Path(clip["path"]).stem, "bpm": clip["bpm"], "estimate": round(bpm, 1),
                          "strongest_comb": round(tempo.strongest_comb(correlation)[0], 1),
                          "programs": records[clip["path"]].get("programs"), "drums": clip["drums"]})
    return found


def rise_floors(clips: list[dict], audio: dict[str, np.ndarray]) -> dict:
    rows = {}
    for floor in RISE_FLOORS:
        row = {}
        for corpus in ("generated", "chorales"):
            chosen = [clip for clip in clips if clip["corpus"] == corpus]
            found = [estimate(shipped_scorer(), envelope_correlation(audio[clip["path"]], floor)) for clip in chosen]
            row[corpus] = scores(found, [clip["bpm"] for clip in chosen], [clip["drums"] for clip in chosen])
        rows[str(floor)] = row
    return rows


def stretch(clips: list[dict], audio: dict[str, np.ndarray], debian: Path, cache: Path | None) -> dict:
    pairs = stretch_keys(debian)
    keys = sorted({key for original, changed, _ in pairs for key in (original, changed)})
    correlations = cached_correlations(keys, stretched_correlation, cache)
    pairs = [pair for pair in pairs if pair[0] in correlations and pair[1] in correlations]
    generated = [clip for clip in clips if clip["corpus"] == "generated"]
    result = {}
    for name, scorer in (("shipped", shipped_scorer()), ("without its prior", without_prior(shipped_scorer()))):
        kinds: Counter = Counter()
        consistent = []
        for original, changed, factor in pairs:
            first, second = estimate(scorer, correlations[original]), estimate(scorer, correlations[changed])
            consistent.append(stretch_consistent(first, second, factor))
            if not consistent[-1]:
                ratio = second / first / factor
                nearest = min(RATIOS, key=lambda value: abs(np.log(ratio / value)))
                kinds[f"{nearest:.3g}" if abs(ratio / nearest - 1.0) <= TOLERANCE else "none"] += 1
        found = [estimate(scorer, envelope_correlation(audio[clip["path"]], 0.0)) for clip in generated]
        result[name] = {"consistency": float(np.mean(consistent)), "pairs": len(consistent),
                        "inconsistent_by_ratio": dict(kinds.most_common()),
                        "generated_val": scores(found, [c["bpm"] for c in generated], [c["drums"] for c in generated])}
    return result


def capped_estimate(correlation: np.ndarray, cap_bpm: float) -> float:
    """The shipped estimate with the strongest comb looked for between ``tempo.MIN_BPM`` and ``cap_bpm`` only (its
    relatives, the candidates, still up to ``tempo.MAX_BPM``)."""
    from benchmarks.experiments.tempo_level import candidate_features, candidate_tempi

    bpms = tempo.tempo_grid(tempo.MIN_BPM, cap_bpm)
    salience = tempo.comb_salience(correlation, bpms)
    best = int(np.argmax(salience))
    candidates = candidate_tempi(float(bpms[best]), tempo.MIN_BPM, tempo.MAX_BPM)
    features = candidate_features(correlation, candidates, float(salience[best]), tempo.FRAMES_PER_SECOND,
                                  tempo.COMB_MULTIPLES)
    return estimated(shipped_scorer(), candidates, features, correlation)


def strongest_comb_caps(clips: list[dict], audio: dict[str, np.ndarray], debian: Path, cache: Path | None) -> dict:
    """Acc1 / Acc2 and stretch consistency when the strongest comb is looked for below each of ``COMB_CAPS``: the
    Acc2 misses' strongest combs sit at 200-240 BPM (the beating of sustained sounds)."""
    pairs = stretch_keys(debian)
    keys = sorted({key for original, changed, _ in pairs for key in (original, changed)})
    correlations = cached_correlations(keys, stretched_correlation, cache)
    pairs = [pair for pair in pairs if pair[0] in correlations and pair[1] in correlations]
    envelopes = {clip["path"]: envelope_correlation(audio[clip["path"]], 0.0) for clip in clips}
    rows = {}
    for cap in COMB_CAPS:
        row = {}
        for corpus in ("generated", "chorales"):
            chosen = [clip for clip in clips if clip["corpus"] == corpus]
            found = [capped_estimate(envelopes[clip["path"]], cap) for clip in chosen]
            row[corpus] = scores(found, [clip["bpm"] for clip in chosen], [clip["drums"] for clip in chosen])
        row["stretch_consistency"] = float(np.mean([
            stretch_consistent(capped_estimate(correlations[original], cap), capped_estimate(correlations[changed], cap),
                               factor) for original, changed, factor in pairs]))
        rows[str(cap)] = row
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=Path, required=True)
    parser.add_argument("--scores", type=Path, required=True)
    parser.add_argument("--debian", type=Path, required=True)
    parser.add_argument("--cache", type=Path, help="the stretched val pairs' autocorrelations, kept")
    parser.add_argument("--caps", action="store_true", help="only the strongest comb looked for below each cap")
    options = parser.parse_args()
    clips = [clip for clip in labelled_records(options.generated, options.scores) if clip["split"] == "val"]
    records = {}
    for line in options.generated.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        records[str(options.generated.parent / record["relative_path"])] = record
    audio = {clip["path"]: middle_audio(Path(clip["path"])) for clip in clips}
    clips = [clip for clip in clips if audio[clip["path"]] is not None]
    if options.caps:
        print(json.dumps(strongest_comb_caps(clips, audio, options.debian, options.cache), indent=2))
        return
    report = {"misses": misses(clips, audio, records), "rise_floors": rise_floors(clips, audio),
              "stretch": stretch(clips, audio, options.debian, options.cache)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
