"""What bringing every window to one loudness (``engine.window_level``) does, on validation material only: the
product's analyses (``engine.analyzer.Analyzer``, windows where ``engine index`` puts them) with and without it
(``LogFrequencySpectrogram.levels_input``).

- same-soundtrack retrieval of the game music's ``--split`` tracks at their own levels, and with each track played
  at a gain drawn from ``GAINS_DB`` (a library of masters of many loudnesses);
- a quieter copy of each track (``GAINS_DB`` below 0) queried against the tracks at their own levels: how often its
  original comes first, and the mean cosine to it;
- the shown tags (the model's calibration) that turn on or off between a track and its quieter copies;
- the key (MIREX) of the rendered and generated ``--split`` pieces, at their levels and 12 dB quieter.

From the repository root (a few minutes on one core):
    python -m benchmarks.experiments.window_level --model resources/models/default \\
        --debian ../data/debian/manifest.jsonl --manifest ../data/scores/manifest.jsonl \\
        --manifest ../data/generated/manifest.jsonl --split val
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from engine.analyzer import Analyzer
from engine.audio import AudioDecodeError, decode_mono, read_windows
from engine.key_audio import layout_from_samples
from engine.keys import key_from_index
from engine.model_folder import load_model
from engine.tag_calibration import load_tag_calibration
from training.corpora.manifest import read_manifest, record_audio_path
from training.evaluation.metrics import mirex_scores, per_query_label_retrieval

GAINS_DB = (0.0, -6.0, -12.0, -20.0)
KEY_GAIN_DB = -12.0


def _gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def track_analyses(analyzer: Analyzer, windows: list[np.ndarray], gains_db: list[float]):
    return analyzer.analyze_tracks([w * _gain(g) for w, g in zip(windows, gains_db)], with_key=False)


def similarity_measures(analyzer: Analyzer, windows: list[np.ndarray], labels: list[str], shown: dict[str, float],
                        tag_names: list[str], seed: int) -> dict[str, float]:
    own = track_analyses(analyzer, windows, [0.0] * len(windows))
    vectors = np.stack([a.embedding for a in own])
    r_precision, average_precision = per_query_label_retrieval(vectors, labels)
    drawn = list(np.random.default_rng(seed).choice(GAINS_DB, size=len(windows)))
    mixed = np.stack([a.embedding for a in track_analyses(analyzer, windows, drawn)])
    mixed_r, mixed_ap = per_query_label_retrieval(mixed, labels)
    result = {"r_precision": float(r_precision.mean()), "map": float(average_precision.mean()),
              "r_precision_mixed_levels": float(mixed_r.mean()), "map_mixed_levels": float(mixed_ap.mean())}
    own_tags = np.stack([a.tag_probs for a in own])
    for gain in GAINS_DB[1:]:
        quiet = track_analyses(analyzer, windows, [gain] * len(windows))
        copies = np.stack([a.embedding for a in quiet])
        similarities = copies @ vectors.T  # every copy against the library at its own levels
        result[f"copy_{gain:+.0f}dB_original_first"] = float(np.mean(similarities.argmax(axis=1) == np.arange(len(copies))))
        result[f"copy_{gain:+.0f}dB_cosine_to_original"] = float(np.mean(np.diag(similarities)))
        quiet_tags = np.stack([a.tag_probs for a in quiet])
        flips = [np.mean((own_tags[:, tag_names.index(name)] >= threshold)
                         != (quiet_tags[:, tag_names.index(name)] >= threshold)) for name, threshold in shown.items()]
        result[f"copy_{gain:+.0f}dB_shown_tag_flips"] = float(np.mean(flips)) if flips else 0.0
    return result


def key_measures(analyzer: Analyzer, pieces: list[tuple[np.ndarray, object]]) -> dict[str, float]:
    config = analyzer.model.config
    result = {}
    for gain in (0.0, KEY_GAIN_DB):
        estimated = []
        for samples, _ in pieces:
            windows, extras = layout_from_samples(samples * _gain(gain), config.sample_rate, config.window_samples,
                                                  analyzer.max_windows)
            estimated.append(key_from_index(int(analyzer.analyze_windows(windows, extras).key_probs.argmax())))
        result[f"key_mirex_{gain:+.0f}dB"] = float(np.mean(mirex_scores(estimated, [key for _, key in pieces])))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--debian", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, action="append", default=[], help="labelled key pieces")
    parser.add_argument("--split", default="val")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    arguments = parser.parse_args()
    loaded = load_model(arguments.model)
    rate, window_samples = loaded.config.sample_rate, loaded.config.window_samples
    calibration = load_tag_calibration(arguments.model) or {}
    shown = {name: entry.threshold for name, entry in calibration.items() if entry.shown}
    tag_names = loaded.config.tag_names
    windows, labels = [], []
    for record in read_manifest(arguments.debian):
        if record.get("split") != arguments.split:
            continue
        try:
            windows.append(read_windows(record["path"], rate, window_samples, 6).windows)
        except AudioDecodeError:
            continue
        labels.append(record["soundtrack"])
    pieces = []
    for manifest in arguments.manifest:
        for record in read_manifest(manifest):
            if record.get("split") == arguments.split and "key_index" in record:
                pieces.append((decode_mono(record_audio_path(record, manifest), rate), key_from_index(int(record["key_index"]))))
    report = {}
    for name, levelled in (("as before", False), ("levelled windows", True)):
        model = load_model(arguments.model)  # its own network: the analyzer folds it once, with this setting
        model.network.encoder.frontend.levels_input = levelled
        analyzer = Analyzer(model)
        report[name] = {**similarity_measures(analyzer, windows, labels, shown, tag_names, arguments.seed),
                        **key_measures(analyzer, pieces)}
        print(name, json.dumps(report[name], indent=1), flush=True)
    report["tracks"], report["key_pieces"] = len(windows), len(pieces)
    if arguments.out:
        arguments.out.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
