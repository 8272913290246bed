"""Train the tempo estimator's metrical-level scorer (engine/tempo_level.json) on the generated corpus.

    .venv/bin/python benchmarks/experiments/tempo_level_training.py --manifest /work/data/generated/manifest.jsonl \
        [--out engine/tempo_level.json] [--correlations CACHE.npz]

``--correlations`` keeps each clip's envelope autocorrelation by path, so a re-run decodes only new clips.

Each record with a ``tempo_bpm`` (the exact quarter-note tempo of a procedurally generated piece) and split
"train" or "val" is decoded as indexing decodes it (the middle 30 s at 16 kHz); its candidate tempi are the
strongest comb's relatives (``benchmarks.experiments.tempo_level.LEVEL_FACTORS``) and a candidate is right when it lies within
4 % of the label. Each train clip is also seen at ``STRETCHES_PER_CLIP`` other tempi: a piece played f times
faster has the autocorrelation c(f · lag), so the envelope's autocorrelation is resampled (tempi kept within
``STRETCHED_BPM``); this fills the fast and slow ends of the corpus and teaches the scorer that a level's choice
must not change with a small change of tempo (the stretch consistency of the evaluation). A one-hidden-layer MLP is fitted to the train split (softmax over each clip's candidates: the
right one should score highest), several sizes and weight decays are tried, and the one best on the val split
is written. Test splits are never read. Torch is used only here; the engine reads the JSON with numpy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import tempo  # noqa: E402
from engine.audio import AudioDecodeError, decode_mono, probe  # noqa: E402
from engine.tempo_audio import TEMPO_SAMPLE_RATE  # noqa: E402
from benchmarks.experiments.tempo_level import (  # noqa: E402
    LEVEL_WEIGHTS_PATH, LevelScorer, candidate_tempi, candidate_features,
)
from training.corpora.manifest import record_audio_path  # noqa: E402

TOLERANCE = 0.04  # a candidate is the beat when within 4 % of the label (Acc1's tolerance)
SPLITS = ("train", "val")
HIDDEN_SIZES = (8, 16)
WEIGHT_DECAYS = (1e-3,)  # 1e-2 was worse on val for every size in a first run (scratch, 443 clips)
STEPS = 400
LEARNING_RATE = 0.01
SEED = 0
CORRELATION_LAGS = 3001  # 30 s of envelope at 100 frames/s
STRETCHES_PER_CLIP = 4
STRETCH_FACTORS = (0.8, 1.25)
STRETCHED_BPM = (50.0, 200.0)


def training_records(manifest: Path) -> Iterator[tuple[str, float, bool, Path]]:
    """(split, tempo, has drums, audio path) of every train/val record of ``manifest`` with a tempo."""
    for line in manifest.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("split") not in SPLITS or not record.get("tempo_bpm"):
            continue
        yield record["split"], float(record["tempo_bpm"]), bool(record.get("drums")), record_audio_path(record, manifest)


def middle_audio(path: Path) -> np.ndarray | None:
    """The middle ``ANALYSIS_SECONDS`` of ``path`` as indexing decodes them for tempo; None (said on stderr) when
    the file cannot be decoded."""
    try:
        duration = probe(path).duration_seconds
        start = max(0.0, (duration - tempo.ANALYSIS_SECONDS) / 2)
        return decode_mono(path, TEMPO_SAMPLE_RATE, start, min(tempo.ANALYSIS_SECONDS, duration))
    except AudioDecodeError as error:
        print(f"skipped {path}: {error}", file=sys.stderr)
        return None


def clip_correlations(manifest: Path, cache: Path | None) -> list[tuple[str, float, np.ndarray]]:
    """(split, tempo, envelope autocorrelation) per decodable train/val record with a tempo."""
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as stored:
            known = dict(zip(stored["paths"].tolist(), stored["correlations"]))
    found = []
    for split, bpm, _, path in training_records(manifest):
        if str(path) not in known:
            audio = middle_audio(path)
            if audio is None:
                continue
            known[str(path)] = _fixed_length(tempo.autocorrelation(tempo.onset_strength(audio, TEMPO_SAMPLE_RATE)))
        found.append((split, bpm, known[str(path)]))
    if cache is not None:
        np.savez(cache, paths=np.array(list(known)), correlations=np.stack(list(known.values())))
    return found


def _fixed_length(correlation: np.ndarray) -> np.ndarray:
    """The first ``CORRELATION_LAGS`` lags (zero-padded): every lag a comb or the refinement reads."""
    kept = np.zeros(CORRELATION_LAGS, dtype=np.float32)
    kept[: min(CORRELATION_LAGS, correlation.size)] = correlation[:CORRELATION_LAGS]
    return kept


def stretched(clips: list[tuple[str, float, Any]]) -> list[tuple[str, float, Any]]:
    """Each clip and ``STRETCHES_PER_CLIP`` copies at tempi f times its own (f drawn in ``STRETCH_FACTORS``). A
    clip's correlation may also be a dict of several envelopes' correlations: each is stretched by the same f."""
    draw = np.random.default_rng(SEED)
    copies = list(clips)
    for split, bpm, correlation in clips:
        for factor in draw.uniform(*STRETCH_FACTORS, size=STRETCHES_PER_CLIP):
            if STRETCHED_BPM[0] <= bpm * factor <= STRETCHED_BPM[1]:
                copy = ({name: _stretched_correlation(c, factor) for name, c in correlation.items()}
                        if isinstance(correlation, dict) else _stretched_correlation(correlation, factor))
                copies.append((split, bpm * factor, copy))
    return copies


def _stretched_correlation(correlation: np.ndarray, factor: float) -> np.ndarray:
    """The autocorrelation of the envelope played ``factor`` times faster: c(factor * lag)."""
    lags = np.arange(correlation.size, dtype=np.float64)
    return np.interp(lags * factor, lags, correlation, right=0.0)


def candidate_set(correlation: np.ndarray, bpm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(candidate tempi, their features, which are right) for one clip, as ``engine.tempo`` builds them."""
    strongest_bpm, strongest_salience = tempo.strongest_comb(correlation)
    candidates = candidate_tempi(strongest_bpm, tempo.MIN_BPM, tempo.MAX_BPM)
    features = candidate_features(correlation, candidates, strongest_salience, tempo.FRAMES_PER_SECOND,
                                  tempo.COMB_MULTIPLES)
    return candidates, features, np.abs(candidates / bpm - 1.0) <= TOLERANCE


