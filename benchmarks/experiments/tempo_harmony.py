"""Does the metrical-level scorer choose the beat of music without drums better when it also sees when the harmony
changes?

The scorer's features are comb strengths of one onset envelope (rises of 1/3-octave band energies), and its misses
are mostly drumless pieces: a comping chord struck on every eighth rises as much on the off-beats as on the beats,
while the chord itself changes on beats and bars. The harmony envelope here marks only such changes: a pitch-class
profile per frame (2048-point FFT, 100 Hz-4 kHz folded to 12 classes), each frame's profile normalised to unit sum
so a struck-again chord or a decaying note leaves it unchanged (quiet frames hold the last profile, so a click
track gives none), and the novelty between the profiles of the 60 ms before and after each frame. The scorer gets
this envelope's comb features at the shipped candidates, beside the shipped ones (as
``tempo_level_features.features_of`` adds other envelopes), and is fitted and judged as
``tempo_level_data`` fits and judges (train clips of the generated corpus, each also stretched to four tempi;
judged only on the val splits of the generated corpus and of the chorales, the stretch consistency of the val
game music and the unit tests' signals; the chorales are never trained on here, so all of them judge). Test
splits and the tonal test set are never read.

    PYTHONPATH=main python -m benchmarks.experiments.tempo_harmony --generated data/generated/manifest.jsonl \
        --scores data/scores/manifest.jsonl --debian data/debian/manifest.jsonl \
        --cache data/tempo_harmony.npz --out-dir data/tempo_harmony [--seeds 5]
(from /work, where the game-music manifest's paths are relative to).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.experiments import tempo_level_training as training
from benchmarks.experiments.tempo_level_data import (
    best_size, cached_correlations, corpus_arguments, labelled_records, stretch_keys, stretched_correlation,
)
from benchmarks.experiments.tempo_level_features import unit_signals
from benchmarks.experiments.tempo_onset_variants import scores
from benchmarks.experiments.tempo_level_training import TOLERANCE, _fixed_length, middle_audio, stretched
from engine import tempo
from engine.tempo_audio import TEMPO_SAMPLE_RATE
from benchmarks.experiments.tempo_level import LevelScorer, candidate_features, candidate_tempi, shipped_scorer
from training.evaluation.tempo_eval import stretch_consistent

HARMONY_FFT = 2048  # 7.8 Hz bins at 16 kHz: semitones apart from about 130 Hz up
HARMONY_FRAMES_PER_SECOND = 50  # half the onset rate (the FFT is 8x longer); the envelope is interpolated to 100/s
HARMONY_LOW_HZ, HARMONY_HIGH_HZ = 100.0, 4000.0
QUIET_SHARE = 0.05  # a frame under this share of the median frame energy keeps the last profile
NOVELTY_FRAMES = 3  # profiles averaged over 60 ms each side of a frame


def harmony_envelope(audio: np.ndarray, rate: int = TEMPO_SAMPLE_RATE) -> np.ndarray:
    """Harmonic-change envelope (frames,) at ``tempo.FRAMES_PER_SECOND`` of mono ``audio``."""
    hop = rate / HARMONY_FRAMES_PER_SECOND
    count = int((audio.size - HARMONY_FFT) // hop) + 1
    if count < 2 * NOVELTY_FRAMES + 2:
        return np.zeros(1, dtype=np.float32)
    starts = np.round(np.arange(count) * hop).astype(np.int64)
    frames = np.lib.stride_tricks.sliding_window_view(audio, HARMONY_FFT)[starts] * np.hanning(HARMONY_FFT).astype(np.float32)
    spectrum = np.fft.rfft(frames, axis=1)
    frequencies = np.arange(HARMONY_FFT // 2 + 1) * rate / HARMONY_FFT
    chosen = np.where((frequencies >= HARMONY_LOW_HZ) & (frequencies <= HARMONY_HIGH_HZ))[0]
    classes = np.round(69 + 12 * np.log2(frequencies[chosen] / 440.0)).astype(np.int64) % 12
    power = spectrum.real[:, chosen] ** 2 + spectrum.imag[:, chosen] ** 2
    profiles = np.zeros((count, 12), dtype=np.float64)
    for pitch_class in range(12):
        profiles[:, pitch_class] = power[:, classes == pitch_class].sum(axis=1)
    profiles = np.sqrt(profiles)  # magnitude: one loud partial should not outvote a chord
    energy = profiles.sum(axis=1)
    audible = energy > QUIET_SHARE * max(float(np.median(energy[energy > 0])) if np.any(energy > 0) else 0.0, 1e-12)
    normalised = np.zeros_like(profiles)
    last = np.full(12, 1.0 / 12)
    for index in range(count):  # quiet frames hold the last audible profile
        if audible[index]:
            last = profiles[index] / energy[index]
        normalised[index] = last
    cumulative = np.vstack([np.zeros(12), np.cumsum(normalised, axis=0)])
    k = NOVELTY_FRAMES
    centres = np.arange(k, count - k + 1)
    before = (cumulative[centres] - cumulative[centres - k]) / k
    after = (cumulative[centres + k] - cumulative[centres]) / k
    novelty = np.zeros(count)
    novelty[centres] = 0.5 * np.abs(after - before).sum(axis=1)
    width = max(1, int(round(tempo.HIGH_PASS_SECONDS * HARMONY_FRAMES_PER_SECOND)))
    novelty = np.maximum(novelty - np.convolve(novelty, np.ones(width) / width, mode="same"), 0.0)
    times = (starts + HARMONY_FFT / 2) / rate
    target = np.arange(int(times[-1] * tempo.FRAMES_PER_SECOND)) / tempo.FRAMES_PER_SECOND
    return np.interp(target, times, novelty, left=0.0, right=0.0).astype(np.float32)


def correlations_of(audio: np.ndarray) -> np.ndarray:
    """(2, lags): the shipped envelope's autocorrelation and the harmony envelope's."""
    return np.stack([_fixed_length(tempo.autocorrelation(tempo.onset_strength(audio, TEMPO_SAMPLE_RATE))),
                     _fixed_length(tempo.autocorrelation(harmony_envelope(audio)))])


def file_correlations(path: str) -> np.ndarray | None:
    audio = middle_audio(Path(path))
    return None if audio is None else correlations_of(audio)


def proposal(correlations: dict, with_harmony: bool) -> tuple[np.ndarray, np.ndarray]:
    """The shipped candidates and features, plus (``with_harmony``) the harmony envelope's comb features at them."""
    shipped = correlations["shipped"]
    strongest_bpm, strongest_salience = tempo.strongest_comb(shipped)
    candidates = candidate_tempi(strongest_bpm, tempo.MIN_BPM, tempo.MAX_BPM)
    columns = [candidate_features(shipped, candidates, strongest_salience, tempo.FRAMES_PER_SECOND,
                                  tempo.COMB_MULTIPLES)]
    if with_harmony:
        own = max(tempo.strongest_comb(correlations["harmony"])[1], 1e-9)
        columns.append(candidate_features(correlations["harmony"], candidates, own, tempo.FRAMES_PER_SECOND,
                                          tempo.COMB_MULTIPLES)[:, 2:])
    return candidates, np.concatenate(columns, axis=1)


