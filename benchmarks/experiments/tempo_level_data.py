"""Does the metrical-level scorer generalise better when it learns from more than one generator's music?

The shipped scorer (``engine/tempo_level.json``) learned from the generated corpus alone and was chosen on that
corpus's val split: 93.4 % Acc1 there, 85.0 % on the independent tonal test set, so what it learned is partly one
generator's habits. The rendered Bach chorales are another kind of music with exact tempo labels (``quarter_bpm``:
4/4 and 3/4 hymns whose beat is the quarter, 56-96 BPM, no drums, homophonic chord changes), the slow, drumless
kind the estimator misses most. Their Irish tunes are left out: a jig's quarter is not its beat, and the
manifest does not say the metre.

Each variant's scorer is fitted as ``benchmarks/experiments/tempo_level_training.py`` fits the shipped one (train clips, each
also stretched to four tempi; sizes tried and the best on val kept) and judged only on material outside its
training: the val splits of the generated corpus and of the chorales, the stretch consistency of the val split of
the game music (each 30 s excerpt stretched twice by sox ``tempo -m``, 0.85-1.15, as ``engine eval`` does on the
test split) and the unit tests' synthesised signals. Test splits and the tonal test set are never read.

    PYTHONPATH=main python -m benchmarks.experiments.tempo_level_data --generated data/generated/manifest.jsonl \
        --scores data/scores/manifest.jsonl --debian data/debian/manifest.jsonl \
        --cache data/tempo_level_data.npz --out-dir data/tempo_level_data [--seeds 5] [--candidates two_peaks]
(from the folder the game-music manifest's paths are relative to, /work here; each fit's scorer is written to
--out-dir as level_VARIANT_seedN.json, and the mean of a variant's fits as level_VARIANT_ensemble.json).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.experiments import tempo_level_training as training
from benchmarks.experiments.tempo_level_features import unit_signals
from benchmarks.experiments.tempo_onset_variants import estimated, scores
from benchmarks.experiments.tempo_level_training import (
    HIDDEN_SIZES, TOLERANCE, WEIGHT_DECAYS, _fixed_length, candidate_set, fit, middle_audio, stretched,
)
from engine import tempo
from engine.audio import AudioDecodeError, decode_mono
from engine.tempo_audio import TEMPO_SAMPLE_RATE
from benchmarks.experiments.tempo_level import LEVEL_FACTORS, LevelScorer, candidate_features, candidate_tempi, shipped_scorer
from training.corpora.score_meter import beat_tempo_labels
from training.corpora.score_sources import CHORALE_SOURCE
from training.evaluation.tempo_eval import STRETCHES_PER_TRACK, _stretch_factor, stretch_consistent

STRETCH_SEED = 5  # engine eval's seed; here on the val split, so other pairs than the test's


def labelled_records(generated: Path, scores_manifest: Path, rhythm: Path | None = None,
                     flat_tempo: Path | None = None) -> list[dict]:
    """Train and val records with an exact beat tempo: every generated piece, the score renders whose beat is the
    quarter (corpus "chorales" for the Bach chorales, "tunes" for the simple-meter fiddle tunes), (``rhythm``)
    the pieces of a generated corpus of the extra styles (breakbeat and hip-hop: ``--styles breakbeat hiphop``) and
    (``flat_tempo``) those of a generated corpus whose tempi ignore the style (``--tempo-range 60 180``)."""
    found = []
    sources = ((generated, "generated"), (scores_manifest, "chorales")) + (() if rhythm is None else ((rhythm, "rhythm"),))
    sources += () if flat_tempo is None else ((flat_tempo, "flat_tempo"),)
    score_labels = beat_tempo_labels(scores_manifest)
    for manifest, corpus in sources:
        for line in manifest.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("split") not in ("train", "val"):
                continue
            if corpus == "chorales":
                bpm = score_labels.get(record["clip_id"])
                if bpm is None:
                    continue
                corpus_of_clip = "chorales" if record.get("source") == CHORALE_SOURCE else "tunes"
            else:
                bpm, corpus_of_clip = record.get("tempo_bpm"), corpus
            path = manifest.parent / record["relative_path"]
            found.append({"corpus": corpus_of_clip, "split": record["split"], "bpm": float(bpm),
                          "drums": bool(record.get("drums")), "path": str(path)})
    return found


def correlation_of(audio: np.ndarray) -> np.ndarray:
    return _fixed_length(tempo.autocorrelation(tempo.onset_strength(audio, TEMPO_SAMPLE_RATE)))


def file_correlation(path: str) -> np.ndarray | None:
    """The autocorrelation of a file's middle 30 s as indexing decodes them; None when it does not decode."""
    audio = middle_audio(Path(path))
    return None if audio is None else correlation_of(audio)


def cached_correlations(keys: list[str], compute, cache: Path | None) -> dict[str, np.ndarray]:
    """``compute(key)`` (an autocorrelation, or None when undecodable) for each key, kept in ``cache`` by key."""
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as stored:
            known = dict(zip(stored["keys"].tolist(), stored["correlations"]))
    for done, key in enumerate(keys):
        if key not in known:
            value = compute(key)
            if value is not None:
                known[key] = value
        if done % 200 == 199:
            print(json.dumps({"correlations": done + 1, "of": len(keys)}), flush=True)
    if cache is not None and known:
        np.savez(cache, keys=np.array(list(known)), correlations=np.stack(list(known.values())))
    return known