def fit(sets: list, hidden: int, weight_decay: float) -> LevelScorer:
    """The MLP fitted to the clips whose candidates include the beat (full batch, padded to the most candidates)."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    usable = [entry for entry in sets if entry[2].any()]
    stacked = np.concatenate([features for _, features, _ in usable])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    width = max(candidates.size for candidates, _, _ in usable)
    size, count = (len(usable), width), stacked.shape[1]  # count: FEATURE_NAMES, or an experiment's
    inputs, present, right = np.zeros((*size, count)), np.zeros(size, bool), np.zeros(size, bool)
    for row, (candidates, features, correct) in enumerate(usable):
        inputs[row, : candidates.size] = (features - mean) / scale
        present[row, : candidates.size], right[row, : candidates.size] = True, correct
    x, present_t, right_t = torch.tensor(inputs, dtype=torch.float32), torch.tensor(present), torch.tensor(right)
    first, second = torch.nn.Linear(count, hidden), torch.nn.Linear(hidden, 1)
    optimiser = torch.optim.Adam([*first.parameters(), *second.parameters()], lr=LEARNING_RATE,
                                 weight_decay=weight_decay)
    for _ in range(STEPS):
        scores = second(torch.relu(first(x))).squeeze(-1)
        loss = -(torch.logsumexp(scores.masked_fill(~right_t, -1e9), 1)
                 - torch.logsumexp(scores.masked_fill(~present_t, -1e9), 1)).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return LevelScorer(mean, scale, first.weight.detach().double().numpy(), first.bias.detach().double().numpy(),
                       second.weight.detach().double().numpy()[0], float(second.bias.item()))


def ensemble(scorers: list[LevelScorer]) -> LevelScorer:
    """One scorer whose score is the mean of ``scorers``' scores: their hidden layers side by side, each
    standardisation folded into its first layer (so the result's mean is 0 and scale 1). Fits differ by seed by
    a few val clips; their mean varies less, and the engine reads it as any other scorer."""
    hidden_weights = np.concatenate([s.hidden_weights / s.scale for s in scorers])
    hidden_bias = np.concatenate([s.hidden_bias - (s.hidden_weights / s.scale) @ s.mean for s in scorers])
    output_weights = np.concatenate([s.output_weights for s in scorers]) / len(scorers)
    count = scorers[0].mean.size
    return LevelScorer(np.zeros(count), np.ones(count), hidden_weights, hidden_bias, output_weights,
                       float(np.mean([s.output_bias for s in scorers])))


def accuracy(scorer: LevelScorer, sets: list, clips: list) -> float:
    """Acc1 of the whole estimate (chosen level, then refined) over ``clips``."""
    hits = 0
    for (candidates, features, _), (_, bpm, correlation) in zip(sets, clips):
        chosen = float(candidates[int(np.argmax(scorer.scores(features)))]) if candidates.size else 0.0
        hits += chosen > 0 and abs(tempo.refined(correlation, chosen) / bpm - 1.0) <= TOLERANCE
    return hits / max(1, len(clips))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=LEVEL_WEIGHTS_PATH)
    parser.add_argument("--correlations", type=Path, help="cache of the clips' autocorrelations (.npz)")
    options = parser.parse_args()
    clips = {split: [clip for clip in clip_correlations(options.manifest, options.correlations) if clip[0] == split] for split in SPLITS}
    clips["train"] = stretched(clips["train"])
    sets = {split: [candidate_set(correlation, bpm) for _, bpm, correlation in clips[split]] for split in SPLITS}
    results = []
    for hidden in HIDDEN_SIZES:
        for weight_decay in WEIGHT_DECAYS:
            scorer = fit(sets["train"], hidden, weight_decay)
            scores = {split: accuracy(scorer, sets[split], clips[split]) for split in SPLITS}
            print(json.dumps({"hidden": hidden, "weight_decay": weight_decay, **scores}), flush=True)
            results.append(((scores["val"], scores["train"]), hidden, weight_decay, scorer))
    (_, hidden, weight_decay, best) = max(results, key=lambda result: result[0])
    options.out.write_text(json.dumps(best.to_json()) + "\n", encoding="utf-8")
    print(json.dumps({"chosen": {"hidden": hidden, "weight_decay": weight_decay}, "clips":
                      {split: len(clips[split]) for split in SPLITS}, "out": str(options.out)}))


if __name__ == "__main__":
    main()