def as_dict(stacked: np.ndarray) -> dict:
    return {"shipped": stacked[0], "harmony": stacked[1]}


def estimate(scorer: LevelScorer, correlations: dict, with_harmony: bool) -> float:
    candidates, features = proposal(correlations, with_harmony)
    if not candidates.size:
        return 0.0
    return tempo.refined(correlations["shipped"], float(candidates[int(np.argmax(scorer.scores(features)))]))


def judged(scorer: LevelScorer, clips: list[dict], correlations: dict, pairs: list, stretch: dict,
           with_harmony: bool) -> dict:
    """Generated val and all chorales (Acc1/Acc2), val stretch consistency, unit-signal misses."""
    result: dict = {}
    for corpus, splits in (("generated", ("val",)), ("chorales", ("train", "val"))):
        chosen = [clip for clip in clips if clip["corpus"] == corpus and clip["split"] in splits]
        estimates = [estimate(scorer, correlations[clip["path"]], with_harmony) for clip in chosen]
        result[corpus] = scores(estimates, [clip["bpm"] for clip in chosen], [clip["drums"] for clip in chosen])
        result[corpus]["clips"] = len(chosen)
    consistent = []
    for original, changed, factor in pairs:
        if original in stretch and changed in stretch:
            found = [estimate(scorer, stretch[key], with_harmony) for key in (original, changed)]
            consistent.append(stretch_consistent(found[0], found[1], factor))
    result["stretch_consistency"] = float(np.mean(consistent)) if consistent else float("nan")
    result["stretch_pairs"] = len(consistent)
    misses = []
    for maker, bpm, audio in unit_signals():
        found = estimate(scorer, as_dict(correlations_of(audio)), with_harmony)
        if abs(found / bpm - 1.0) > 0.01:
            misses.append(f"{maker} {bpm:g} -> {found:.1f}")
    result["unit_signal_misses"] = misses
    return result


