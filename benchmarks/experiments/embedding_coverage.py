"""Which track embedding generalises: window count, spectral statistics beside the learned block statistics,
and library-level standardisation, scored by same-soundtrack retrieval on one split of the Debian corpus.

Run on the validation split to choose (the test split is for the final report only), from the repository root:
    python -m benchmarks.experiments.embedding_coverage --model resources/models/default \
        --debian ../data/debian/manifest.jsonl --split val
Every track is decoded once; the windows sit where ``engine index`` puts them (``engine.audio.window_starts``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from engine.audio import AudioDecodeError, decode_mono, window_starts
from engine.library_standardisation import fit_standardisation
from engine.model_folder import load_model
from training.corpora.manifest import read_manifest
from training.evaluation.bootstrap import paired_difference
from training.evaluation.logmel_embedding import logmel_statistics, standardised
from training.evaluation.metrics import per_query_label_retrieval

WINDOW_COUNTS = (6, 10, 16)
SPECTRAL_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 1e6)  # share of the spectral part's squared norm vs the learned part


def spectral_statistics(network, windows: torch.Tensor, bands: int) -> torch.Tensor:
    """(windows, samples) → (windows, 2 * bands): mean and std over time of the model's own log-frequency
    spectrogram, its bins averaged into ``bands`` groups."""
    spectrogram = network.encoder.frontend(windows)[:, 0]  # (windows, bins, frames)
    grouped = spectrogram.reshape(spectrogram.shape[0], bands, -1, spectrogram.shape[-1]).mean(dim=2)
    return torch.cat([grouped.mean(dim=-1), grouped.std(dim=-1)], dim=1)


def track_features(loaded, samples: np.ndarray, window_count: int, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """The learned embedding (mean of per-window block statistics) and the spectral statistics of one track."""
    rate, window_samples = loaded.config.sample_rate, loaded.config.window_samples
    starts = window_starts(samples.size / rate, window_samples / rate, window_count)
    windows = []
    for start in starts:
        piece = samples[int(start * rate): int(start * rate) + window_samples]
        windows.append(np.pad(piece, (0, window_samples - piece.size)))
    batch = torch.from_numpy(np.stack(windows).astype(np.float32))
    with torch.inference_mode():
        learned = loaded.network(batch)["embeddings"].mean(dim=0)
        spectral = spectral_statistics(loaded.network, batch, bands).mean(dim=0)
    return learned.numpy(), spectral.numpy()


def combined(learned: np.ndarray, spectral: np.ndarray, weight: float, library_standardised: bool) -> np.ndarray:
    """Concatenate the parts so that the spectral part carries ``weight`` times the learned part's energy."""
    spectral_z = standardised(spectral)
    learned_z = standardised(learned) if library_standardised else learned
    learned_scale = 1.0 / np.sqrt(learned_z.shape[1])
    spectral_scale = np.sqrt(min(weight, 1e6)) / np.sqrt(spectral_z.shape[1])
    if weight >= 1e6:
        return spectral_z
    return np.hstack([learned_z * learned_scale, spectral_z * spectral_scale])


def decode_features(arguments) -> tuple[list[str], np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
    loaded = load_model(arguments.model)
    records = [r for r in read_manifest(arguments.debian) if r["split"] == arguments.split]
    labels, baseline, features = [], [], {count: ([], []) for count in WINDOW_COUNTS}
    for record in records:
        try:
            samples = decode_mono(record["path"], loaded.config.sample_rate)
        except AudioDecodeError:
            continue
        labels.append(record["soundtrack"])
        baseline.append(logmel_statistics(samples, loaded.config.sample_rate))
        for count in WINDOW_COUNTS:
            learned, spectral = track_features(loaded, samples, count, arguments.bands)
            features[count][0].append(learned)
            features[count][1].append(spectral)
    return labels, np.stack(baseline), {c: (np.stack(l), np.stack(s)) for c, (l, s) in features.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--debian", type=Path, required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--bands", type=int, default=64)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--features", type=Path, help="an .npz of the decoded features: written once, then read")
    arguments = parser.parse_args()
    if arguments.features and arguments.features.exists():
        saved = np.load(arguments.features)
        labels, baseline = list(saved["labels"]), saved["baseline"]
        features = {count: (saved[f"learned{count}"], saved[f"spectral{count}"]) for count in WINDOW_COUNTS}
    else:
        labels, baseline, features = decode_features(arguments)
        if arguments.features:
            np.savez(arguments.features, labels=np.array(labels), baseline=baseline,
                     **{f"learned{c}": v[0] for c, v in features.items()}, **{f"spectral{c}": v[1] for c, v in features.items()})
    baseline_rp, baseline_ap = per_query_label_retrieval(standardised(np.stack(baseline)), labels)
    rows = {"logmel_whole_track": {"r_precision": float(baseline_rp.mean()), "map": float(baseline_ap.mean())}}
    for count, (learned, spectral) in features.items():
        for library_standardised in (False, True):
            for weight in SPECTRAL_WEIGHTS:
                vectors = combined(np.stack(learned), np.stack(spectral), weight, library_standardised)
                rp, ap = per_query_label_retrieval(vectors, labels)
                name = f"w{count}_spectral{weight:g}_{'libz' if library_standardised else 'fixed'}"
                rows[name] = {"r_precision": float(rp.mean()), "map": float(ap.mean()),
                              "rp_minus_logmel": paired_difference(rp, baseline_rp)}
    for count, (learned, _) in features.items():  # what the product does: unit track vectors, shrunk moments
        unit = np.stack(learned) / np.linalg.norm(np.stack(learned), axis=1, keepdims=True)
        for name, vectors in ((f"w{count}_product_plain", unit),
                              (f"w{count}_product_library_standardised", fit_standardisation(unit).apply(unit))):
            rp, ap = per_query_label_retrieval(vectors, labels)
            rows[name] = {"r_precision": float(rp.mean()), "map": float(ap.mean()),
                          "rp_minus_logmel": paired_difference(rp, baseline_rp)}
    summary = {"split": arguments.split, "tracks": len(labels), "soundtracks": sorted(set(labels)), "rows": rows}
    if arguments.out:
        arguments.out.write_text(json.dumps(summary, indent=1))
    for name, row in rows.items():
        difference = row.get("rp_minus_logmel")
        gap = f"  diff {difference['mean']:+.3f} [{difference['ci95'][0]:+.3f}, {difference['ci95'][1]:+.3f}]" if difference else ""
        print(f"{name:34s} R-prec {row['r_precision']:.3f}  mAP {row['map']:.3f}{gap}")


if __name__ == "__main__":
    main()
