"""Does a chroma-template key score beside the learned key head help on unseen material? A sweep of the
weight ``w`` in  log p_model(key) + w * correlation(chroma, Krumhansl profile of key), scored by MIREX on
validation renders (never the test split), with the model alone (w = 0) and the template alone as rows.

    python -m benchmarks.experiments.key_fusion --model resources/models/default \
        --manifest ../data/scores/manifest.jsonl [--manifest ../data/generated/manifest.jsonl] --split val
(from the repository root).
The chroma is taken on the windows ``engine index`` reads, as the product would.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from engine.audio import read_windows
from engine.keys import Key, key_from_index, mirex_key_score, parse_key
from engine.model_folder import load_model
from training.corpora.manifest import read_manifest
from training.evaluation.chroma_key import key_scores_from_chroma, mean_chroma

WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 1e6)
MAX_WINDOWS = 6


def reference_key(record: dict) -> Key | None:
    if "key_index" in record:
        return key_from_index(int(record["key_index"]))
    return parse_key(str(record.get("key", "")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, action="append", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--out", type=Path)
    arguments = parser.parse_args()
    loaded = load_model(arguments.model)
    rate = loaded.config.sample_rate
    log_probabilities, template_scores, references, sources = [], [], [], []
    for manifest in arguments.manifest:
        for record in read_manifest(manifest):
            reference = reference_key(record)
            if record.get("split") != arguments.split or reference is None:
                continue
            windows = read_windows(record["path"], rate, loaded.config.window_samples, MAX_WINDOWS).windows
            with torch.inference_mode():
                logits = loaded.network(torch.from_numpy(np.ascontiguousarray(windows)))["key_logits"]
            log_probabilities.append(np.log(logits.softmax(-1).mean(0).numpy() + 1e-9))
            template_scores.append(key_scores_from_chroma(mean_chroma(windows.reshape(-1), rate)))
            references.append(reference)
            sources.append(manifest.parent.name)
    log_probabilities, template_scores = np.stack(log_probabilities), np.stack(template_scores)
    rows = {}
    for weight in WEIGHTS:
        fused = template_scores if weight >= 1e6 else log_probabilities + weight * template_scores
        estimates = [key_from_index(int(i)) for i in fused.argmax(axis=1)]
        row = {}
        for source in sorted(set(sources)) + ["all"]:
            pairs = [(e, r) for e, r, s in zip(estimates, references, sources) if source in (s, "all")]
            row[source] = {"mirex": float(np.mean([mirex_key_score(e, r) for e, r in pairs])),
                           "accuracy": float(np.mean([e == r for e, r in pairs])), "count": len(pairs)}
        rows["template_only" if weight >= 1e6 else f"w={weight:g}"] = row
    if arguments.out:
        arguments.out.write_text(json.dumps(rows, indent=1))
    for name, row in rows.items():
        print(name, "  ".join(f"{s}: MIREX {v['mirex']:.3f} acc {v['accuracy']:.3f} (n={v['count']})" for s, v in row.items()))


if __name__ == "__main__":
    main()