def fitted(clips: list[dict], correlations: dict, with_harmony: bool) -> tuple[LevelScorer, dict]:
    """Fitted on the generated train clips (stretched); the size best on the generated val clips."""
    train = stretched([("train", clip["bpm"], correlations[clip["path"]]) for clip in clips
                       if clip["split"] == "train" and clip["corpus"] == "generated"])
    sets = []
    for _, bpm, correlation in train:
        candidates, features = proposal(correlation, with_harmony)
        sets.append((candidates, features, np.abs(candidates / bpm - 1.0) <= TOLERANCE))
    val = [clip for clip in clips if clip["split"] == "val" and clip["corpus"] == "generated"]
    return best_size(sets, lambda scorer: sum(
        abs(estimate(scorer, correlations[clip["path"]], with_harmony) / clip["bpm"] - 1.0) <= TOLERANCE
        for clip in val))


def main() -> None:
    parser = corpus_arguments(__doc__, Path("tempo_harmony"))
    parser.add_argument("--seeds", type=int, default=5)
    options = parser.parse_args()
    clips = labelled_records(options.generated, options.scores)
    stacked = cached_correlations([clip["path"] for clip in clips], file_correlations, options.cache)
    correlations = {key: as_dict(value) for key, value in stacked.items()}
    clips = [clip for clip in clips if clip["path"] in correlations]
    pairs = stretch_keys(options.debian)
    stretch_cache = None if options.cache is None else options.cache.with_name(options.cache.stem + "_stretch.npz")
    keys = sorted({key for original, changed, _ in pairs for key in (original, changed)})
    stretch = {key: as_dict(value) for key, value in
               cached_correlations(keys, partial(stretched_correlation, correlation=correlations_of),
                                   stretch_cache).items()}
    options.out_dir.mkdir(parents=True, exist_ok=True)
    print(json.dumps({"variant": "shipped", **judged(shipped_scorer(), clips, correlations, pairs, stretch, False)}),
          flush=True)
    fits: dict[str, list[LevelScorer]] = {}
    for seed in range(options.seeds):
        training.SEED = seed
        for name, with_harmony in (("refit", False), ("harmony", True)):
            scorer, how = fitted(clips, correlations, with_harmony)
            fits.setdefault(name, []).append(scorer)
            (options.out_dir / f"level_{name}_seed{seed}.json").write_text(json.dumps(scorer.to_json()) + "\n",
                                                                         encoding="utf-8")
            print(json.dumps({"variant": name, "seed": seed, **how,
                              **judged(scorer, clips, correlations, pairs, stretch, with_harmony)}), flush=True)
    for name, scorers in fits.items():
        scorer = training.ensemble(scorers)
        (options.out_dir / f"level_{name}_ensemble.json").write_text(json.dumps(scorer.to_json()) + "\n",
                                                                     encoding="utf-8")
        print(json.dumps({"variant": name, "seed": f"mean of {len(scorers)} fits",
                          **judged(scorer, clips, correlations, pairs, stretch, name == "harmony")}), flush=True)


if __name__ == "__main__":
    main()
