"""Does the band-periodicity network (``engine.tempo_net``) choose the beat better than the metrical-level scorer?

Validation first: networks fitted on the train splits of the generated corpus and of the breakbeat / hip-hop
corpus (``training.tempo_net_training.fit``; several seeds, alone and averaged) are judged on generated val,
rhythm val, the val chorales, the stretch consistency of the val game music (each 30 s excerpt stretched twice
by sox ``tempo -m``, 0.85-1.15, as ``engine eval`` stretches the test split) and the unit tests' synthesised
signals, against the level scorer the product shipped before (``benchmarks.experiments.tempo_level``). From /work:

    PYTHONPATH=main python -m benchmarks.experiments.tempo_band_net --generated data/generated/manifest.jsonl \
        --rhythm data/generated_rhythm/manifest.jsonl --scores data/scores/manifest.jsonl \
        --debian data/debian/manifest.jsonl --cache data/tempo_band.npz --out-dir data/tempo_band_net \
        [--steps 400 --width 16 --band-dropout 0.4 --weight-decay 0.1 --seeds 0 1 2] [--compare WEIGHTS.json]

``--compare WEIGHTS.json`` judges a saved ensemble, the level scorer and a hybrid of the two on the same validation
and on a sweep of the unit tests' synthesised families over 60-180 BPM, without training.

``--heldout WEIGHTS.json --tonal-test data/tonal_test/manifest.jsonl`` then judges one chosen ensemble once, paired
with the level scorer on the same envelopes, on the tonal test set (held-out generator and sound font) and the
test game music's stretched pairs, with bootstrap intervals (run it only after the choice).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.experiments.tempo_level import LEVEL_FACTORS, chosen_level, shipped_scorer
from benchmarks.experiments.tempo_level_data import (
    TOLERANCE,
    cached_correlations, labelled_records, stretch_keys, stretched_correlation,
)
from benchmarks.experiments.tempo_level_features import unit_signals
from benchmarks.experiments.tempo_onset_variants import scores
from benchmarks.experiments.tempo_level_training import _fixed_length, middle_audio
from engine import tempo
from engine.tempo_audio import TEMPO_SAMPLE_RATE
from engine.tempo_net import AXIS_BINS, TempoNetEnsemble, axis_features, load_ensemble
from training.evaluation.bootstrap import bootstrap_means, paired_difference
from training.evaluation.tempo_eval import stretch_consistent, tempo_accuracy
from training.tempo_net_training import (
    BAND_DROPOUT, MARGIN, STEPS, WEIGHT_DECAY, WIDTH, as_engine_network, fit,
)


def band_correlations(audio: np.ndarray) -> np.ndarray:
    """``engine.tempo.envelope_correlations`` of a tempo span, each cut or padded to the cache's lag count."""
    return np.stack([_fixed_length(c) for c in tempo.envelope_correlations(audio, TEMPO_SAMPLE_RATE)])


def file_band_correlations(path: str) -> np.ndarray | None:
    audio = middle_audio(Path(path))
    return None if audio is None else band_correlations(audio)


def stretched_band_correlations(key: str) -> np.ndarray | None:
    return stretched_correlation(key, band_correlations)


def net_estimates(ensemble: TempoNetEnsemble, stacked: np.ndarray) -> np.ndarray:
    """The product's estimate from each clip's band correlations (clips, envelopes, lags)."""
    return np.array([tempo.refined(c[0], ensemble.best_bpm(axis_features(c, tempo.FRAMES_PER_SECOND)))
                     for c in stacked])


def level_estimates(stacked: np.ndarray) -> np.ndarray:
    """The estimate of the level scorer shipped before (TEMPO_VERSION 2) from the summed envelope alone."""
    found = []
    for correlations in stacked:
        summed = correlations[0]
        strongest_bpm, salience = tempo.strongest_comb(summed)
        level = chosen_level(shipped_scorer(), summed, strongest_bpm, salience, tempo.MIN_BPM, tempo.MAX_BPM,
                             tempo.FRAMES_PER_SECOND, tempo.COMB_MULTIPLES)
        found.append(tempo.refined(summed, level))
    return np.array(found)


