"""Does the shared encoder's track embedding help the tempo's metrical-level scorer choose the beat?

Issue 16 names a learned part on the shared encoder as the natural way to decide the metrical level. The cheapest
form of it: the shipped level scorer's candidate features (``benchmarks.experiments.tempo_level``) plus the first principal
components of the shipped model's track embedding (what an index run stores), broadcast to every candidate, in the
same one-hidden-layer scorer, fitted as the shipped one was (train clips of the generated corpus, each also
stretched to four tempi with its clip's embedding; sizes tried and the best on val kept; three seeds and their
mean). Judged on validation only: the val splits of the generated corpus, the rendered chorales and the breakbeat /
hip-hop corpus, the game music's val tracks stretched twice by sox (the stretched excerpt's own embedding), and the
unit tests' synthesised signals. Test splits and the tonal test set are not read.

    PYTHONPATH=main python -m benchmarks.experiments.tempo_level_embedding --generated data/generated/manifest.jsonl \
        --scores data/scores/manifest.jsonl --debian data/debian/manifest.jsonl \
        --rhythm data/generated_rhythm/manifest.jsonl --cache data/tempo_level_data.npz \
        --embeddings data/tempo_embeddings.npz [--components 4 8 16]
(from /work; the correlation caches are tempo_level_data.py's.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from benchmarks.experiments import tempo_level_training as training
from benchmarks.experiments.tempo_level_data import (
    cached_correlations, correlation_of, file_correlation, labelled_records, stretch_keys, stretched_correlation,
    strongest_relatives,
)
from benchmarks.experiments.tempo_level_features import unit_signals
from benchmarks.experiments.tempo_onset_variants import scores
from benchmarks.experiments.tempo_level_training import TOLERANCE, middle_audio
from engine import tempo
from engine.tempo_audio import TEMPO_SAMPLE_RATE
from benchmarks.experiments.tempo_level import LevelScorer, shipped_scorer
from training.evaluation.tempo_eval import stretch_consistent

SEEDS = 3


class Embedder:
    """The shipped model's track embedding of an audio file, as an index run computes it."""

    def __init__(self) -> None:
        from engine.analyzer import Analyzer
        from engine.model_folder import load_model
        from engine.model_spec import DEFAULT_MODEL_DIR

        self.model = load_model(DEFAULT_MODEL_DIR)
        self.analyzer = Analyzer(self.model)

    def of_file(self, path: Path) -> np.ndarray | None:
        import os

        from engine.decoding import DecodeJob, decode_job

        stat = os.stat(path)
        config = self.model.config
        outcome = decode_job(DecodeJob(str(path), stat.st_size, stat.st_mtime_ns, "", None, config.sample_rate,
                                       config.window_samples, self.analyzer.max_windows))
        if outcome.windows is None or not len(outcome.windows):
            return None
        return self.analyzer.analyze_tracks([outcome.windows], [outcome.key_windows])[0].embedding

    def of_audio(self, audio: np.ndarray, rate: int) -> np.ndarray | None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "audio.wav"
            _write_wav(path, audio, rate)
            return self.of_file(path)


def _write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes())


def stretched_embedding(embedder: Embedder, key: str) -> np.ndarray | None:
    """The embedding of a game-music track's middle 30 s, stretched by sox ``tempo -m`` as ``engine eval`` does."""
    path, factor = key.rsplit("|", 1)
    audio = middle_audio(Path(path))
    if audio is None:
        return None
    if float(factor) == 1.0:
        return embedder.of_audio(audio, TEMPO_SAMPLE_RATE)
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "excerpt.wav", Path(folder) / "stretched.wav"
        _write_wav(source, audio, TEMPO_SAMPLE_RATE)
        subprocess.run(["sox", str(source), str(target), "tempo", "-m", factor], check=True, capture_output=True)
        return embedder.of_file(target)


def with_embedding(correlation: np.ndarray, components: np.ndarray, bpm: float = 100.0):
    """(candidates, features + the clip's components on every row, which are right)."""
    candidates, features = strongest_relatives(correlation)
    extended = np.concatenate([features, np.repeat(components[None, :], len(candidates), axis=0)], axis=1)
    return candidates, extended, np.abs(candidates / bpm - 1.0) <= TOLERANCE


def estimate(scorer: LevelScorer, correlation: np.ndarray, components: np.ndarray | None) -> float:
    if components is None:
        candidates, features = strongest_relatives(correlation)
    else:
        candidates, features, _ = with_embedding(correlation, components)
    if not candidates.size:
        return 0.0
    return tempo.refined(correlation, float(candidates[int(np.argmax(scorer.scores(features)))]))


