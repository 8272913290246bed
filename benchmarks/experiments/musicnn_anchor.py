"""musicnn's pretrained taggers (Pons & Serra, PyPI ``musicnn``) as track embeddings on the held-out soundtracks:
the eval-only anchor of issue #20, "the model a user would pick instead", scored with the evaluation's own
same-soundtrack R-precision / mAP, bootstrap intervals and paired differences.

Why our own extraction: musicnn's ``extractor`` casts the mel power spectrogram to float16 before ``10000 * S``,
which overflows to inf on loud bins, and its ``penultimate`` (and cnn1–3) output repeats the first batch's values
for every later patch. Here the input is musicnn's (16 kHz, mel 512/256/96 bins, log10(10000 S + 1)) in float32,
cut into its non-overlapping 3 s patches (187 frames), and each patch runs through the checkpoint's graph
(``musicnn.models.define_model``, weights from the wheel); a track's vector per layer is the mean over its patches.
Nothing here is a product dependency.

Two steps, two environments (musicnn needs TensorFlow with the legacy Keras, kept out of the project's venv; its
PyPI release pins an old NumPy that does not build on Python 3.11, so it is installed without its dependencies):
    python3 -m venv /work/musicnn_venv && /work/musicnn_venv/bin/pip install tensorflow-cpu tf_keras librosa soundfile \
        && /work/musicnn_venv/bin/pip install --no-deps musicnn
    /work/musicnn_venv/bin/python benchmarks/experiments/musicnn_anchor.py extract \
        --manifest ../data/debian/manifest.jsonl --split test --out ../data/eval/musicnn_anchor/vectors.npz
    .venv/bin/python -m benchmarks.experiments.musicnn_anchor score \
        --vectors ../data/eval/musicnn_anchor/vectors.npz --manifest ../data/debian/manifest.jsonl \
        --report ../data/eval/v131_full/evaluation.json --out ../data/eval/musicnn_anchor/scores.json
``score`` recomputes the log-mel statistics baseline exactly as ``engine eval`` does (tracks and their 96 kbps
excerpts, z-scored together, seed 5) and, given an ``engine eval`` report of the same tracks, pairs against the
shipped model's per-item values. Both steps use one thread.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # musicnn's tf.compat.v1.layers need tf_keras
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

SAMPLE_RATE = 16000
FFT_SIZE = 512
FFT_HOP = 256
MEL_BANDS = 96
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
LOG_SCALE = 10000.0
BATCH_PATCHES = 32
MODELS = ("MSD_musicnn", "MTT_musicnn")
LAYERS = ("penultimate", "mean_pool", "max_pool", "tags")
SEED = 5  # engine eval's seed: the same 96 kbps excerpts for the log-mel baseline


# --- manifest --------------------------------------------------------------------------------------------------

def read_records(manifest: Path, split: str) -> list[dict[str, Any]]:
    """The manifest's records of ``split``, in file order (the order ``engine eval`` scores them in)."""
    with manifest.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    return [record for record in records if record.get("split") == split]


def located(path: str, manifest: Path) -> Path:
    """Corpus paths are absolute or relative to the folder holding data/ (three levels above the manifest)."""
    for candidate in (Path(path), manifest.parent / path, manifest.resolve().parent.parent.parent / path):
        if candidate.exists():
            return candidate
    return Path(path)


def soundtrack_of(record: dict[str, Any]) -> str:
    """The retrieval label: the soundtrack, else the Debian package."""
    return str(record.get("soundtrack") or record["package"])


# --- extract (musicnn venv) ------------------------------------------------------------------------------------

def decode(path: Path, duration: float, max_minutes: float | None) -> np.ndarray:
    """Mono float32 at 16 kHz: the whole track, or its middle ``max_minutes``."""
    import librosa

    offset, length = 0.0, None
    if max_minutes is not None and duration > 60.0 * max_minutes:
        length = 60.0 * max_minutes
        offset = (duration - length) / 2
    audio, _ = librosa.load(path, sr=SAMPLE_RATE, mono=True, offset=offset, duration=length)
    return audio.astype(np.float32)