def balanced_weights(tempi: np.ndarray, kinds: np.ndarray, bins_per_octave: float = 4.0) -> np.ndarray:
    """Sampling probabilities (clips,) that make each kind's (with drums / without) tempi even over log-tempo: a clip
    weighs 1 / the clips of its kind within its 1/``bins_per_octave`` octave (a generator's favourite tempi are not
    the user's, and the network's prior would learn them), each kind in proportion to its clips. Measured with
    ``--balanced``, not shipped (docs/lab-notes/2026-12-07-tempo-band-network.md)."""
    cells = np.floor(np.log2(tempi) * bins_per_octave).astype(np.int64)
    weights = np.zeros(tempi.size)
    for kind in np.unique(kinds):
        chosen = kinds == kind
        values, counts = np.unique(cells[chosen], return_counts=True)
        per_cell = dict(zip(values.tolist(), counts.tolist()))
        share = chosen.sum() / values.size  # a kind's cells split its share of the draws evenly
        weights[chosen] = [share / per_cell[cell] for cell in cells[chosen].tolist()]
    return weights / weights.sum()


def hybrid_estimates(ensemble: TempoNetEnsemble, stacked: np.ndarray) -> np.ndarray:
    """The pulse family from the network, the level from the scorer: where the network's tempo is one of the
    scorer's candidates (a relative of the strongest comb), the scorer's estimate as it was; where it is none of them
    (a tremolo or beating stronger than the beat), the scorer chooses among the relatives of the network's tempo."""
    found = []
    for correlations in stacked:
        summed = correlations[0]
        strongest_bpm, salience = tempo.strongest_comb(summed)
        net_bpm = tempo.refined(summed, ensemble.best_bpm(axis_features(correlations, tempo.FRAMES_PER_SECOND)))
        if not any(abs(net_bpm / (strongest_bpm * factor) - 1.0) <= TOLERANCE for factor in LEVEL_FACTORS):
            strongest_bpm, salience = net_bpm, float(tempo.comb_salience(summed, np.array([net_bpm]))[0])
        level = chosen_level(shipped_scorer(), summed, strongest_bpm, salience, tempo.MIN_BPM, tempo.MAX_BPM,
                             tempo.FRAMES_PER_SECOND, tempo.COMB_MULTIPLES)
        found.append(tempo.refined(summed, level))
    return np.array(found)