def stretched_copies(train: list[dict], correlations: dict) -> list[tuple[float, np.ndarray, str]]:
    """(tempo, correlation, path) of each train clip and of its stretched copies, drawn as
    ``tempo_level_training.stretched`` draws them; a copy keeps its clip's embedding (by path)."""
    draw = np.random.default_rng(training.SEED)
    copies = [(clip["bpm"], correlations[clip["path"]], clip["path"]) for clip in train]
    for clip in train:
        for factor in draw.uniform(*training.STRETCH_FACTORS, size=training.STRETCHES_PER_CLIP):
            if training.STRETCHED_BPM[0] <= clip["bpm"] * factor <= training.STRETCHED_BPM[1]:
                copies.append((clip["bpm"] * factor,
                               training._stretched_correlation(correlations[clip["path"]], factor), clip["path"]))
    return copies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("generated", "scores", "debian", "rhythm", "cache", "embeddings"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--components", type=int, nargs="+", default=[4, 8, 16])
    options = parser.parse_args()
    clips = labelled_records(options.generated, options.scores, options.rhythm)
    correlations = cached_correlations([clip["path"] for clip in clips], file_correlation, options.cache)
    pairs = stretch_keys(options.debian)
    keys = sorted({key for original, changed, _ in pairs for key in (original, changed)})
    stretch = cached_correlations(keys, stretched_correlation, options.cache.with_name(options.cache.stem + "_stretch.npz"))
    embedder = Embedder()
    embeddings = cached_correlations([clip["path"] for clip in clips], lambda path: embedder.of_file(Path(path)),
                                     options.embeddings)
    stretch_embeddings = cached_correlations(keys, lambda key: stretched_embedding(embedder, key),
                                             options.embeddings.with_name(options.embeddings.stem + "_stretch.npz"))
    signals = [(maker, bpm, correlation_of(audio), embedder.of_audio(audio, TEMPO_SAMPLE_RATE))
               for maker, bpm, audio in unit_signals()]
    clips = [clip for clip in clips if clip["path"] in correlations and clip["path"] in embeddings]
    pairs = [(a, b, f) for a, b, f in pairs if all(k in stretch and k in stretch_embeddings for k in (a, b))]
    train = [clip for clip in clips if clip["split"] == "train" and clip["corpus"] == "generated"]
    stacked = np.stack([embeddings[clip["path"]] for clip in train])
    centre = stacked.mean(axis=0)
    _, _, axes = np.linalg.svd(stacked - centre, full_matrices=False)

    def judge(scorer: LevelScorer, count: int | None) -> dict:
        def project(vector: np.ndarray) -> np.ndarray | None:
            return None if count is None else (vector - centre) @ axes[:count].T

        result: dict = {}
        for corpus in ("generated", "chorales", "rhythm"):
            chosen = [clip for clip in clips if clip["corpus"] == corpus and clip["split"] == "val"]
            found = [estimate(scorer, correlations[c["path"]], project(embeddings[c["path"]])) for c in chosen]
            result[corpus] = {k: round(v, 3) for k, v in
                              scores(found, [c["bpm"] for c in chosen], [c["drums"] for c in chosen]).items()}
        result["stretch_consistency"] = round(float(np.mean([stretch_consistent(
            estimate(scorer, stretch[a], project(stretch_embeddings[a])),
            estimate(scorer, stretch[b], project(stretch_embeddings[b])), f) for a, b, f in pairs])), 3)
        result["unit_signal_misses"] = [f"{maker} {bpm:g} -> {found:.1f}" for maker, bpm, correlation, vector in signals
                                        for found in [estimate(scorer, correlation, project(vector))]
                                        if abs(found / bpm - 1.0) > 0.01]
        return result

    print(json.dumps({"variant": "shipped", "pairs": len(pairs), **judge(shipped_scorer(), None)}), flush=True)
    for count in options.components:
        fits = []
        for seed in range(SEEDS):
            training.SEED = seed
            sets = [with_embedding(correlation, (embeddings[path] - centre) @ axes[:count].T, bpm)
                    for bpm, correlation, path in stretched_copies(train, correlations)]
            val = [c for c in clips if c["split"] == "val"]
            best = None
            for hidden in training.HIDDEN_SIZES:
                scorer = training.fit(sets, hidden, training.WEIGHT_DECAYS[0])
                hits = sum(abs(estimate(scorer, correlations[c["path"]], (embeddings[c["path"]] - centre) @ axes[:count].T)
                               / c["bpm"] - 1.0) <= TOLERANCE for c in val)
                if best is None or hits > best[0]:
                    best = (hits, scorer)
            fits.append(best[1])
            print(json.dumps({"variant": f"embedding_{count}", "seed": seed, **judge(best[1], count)}), flush=True)
        print(json.dumps({"variant": f"embedding_{count}", "seed": f"mean of {SEEDS}",
                          **judge(training.ensemble(fits), count)}), flush=True)


if __name__ == "__main__":
    main()
