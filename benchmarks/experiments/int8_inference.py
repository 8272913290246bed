"""Int8 convolutions in the inference network: how much CPU they save per file, and what they change (validation
only, nothing shipped).

Issue 15 asks for half the fixed CPU cost per file; the convolutions are most of it and already run near one AVX2
core's FP32 peak (BENCHMARKS.md, "Fixed cost per file"). Reduced precision is the lever left that keeps the network
and its windows. Each of the encoder's convolution blocks (after ``engine.analyzer.fold_for_inference``: convolution
with its batch norm folded in, max-pool, ReLU) is quantised with PyTorch's FX graph mode (x86 backend: int8
weights per channel, int8 activations from histogram observers), calibrated on training clips; the spectrogram, the
embedding and key paths and the heads stay float. The same ``Analyzer`` then analyses each validation clip as
indexing lays it out (``engine.key_audio.layout_from_samples``: analysis windows, the key's further windows, semitone
copies for close calls), once in float and once with int8 blocks.

Reported: CPU per clip (one thread, the least of ``--runs`` passes), embedding cosine between the two, how many of
each clip's 10 nearest neighbours stay, key agreement and MIREX against the labels (generated clips), the largest
tag probability change. Run from the repository root:

    python -m benchmarks.experiments.int8_inference --generated ../data/generated/manifest.jsonl \
        --debian ../data/debian/manifest.jsonl --out ../data/int8_inference.json
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.ao.quantization import get_default_qconfig_mapping, quantize_fx

from engine.analyzer import Analyzer
from engine.audio import decode_mono
from engine.key_audio import layout_from_samples
from engine.keys import key_from_index, parse_key
from engine.model_folder import load_model
from engine.model_spec import DEFAULT_MODEL_DIR
from engine.track_analysis import DEFAULT_MAX_WINDOWS, TrackAnalysis
from training.evaluation.metrics import mirex_scores

BACKEND = "x86"
CLIP_SECONDS = 30.0  # the middle of a longer track, as the tempo reads it: the product's layout of a short file
NEIGHBOURS = 10


def middle_samples(path: str, rate: int) -> np.ndarray:
    """The middle ``CLIP_SECONDS`` of a file (all of a shorter one) at ``rate``."""
    samples = decode_mono(path, rate)
    extra = samples.size - int(CLIP_SECONDS * rate)
    return samples if extra <= 0 else samples[extra // 2 : extra // 2 + int(CLIP_SECONDS * rate)]


def manifest_records(manifest: Path, split: str, limit: int) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    chosen = [record for record in records if record.get("split") == split]
    return chosen[:limit]


def record_path(record: dict[str, Any], manifest: Path) -> str:
    path = Path(record["path"])
    return str(path if path.is_absolute() and path.exists() else manifest.parent / record["relative_path"])


def layouts(analyzer: Analyzer, clips: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [layout_from_samples(samples, analyzer.sample_rate, analyzer.window_samples, DEFAULT_MAX_WINDOWS)
            for samples in clips]


def int8_analyzer(analyzer: Analyzer, calibration: list[tuple[np.ndarray, np.ndarray]],
                  positions: list[int]) -> Analyzer:
    """A copy of ``analyzer`` whose encoder's convolution blocks at ``positions`` run in int8, calibrated on
    ``calibration`` layouts read as indexing reads them (every block sees the windows and key windows it will see)."""
    torch.backends.quantized.engine = BACKEND
    quantised = copy.copy(analyzer)
    quantised.network = copy.deepcopy(analyzer.network)
    blocks = quantised.network.encoder.blocks
    example = torch.zeros(1, 1, 1, 1).to(memory_format=torch.channels_last)
    for position in positions:
        blocks[position] = quantize_fx.prepare_fx(blocks[position], get_default_qconfig_mapping(BACKEND), (example,))
    for windows, extras in calibration:
        quantised.analyze_windows(windows, extras)
    for position in positions:
        blocks[position] = quantize_fx.convert_fx(blocks[position])
    return quantised


def analyse(analyzer: Analyzer, clip_layouts: list[tuple[np.ndarray, np.ndarray]]) -> list[TrackAnalysis]:
    return [analyzer.analyze_windows(windows, extras) for windows, extras in clip_layouts]


def cpu_ms_per_clip(analyzer: Analyzer, clip_layouts: list[tuple[np.ndarray, np.ndarray]], runs: int) -> float:
    """The least CPU of ``runs`` passes over the clips, per clip (one torch thread: ``analyze_windows``)."""
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        analyse(analyzer, clip_layouts)
        best = min(best, time.process_time() - start)
    return 1000.0 * best / len(clip_layouts)


def neighbour_overlap(first: np.ndarray, second: np.ndarray, count: int = NEIGHBOURS) -> float:
    """Mean share of each clip's ``count`` nearest clips (cosine, itself excluded) that both embeddings agree on."""
    def nearest(embeddings: np.ndarray) -> np.ndarray:
        similarities = embeddings @ embeddings.T
        np.fill_diagonal(similarities, -np.inf)
        return np.argsort(-similarities, axis=1)[:, :count]

    a, b = nearest(first), nearest(second)
    return float(np.mean([len(set(row_a) & set(row_b)) / count for row_a, row_b in zip(a, b)]))