def mel_power(audio: np.ndarray) -> np.ndarray:
    """(frames, MEL_BANDS) mel power spectrogram with musicnn's parameters."""
    import librosa

    return librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, n_fft=FFT_SIZE, hop_length=FFT_HOP,
                                          n_mels=MEL_BANDS).T.astype(np.float32)


def musicnn_input(mel: np.ndarray) -> np.ndarray:
    """musicnn's log compression, log10(10000 S + 1), kept in float32."""
    return np.log10(LOG_SCALE * mel + 1.0, dtype=np.float32)


def float16_overflow_share(mel: np.ndarray) -> float:
    """Share of bins where musicnn's own float16 path gives inf (what its extractor would feed the model)."""
    with np.errstate(over="ignore"):
        return float(np.isinf(mel.astype(np.float16) * np.float16(LOG_SCALE)).mean())


def patches(log_mel: np.ndarray) -> np.ndarray:
    """(patches, PATCH_FRAMES, MEL_BANDS): non-overlapping 3 s patches, the tail dropped as musicnn does;
    a track shorter than one patch is repeated to fill it (musicnn's training "repeat-pad")."""
    if log_mel.shape[0] < PATCH_FRAMES:
        log_mel = np.tile(log_mel, (int(np.ceil(PATCH_FRAMES / max(1, log_mel.shape[0]))), 1))[:PATCH_FRAMES]
    count = log_mel.shape[0] // PATCH_FRAMES
    return log_mel[: count * PATCH_FRAMES].reshape(count, PATCH_FRAMES, MEL_BANDS)


