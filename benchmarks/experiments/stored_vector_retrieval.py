"""Same-soundtrack R-precision of the vectors `engine index` would store (``Analyzer.analyze_file``: the product's
windows and normalisation) for one split of the game-music corpus, for one or more model folders.

Used on the validation split to choose (e.g. whether to centre the embedding); run from the repository root:
    python -m benchmarks.experiments.stored_vector_retrieval --debian ../data/debian/manifest.jsonl --split val \
        --model ../data/models/v4 --model ../data/models/v4c
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.analyzer import Analyzer
from engine.audio import AudioDecodeError
from engine.model_folder import load_model
from training.corpora.manifest import read_manifest
from training.evaluation.metrics import per_query_label_retrieval


def stored_vectors(model: Path, paths: list[Path]) -> tuple[np.ndarray, list[int]]:
    """(vectors, indices of the decodable paths)."""
    analyzer = Analyzer(load_model(model))
    vectors, kept = [], []
    for index, path in enumerate(paths):
        try:
            vectors.append(analyzer.analyze_file(path).embedding)
            kept.append(index)
        except AudioDecodeError:
            continue
    return np.stack(vectors), kept


def _located(path: Path, manifest: Path) -> Path:
    """Corpus paths are as the builder was given them: absolute, or relative to where it ran (the folder that
    holds data/, three levels above data/debian/manifest.jsonl)."""
    for candidate in (path, manifest.parent / path, manifest.parent.parent.parent / path):
        if candidate.exists():
            return candidate
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debian", required=True, type=Path, help="game-music corpus manifest")
    parser.add_argument("--split", default="val")
    parser.add_argument("--model", required=True, type=Path, action="append", help="model folder (repeatable)")
    arguments = parser.parse_args()
    records = [r for r in read_manifest(arguments.debian) if r["split"] == arguments.split]
    paths = [_located(Path(r["path"]), arguments.debian) for r in records]
    for model in arguments.model:
        vectors, kept = stored_vectors(model, paths)
        labels = [records[i].get("soundtrack") or records[i]["package"] for i in kept]
        r_precisions, average_precisions = per_query_label_retrieval(vectors, labels)
        print(f"{model}: {len(kept)} tracks, R-precision {r_precisions.mean():.3f}, mAP {average_precisions.mean():.3f}")


if __name__ == "__main__":
    main()