def stretch_keys(debian: Path, split: str = "val") -> list[tuple[str, str, float]]:
    """(original key, stretched key, factor) for every ``split`` track of the game music, factors drawn as engine
    eval draws them. A key is ``path|factor`` (factor 1 for the original)."""
    draw = random.Random(STRETCH_SEED)
    pairs = []
    for line in debian.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("split") != split:
            continue
        for _ in range(STRETCHES_PER_TRACK):
            factor = _stretch_factor(draw)
            pairs.append((f"{record['path']}|1.0000", f"{record['path']}|{factor:.4f}", factor))
    return pairs


def stretched_correlation(key: str, correlation: Callable[[np.ndarray], np.ndarray] = correlation_of
                          ) -> np.ndarray | None:
    """The ``correlation`` (default: the shipped envelope's autocorrelation) of a game-music track's middle 30 s,
    stretched by sox ``tempo -m`` (pitch kept)."""
    path, factor = key.rsplit("|", 1)
    audio = middle_audio(Path(path))
    if audio is None or float(factor) == 1.0:
        return None if audio is None else correlation(audio)
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "excerpt.wav", Path(folder) / "stretched.wav"
        with wave.open(str(source), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(TEMPO_SAMPLE_RATE)
            handle.writeframes((np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes())
        subprocess.run(["sox", str(source), str(target), "tempo", "-m", factor], check=True, capture_output=True)
        try:
            return correlation(decode_mono(target, TEMPO_SAMPLE_RATE))
        except AudioDecodeError:
            return None


def strongest_relatives(correlation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shipped candidates: the strongest comb's relatives, and their features."""
    return candidate_set(correlation, 100.0)[:2]


def two_peak_relatives(correlation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The relatives of the strongest comb peak and of the strongest peak that is none of its relatives (within
    4 %), without near-repeats; features as shipped (saliences over the strongest comb's). The Acc2 misses on
    validation are slow drumless pieces whose strongest comb lies at 2.4-3.8x the beat, with no relative near it."""
    grid = tempo.tempo_grid()
    salience = tempo.comb_salience(correlation, grid)
    peaks = np.where((salience[1:-1] > salience[:-2]) & (salience[1:-1] >= salience[2:]))[0] + 1
    if not peaks.size:
        return strongest_relatives(correlation)
    peaks = peaks[np.argsort(-salience[peaks])]
    first = grid[peaks[0]]
    relatives = [first * factor for factor in LEVEL_FACTORS]
    second = next((grid[p] for p in peaks[1:] if all(abs(grid[p] / r - 1.0) > TOLERANCE for r in relatives)), None)
    candidates: list[float] = []
    for peak in (first,) if second is None else (first, second):
        for value in candidate_tempi(peak, tempo.MIN_BPM, tempo.MAX_BPM):
            if all(abs(value / kept - 1.0) > TOLERANCE for kept in candidates):
                candidates.append(float(value))
    bpms = np.array(candidates)
    return bpms, candidate_features(correlation, bpms, float(salience[peaks[0]]), tempo.FRAMES_PER_SECOND,
                                    tempo.COMB_MULTIPLES)


PROPOSALS = {"strongest": strongest_relatives, "two_peaks": two_peak_relatives}
VARIANTS = {"generated": ("generated",), "generated_chorales": ("generated", "chorales"),
            "generated_rhythm": ("generated", "rhythm")}  # the training corpora of each variant's scorer


def with_truth(propose, correlation: np.ndarray, bpm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    candidates, features = propose(correlation)
    return candidates, features, np.abs(candidates / bpm - 1.0) <= TOLERANCE


def judged(scorer: LevelScorer, clips: list[dict], correlations: dict, pairs: list, stretch: dict,
           propose=strongest_relatives) -> dict:
    """Val figures of one scorer: per corpus Acc1/Acc2, stretch consistency, unit-signal misses."""
    result: dict = {}
    for corpus in dict.fromkeys(clip["corpus"] for clip in clips):
        chosen = [clip for clip in clips if clip["corpus"] == corpus and clip["split"] == "val"]
        estimates = [estimated(scorer, *propose(correlations[clip["path"]]), correlations[clip["path"]])
                     for clip in chosen]
        result[corpus] = scores(estimates, [clip["bpm"] for clip in chosen], [clip["drums"] for clip in chosen])
        result[corpus]["clips"] = len(chosen)
    consistent = []
    for original, changed, factor in pairs:
        if original in stretch and changed in stretch:
            found = [estimated(scorer, *propose(stretch[key]), stretch[key]) for key in (original, changed)]
            consistent.append(stretch_consistent(found[0], found[1], factor))
    result["stretch_consistency"] = float(np.mean(consistent)) if consistent else float("nan")
    result["stretch_pairs"] = len(consistent)
    result["unit_signal_misses"] = unit_signal_misses(scorer, propose)
    return result


def unit_signal_misses(scorer: LevelScorer, propose=strongest_relatives) -> list[str]:
    misses = []
    for maker, bpm, audio in unit_signals():
        correlation = correlation_of(audio)
        found = estimated(scorer, *propose(correlation), correlation)
        if abs(found / bpm - 1.0) > 0.01:
            misses.append(f"{maker} {bpm:g} -> {found:.1f}")
    return misses


def fitted(clips: list[dict], correlations: dict, corpora: tuple[str, ...],
           propose=strongest_relatives) -> tuple[LevelScorer, dict]:
    """The scorer fitted on the train clips of ``corpora`` (stretched), the size best on all val clips."""
    train = stretched([("train", clip["bpm"], correlations[clip["path"]]) for clip in clips
                       if clip["split"] == "train" and clip["corpus"] in corpora])
    train_sets = [with_truth(propose, correlation, bpm) for _, bpm, correlation in train]
    val = [clip for clip in clips if clip["split"] == "val"]

    def val_hits(scorer: LevelScorer) -> int:
        return sum(abs(estimated(scorer, *propose(correlations[clip["path"]]), correlations[clip["path"]])
                       / clip["bpm"] - 1.0) <= TOLERANCE for clip in val)

    return best_size(train_sets, val_hits)


def best_size(train_sets: list, val_hits) -> tuple[LevelScorer, dict]:
    """The scorer fitted to ``train_sets`` at each of the sizes tried whose ``val_hits(scorer)`` is highest, and
    how it was fitted."""
    best = None
    for hidden in HIDDEN_SIZES:
        for weight_decay in WEIGHT_DECAYS:
            scorer = fit(train_sets, hidden, weight_decay)
            hits = val_hits(scorer)
            if best is None or hits > best[0]:
                best = (hits, scorer, {"hidden": hidden, "weight_decay": weight_decay, "train_clips": len(train_sets)})
    return best[1], best[2]


def corpus_arguments(doc: str, out_dir: Path) -> argparse.ArgumentParser:
    """The options every scorer experiment over these corpora takes: the three manifests, the cache, the output."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--generated", type=Path, required=True)
    parser.add_argument("--scores", type=Path, required=True)
    parser.add_argument("--debian", type=Path, required=True)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--out-dir", type=Path, default=out_dir)
    return parser


def main() -> None:
    parser = corpus_arguments(__doc__, Path("tempo_level_data"))
    parser.add_argument("--seeds", type=int, default=3, help="fits per variant, seeds 0..N-1 (the fit varies by seed)")
    parser.add_argument("--rhythm", type=Path, help="manifest of a generated corpus of the extra styles (its val "
                        "split joins the val figures; variant generated_rhythm trains on its train split too)")
    parser.add_argument("--variants", nargs="+", default=["generated", "generated_chorales"],
                        choices=sorted(VARIANTS), help="training corpora of the fitted scorers")
    parser.add_argument("--candidates", default="strongest", choices=sorted(PROPOSALS),
                        help="which tempi the scorer chooses among")
    options = parser.parse_args()
    clips = labelled_records(options.generated, options.scores, options.rhythm)
    correlations = cached_correlations([clip["path"] for clip in clips], file_correlation, options.cache)
    clips = [clip for clip in clips if clip["path"] in correlations]
    pairs = stretch_keys(options.debian)
    stretch_cache = None if options.cache is None else options.cache.with_name(options.cache.stem + "_stretch.npz")
    keys = sorted({key for original, changed, _ in pairs for key in (original, changed)})
    stretch = cached_correlations(keys, stretched_correlation, stretch_cache)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    print(json.dumps({"variant": "shipped", **judged(shipped_scorer(), clips, correlations, pairs, stretch)}), flush=True)
    fits: dict[str, list[LevelScorer]] = {}
    chosen_variants = {name: VARIANTS[name] for name in options.variants}
    propose = PROPOSALS[options.candidates]
    suffix = "" if options.candidates == "strongest" else f"_{options.candidates}"
    for seed in range(options.seeds):
        training.SEED = seed  # the fit's initialisation and the stretched copies' draws
        for name, corpora in chosen_variants.items():
            scorer, how = fitted(clips, correlations, corpora, propose)
            fits.setdefault(name, []).append(scorer)
            label = name + suffix
            (options.out_dir / f"level_{label}_seed{seed}.json").write_text(json.dumps(scorer.to_json()) + "\n",
                                                                          encoding="utf-8")
            print(json.dumps({"variant": label, "seed": seed, **how,
                              **judged(scorer, clips, correlations, pairs, stretch, propose)}), flush=True)
    for name, scorers in fits.items():
        scorer = training.ensemble(scorers)
        label = name + suffix
        (options.out_dir / f"level_{label}_ensemble.json").write_text(json.dumps(scorer.to_json()) + "\n",
                                                                      encoding="utf-8")
        print(json.dumps({"variant": label, "seed": f"mean of {len(scorers)} fits",
                          **judged(scorer, clips, correlations, pairs, stretch, propose)}), flush=True)


if __name__ == "__main__":
    main()