def comparison(float_runs: list[TrackAnalysis], int8_runs: list[TrackAnalysis],
               labels: list[str] | None) -> dict[str, Any]:
    first = np.stack([run.embedding for run in float_runs])
    second = np.stack([run.embedding for run in int8_runs])
    cosines = np.sum(first * second, axis=1)
    keys_float = [int(np.argmax(run.key_probs)) for run in float_runs]
    keys_int8 = [int(np.argmax(run.key_probs)) for run in int8_runs]
    result = {
        "clips": len(float_runs),
        "embedding_cosine_min": float(cosines.min()), "embedding_cosine_median": float(np.median(cosines)),
        "neighbours_kept": neighbour_overlap(first, second),
        "key_agreement": float(np.mean(np.equal(keys_float, keys_int8))),
        "key_probability_change_max": float(max(np.abs(a.key_probs - b.key_probs).max()
                                               for a, b in zip(float_runs, int8_runs))),
        "tag_probability_change_max": float(max(np.abs(a.tag_probs - b.tag_probs).max()
                                               for a, b in zip(float_runs, int8_runs))),
    }
    if labels is not None:
        truth = [parse_key(label) for label in labels]
        for name, keys in (("float", keys_float), ("int8", keys_int8)):
            result[f"mirex_{name}"] = float(np.mean(mirex_scores([key_from_index(k) for k in keys], truth)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generated", type=Path, required=True, help="the generated corpus's manifest.jsonl")
    parser.add_argument("--debian", type=Path, required=True, help="the Debian corpus's manifest.jsonl")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--calibration-clips", type=int, default=24, help="per corpus, from its train split")
    parser.add_argument("--clips", type=int, default=151, help="per corpus, from its val split")
    parser.add_argument("--runs", type=int, default=3, help="timed passes (the least is kept)")
    parser.add_argument("--blocks", type=int, nargs="+", default=[0, 1, 2, 3], help="which blocks run in int8")
    parser.add_argument("--out", type=Path, required=True)
    arguments = parser.parse_args()
    torch.set_num_threads(1)

    analyzer = Analyzer(load_model(arguments.model))
    rate = analyzer.sample_rate

    def clips_of(manifest: Path, split: str, limit: int) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
        records = manifest_records(manifest, split, limit)
        return [middle_samples(record_path(record, manifest), rate) for record in records], records

    calibration = []
    for manifest in (arguments.generated, arguments.debian):
        calibration += layouts(analyzer, clips_of(manifest, "train", arguments.calibration_clips)[0])
    quantised = int8_analyzer(analyzer, calibration, arguments.blocks)

    report: dict[str, Any] = {"backend": BACKEND, "calibration_layouts": len(calibration), "blocks": arguments.blocks}
    for name, manifest in (("generated_val", arguments.generated), ("debian_val", arguments.debian)):
        clips, records = clips_of(manifest, "val", arguments.clips)
        clip_layouts = layouts(analyzer, clips)
        labels = [record["key"] for record in records] if all("key" in record for record in records) else None
        report[name] = comparison(analyse(analyzer, clip_layouts), analyse(quantised, clip_layouts), labels)
        timed = clip_layouts[:40]
        report[name]["cpu_ms_per_clip_float"] = cpu_ms_per_clip(analyzer, timed, arguments.runs)
        report[name]["cpu_ms_per_clip_int8"] = cpu_ms_per_clip(quantised, timed, arguments.runs)
        print(name, json.dumps(report[name], indent=1), flush=True)
    arguments.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