class MusicnnModel:
    """One musicnn checkpoint in its own TF1 graph and single-threaded session."""

    def __init__(self, name: str) -> None:
        import musicnn
        import tensorflow as tf
        from musicnn import configuration, models

        self.name = name
        self.tag_names = list(configuration.MSD_LABELS if name.startswith("MSD") else configuration.MTT_LABELS)
        self.graph = tf.Graph()
        with self.graph.as_default():
            with tf.name_scope("model"):
                self.input = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, MEL_BANDS])
                self.training = tf.compat.v1.placeholder(tf.bool)
                outputs = models.define_model(self.input, self.training, name, len(self.tag_names))
            logits, mean_pool, max_pool, penultimate = outputs[0], outputs[6], outputs[7], outputs[8]
            self.outputs = {"penultimate": penultimate, "mean_pool": mean_pool, "max_pool": max_pool,
                            "tags": tf.nn.sigmoid(logits)}
            config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
            self.session = tf.compat.v1.Session(graph=self.graph, config=config)
            tf.compat.v1.train.Saver().restore(self.session, str(Path(musicnn.__file__).parent / name) + "/")

    def activations(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """(patches, 187, 96) → each layer's per-patch activations (patches, dims), in batches."""
        pieces: dict[str, list[np.ndarray]] = {layer: [] for layer in LAYERS}
        for start in range(0, batch.shape[0], BATCH_PATCHES):
            feed = {self.input: batch[start:start + BATCH_PATCHES], self.training: False}
            for layer, values in self.session.run(self.outputs, feed_dict=feed).items():
                pieces[layer].append(values.reshape(values.shape[0], -1))
        return {layer: np.concatenate(values) for layer, values in pieces.items()}


def top_tags(probabilities: np.ndarray, tag_names: list[str], count: int = 5) -> str:
    """The ``count`` most likely tags of a track's mean tag probabilities, with their values."""
    order = np.argsort(-probabilities)[:count]
    return ", ".join(f"{tag_names[i]} {probabilities[i]:.2f}" for i in order)


def extract(arguments: argparse.Namespace) -> None:
    """Write the track vectors of every model and layer for one split to ``--out``."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.compat.v1.disable_eager_execution()
    records = read_records(arguments.manifest, arguments.split)[: arguments.limit]
    networks = [MusicnnModel(name) for name in arguments.models]
    vectors: dict[str, list[np.ndarray]] = {f"{n.name}/{layer}": [] for n in networks for layer in LAYERS}
    ids, labels, seconds, patch_counts, overflow = [], [], [], [], []
    for number, record in enumerate(records, 1):
        started = time.perf_counter()
        audio = decode(located(record["path"], arguments.manifest), float(record["duration"]), arguments.max_minutes)
        mel = mel_power(audio)
        batch = patches(musicnn_input(mel))
        summary = []
        for network in networks:
            for layer, values in network.activations(batch).items():
                vectors[f"{network.name}/{layer}"].append(values.mean(axis=0))
            summary.append(f"{network.name}: {top_tags(vectors[f'{network.name}/tags'][-1], network.tag_names)}")
        ids.append(str(record["path"]))
        labels.append(soundtrack_of(record))
        seconds.append(time.perf_counter() - started)
        patch_counts.append(batch.shape[0])
        overflow.append(float16_overflow_share(mel))
        print(f"[{number}/{len(records)}] {record['path']} ({labels[-1]}, {record['duration']:.0f} s audio, "
              f"{batch.shape[0]} patches, {seconds[-1]:.1f} s; float16 path inf in {100 * overflow[-1]:.1f} % "
              f"of bins)\n    " + "\n    ".join(summary), flush=True)
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(arguments.out, ids=np.array(ids), labels=np.array(labels), seconds=np.array(seconds),
             patches=np.array(patch_counts), float16_inf_share=np.array(overflow),
             **{key: np.stack(values).astype(np.float32) for key, values in vectors.items()},
             **{f"{n.name}/tag_names": np.array(n.tag_names) for n in networks})
    audio_seconds = sum(float(r["duration"]) for r in records)
    print(f"{len(ids)} tracks, {sum(seconds):.0f} s in all ({np.mean(seconds):.1f} s per track, "
          f"{sum(seconds) / audio_seconds * 3600:.0f} s per hour of audio, {len(networks)} model(s), 1 thread) "
          f"→ {arguments.out}")


# --- score (project venv) --------------------------------------------------------------------------------------

def logmel_baseline(records: list[dict[str, Any]], manifest: Path) -> tuple[list[str], np.ndarray]:
    """``engine eval``'s log-mel statistics of these tracks (ids, vectors): whole tracks z-scored together with
    their seeded 96 kbps excerpts, so the figure is the report's own."""
    import random

    from engine.audio import AudioDecodeError, decode_mono
    from training.evaluation.evaluate import EvaluationSettings, draw_excerpt_and_shifts
    from training.evaluation.logmel_embedding import logmel_statistics, standardised

    sample_rate, rng = EvaluationSettings().sample_rate, random.Random(SEED)
    ids, tracks, excerpts = [], [], []
    for record in records:
        try:
            track = decode_mono(located(record["path"], manifest), sample_rate)
        except AudioDecodeError:
            continue
        excerpt, _ = draw_excerpt_and_shifts(track, sample_rate, rng)
        ids.append(str(record["path"]))
        tracks.append(logmel_statistics(track, sample_rate))
        excerpts.append(logmel_statistics(excerpt, sample_rate))
    return ids, standardised(np.vstack(tracks + excerpts))[: len(tracks)]


def shipped_model_items(report: Path) -> dict[str, dict[str, Any]]:
    """The shipped model's per-item same-soundtrack entries in an ``engine eval`` report."""
    similarity = json.loads(report.read_text(encoding="utf-8"))["soundtracks"]["similarity"]["model"]
    return {"shipped_16_windows": similarity["same_soundtrack"]["per_item"],
            "shipped_stored_vectors": similarity["library_excerpt_96kbps"]["same_soundtrack"]["per_item"]}


def embeddings_to_score(vectors: np.lib.npyio.NpzFile) -> dict[str, np.ndarray]:
    """Every model/layer array of the extraction, raw and z-scored over the evaluated tracks."""
    from training.evaluation.logmel_embedding import standardised

    arrays = {}
    for key in vectors.files:
        if "/" in key and not key.endswith("/tag_names"):
            arrays[f"{key} raw"] = vectors[key].astype(np.float64)
            arrays[f"{key} z"] = standardised(vectors[key].astype(np.float64))
    return arrays


def score(arguments: argparse.Namespace) -> None:
    """Same-soundtrack R-precision / mAP with intervals for each layer, and paired differences."""
    import torch

    from training.evaluation.bootstrap import retrieval_difference, retrieval_with_intervals
    from training.evaluation.metrics import per_query_label_retrieval
    from training.evaluation.per_item import queried_items

    torch.set_num_threads(1)
    vectors = np.load(arguments.vectors)
    ids, labels = [str(i) for i in vectors["ids"]], [str(label) for label in vectors["labels"]]
    per_query = {name: per_query_label_retrieval(array, labels) for name, array in embeddings_to_score(vectors).items()}
    if not arguments.skip_logmel:
        records = {str(r["path"]): r for r in read_records(arguments.manifest, arguments.split)}
        baseline_ids, baseline = logmel_baseline([records[i] for i in ids], arguments.manifest)
        if baseline_ids != ids:
            raise SystemExit("the log-mel baseline decoded other tracks than the extraction holds")
        per_query["logmel_stats"] = per_query_label_retrieval(baseline, labels)
    queried = queried_items(ids, labels)
    references = {name: per_query[name] for name in ("logmel_stats",) if name in per_query}
    if arguments.report:
        for name, entry in shipped_model_items(arguments.report).items():
            if entry["r_precision"]["ids"] != queried or entry["map"]["ids"] != queried:
                print(f"{name}: the report's items differ from these tracks; not paired", file=sys.stderr)
                continue
            references[name] = (np.asarray(entry["r_precision"]["values"]), np.asarray(entry["map"]["values"]))
    results = {}
    for name, values in {**per_query, **references}.items():
        results[name] = retrieval_with_intervals(*values)
        for reference, reference_values in references.items():
            if reference != name:
                results[name][f"minus_{reference}"] = retrieval_difference(values, reference_values)
    summary = {"tracks": len(ids), "soundtracks": sorted(set(labels)), "vectors": str(arguments.vectors),
               "extraction_seconds_per_track": float(np.mean(vectors["seconds"])), "results": results}
    print(table(results, list(references)))
    if arguments.out:
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(json.dumps(summary, indent=1), encoding="utf-8")


def _percent(mean: float, interval: list[float], signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{100 * mean:{sign}.1f} [{100 * interval[0]:{sign}.1f}, {100 * interval[1]:{sign}.1f}]"


def table(results: dict[str, dict[str, Any]], references: list[str]) -> str:
    """Markdown rows: R-precision and mAP with intervals, and the R-precision difference to each reference."""
    header = "| embedding | R-precision % | mAP % | " + " | ".join(f"R-prec. minus {r} (points)" for r in references)
    rows = [header + " |", "|---" * (3 + len(references)) + "|"]
    for name, entry in results.items():
        differences = [(_percent(entry[f"minus_{r}"]["r_precision"]["mean"], entry[f"minus_{r}"]["r_precision"]["ci95"],
                                 signed=True) if f"minus_{r}" in entry else "") for r in references]
        rows.append(f"| {name} | {_percent(entry['r_precision'], entry['r_precision_ci95'])} | "
                    f"{_percent(entry['map'], entry['map_ci95'])} | " + " | ".join(differences) + " |")
    return "\n".join(rows)


# --- command line ----------------------------------------------------------------------------------------------

def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    extracting = modes.add_parser("extract", help="musicnn track vectors (run with the musicnn venv)")
    extracting.add_argument("--manifest", required=True, type=Path)
    extracting.add_argument("--split", default="test")
    extracting.add_argument("--out", required=True, type=Path, help=".npz of ids, labels and one array per layer")
    extracting.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    extracting.add_argument("--max-minutes", type=float, default=None, help="only the middle N minutes of a track")
    extracting.add_argument("--limit", type=int, default=None, help="first N tracks only (a sanity run)")
    scoring = modes.add_parser("score", help="same-soundtrack retrieval of the vectors (run with the project venv)")
    scoring.add_argument("--vectors", required=True, type=Path)
    scoring.add_argument("--manifest", required=True, type=Path)
    scoring.add_argument("--split", default="test")
    scoring.add_argument("--report", type=Path, default=None, help="an engine eval evaluation.json of the same tracks")
    scoring.add_argument("--skip-logmel", action="store_true", help="do not recompute the log-mel baseline")
    scoring.add_argument("--out", type=Path, default=None, help="results .json")
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    extract(arguments) if arguments.mode == "extract" else score(arguments)


if __name__ == "__main__":
    main()