def synthetic_sweep() -> list[tuple[str, float, np.ndarray]]:
    """(family, tempo, band correlations) of the unit tests' synthesised families over 60-180 BPM, 24 s each, two
    seeds (one click track): a wider look at the plain signals than the unit tests' few tempi."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    import rhythm_factory

    found = []
    for family in ("click_track", "drum_groove", "plucked_chords"):
        make = getattr(rhythm_factory, family)
        for bpm in range(60, 182, 3):
            for seed in (0,) if family == "click_track" else (0, 1):
                audio = (make(float(bpm), 24.0, TEMPO_SAMPLE_RATE) if family == "click_track" else
                         make(float(bpm), 24.0, seed=seed, sample_rate=TEMPO_SAMPLE_RATE))
                found.append((family, float(bpm), band_correlations(audio.astype(np.float32))))
    return found


def judged(estimate, clips: list[dict], correlations: dict, pairs: list, stretch: dict, units: list,
           sweep: list | None = None) -> dict:
    """Val figures of one estimator (``estimate``: stacked band correlations -> tempi)."""
    result: dict = {}
    for corpus in dict.fromkeys(clip["corpus"] for clip in clips):
        chosen = [clip for clip in clips if clip["corpus"] == corpus]
        found = estimate(np.stack([correlations[clip["path"]] for clip in chosen]))
        result[corpus] = {k: round(v, 4) for k, v in
                          scores(list(found), [c["bpm"] for c in chosen], [c["drums"] for c in chosen]).items()}
    first = estimate(np.stack([stretch[a] for a, _, _ in pairs]))
    second = estimate(np.stack([stretch[b] for _, b, _ in pairs]))
    result["stretch"] = round(float(np.mean([stretch_consistent(x, y, f) for x, y, (_, _, f) in
                                             zip(first, second, pairs)])), 4)
    found = estimate(np.stack([c for _, _, c in units]))
    result["unit_misses"] = [f"{name} {bpm:g}->{value:.1f}" for (name, bpm, _), value in zip(units, found)
                             if abs(value / bpm - 1.0) > 0.01]
    if sweep:
        found = estimate(np.stack([c for _, _, c in sweep]))
        for family in dict.fromkeys(f for f, _, _ in sweep):
            rows = [(bpm, value) for (f, bpm, _), value in zip(sweep, found) if f == family]
            result[f"sweep_{family}_acc1"] = round(float(np.mean([abs(v / b - 1.0) <= TOLERANCE for b, v in rows])), 4)
    return result


def heldout(options: argparse.Namespace) -> None:
    """The chosen ensemble against the level scorer on the held-out material, item by item."""
    ensemble = load_ensemble(options.heldout)
    renders = [json.loads(line) for line in options.tonal_test.read_text(encoding="utf-8").splitlines()]
    renders = [r for r in renders if r.get("split") == "test" and r.get("tempo_bpm")]
    cache = options.cache.with_name(options.cache.stem + "_heldout.npz")
    correlations = cached_correlations([r["path"] for r in renders], file_band_correlations, cache)
    renders = [r for r in renders if r["path"] in correlations]
    pairs = stretch_keys(options.debian, "test")
    stretch = cached_correlations(sorted({k for a, b, _ in pairs for k in (a, b)}), stretched_band_correlations,
                                  cache.with_name(cache.stem + "_stretch.npz"))
    pairs = [(a, b, f) for a, b, f in pairs if a in stretch and b in stretch]
    stacked = np.stack([correlations[r["path"]] for r in renders])
    drums = np.array([bool(r.get("drums")) for r in renders])
    per_method = {}
    for name, estimate in (("level_scorer", level_estimates), ("band_net", lambda s: net_estimates(ensemble, s))):
        outcomes = np.array([tempo_accuracy(e, float(r["tempo_bpm"])) for e, r in zip(estimate(stacked), renders)],
                            float)
        first = estimate(np.stack([stretch[a] for a, _, _ in pairs]))
        second = estimate(np.stack([stretch[b] for _, b, _ in pairs]))
        consistent = np.array([stretch_consistent(x, y, f) for x, y, (_, _, f) in zip(first, second, pairs)], float)
        per_method[name] = {"acc1": outcomes[:, 0], "acc2": outcomes[:, 1], "stretch": consistent}
    report: dict = {"renders": len(renders), "pairs": len(pairs)}
    for measure in ("acc1", "acc2", "stretch"):
        a, b = per_method["level_scorer"][measure], per_method["band_net"][measure]
        report[measure] = {"level_scorer": bootstrap_means(a), "band_net": bootstrap_means(b),
                           "difference": paired_difference(a, b)}
    for name, chosen in (("drums", drums), ("no_drums", ~drums)):
        report[name] = {method: {"acc1": float(per_method[method]["acc1"][chosen].mean()),
                                 "acc2": float(per_method[method]["acc2"][chosen].mean())} for method in per_method}
    print(json.dumps(report, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--generated", "--scores", "--debian"):
        parser.add_argument(name, type=Path, required=True)
    parser.add_argument("--rhythm", type=Path)
    parser.add_argument("--flat-tempo", type=Path, help="a generated corpus built with --tempo-range: its val split is "
                        "judged, and its train split joins training unless --train-corpora leaves it out")
    parser.add_argument("--train-corpora", nargs="+", default=["generated", "rhythm", "flat_tempo"],
                        help="the corpora whose train splits the networks are fitted on")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, default=Path("tempo_band_net"))
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--weight-decay", type=float, default=WEIGHT_DECAY)
    parser.add_argument("--band-dropout", type=float, default=BAND_DROPOUT)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--balanced", action="store_true", help="draw clips evenly over log-tempo per kind (drums or not)")
    parser.add_argument("--heldout", type=Path, help="weights of the chosen ensemble: judge it once, held out")
    parser.add_argument("--tonal-test", type=Path)
    parser.add_argument("--compare", type=Path, help="weights of an ensemble: judge the scorer, it and the hybrid "
                        "on validation (and the synthetic sweep) without training")
    options = parser.parse_args()
    if options.heldout is not None:
        heldout(options)
        return

    clips = labelled_records(options.generated, options.scores, options.rhythm, options.flat_tempo)
    correlations = cached_correlations([c["path"] for c in clips], file_band_correlations, options.cache)
    clips = [c for c in clips if c["path"] in correlations]
    pairs = stretch_keys(options.debian)
    keys = sorted({k for a, b, _ in pairs for k in (a, b)})
    stretch = cached_correlations(keys, stretched_band_correlations,
                                  options.cache.with_name(options.cache.stem + "_stretch.npz"))
    pairs = [(a, b, f) for a, b, f in pairs if a in stretch and b in stretch]
    units = [(name, bpm, band_correlations(audio)) for name, bpm, audio in unit_signals()]
    val = [c for c in clips if c["split"] == "val"]
    if options.compare is not None:
        chosen = load_ensemble(options.compare)
        sweep = synthetic_sweep()
        for name, estimate in (("level_scorer", level_estimates), ("band_net", lambda s: net_estimates(chosen, s)),
                               ("hybrid", lambda s: hybrid_estimates(chosen, s))):
            print(json.dumps({"variant": name, **judged(estimate, val, correlations, pairs, stretch, units, sweep)}),
                  flush=True)
        return
    train_clips = [c for c in clips if c["split"] == "train" and c["corpus"] in options.train_corpora]
    features = np.stack([axis_features(correlations[c["path"]], tempo.FRAMES_PER_SECOND, -MARGIN, AXIS_BINS + MARGIN)
                         for c in train_clips])
    bpms = np.array([c["bpm"] for c in train_clips])
    draws = balanced_weights(bpms, np.array([c["drums"] for c in train_clips])) if options.balanced else None
    print(json.dumps({"variant": "level_scorer", **judged(level_estimates, val, correlations, pairs, stretch, units)}),
          flush=True)
    import torch

    torch.set_num_threads(2)
    label = f"w{options.width}_d{options.band_dropout}_wd{options.weight_decay}_n{options.steps}" + \
        ("_balanced" if options.balanced else "") + "_" + "+".join(options.train_corpora)
    members = []
    for seed in options.seeds:
        model = fit(features, bpms, seed, options.steps, options.width, options.weight_decay, options.band_dropout,
                    draws)
        members.append(as_engine_network(model))
        alone = TempoNetEnsemble((members[-1],))
        print(json.dumps({"variant": label, "seed": seed, **judged(lambda s: net_estimates(alone, s), val,
                                                                   correlations, pairs, stretch, units)}), flush=True)
    ensemble = TempoNetEnsemble(tuple(members))
    if len(members) > 1:
        print(json.dumps({"variant": label, "seed": "ensemble", **judged(lambda s: net_estimates(ensemble, s), val,
                                                                         correlations, pairs, stretch, units)}))
    from engine.tempo_net import ensemble_to_json

    options.out_dir.mkdir(parents=True, exist_ok=True)
    (options.out_dir / f"net_{label}.json").write_text(json.dumps(ensemble_to_json(ensemble)) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
