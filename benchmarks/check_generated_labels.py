"""Check the generated tonal corpus's key labels from outside: chroma Krumhansl–Schmuckler on the rendered audio.

    python benchmarks/check_generated_labels.py DATA/generated [--sample 240] [--seed 0]

Decodes a random sample of the corpus's clips (``engine train data generated``), estimates each key with
``training/evaluation/chroma_key.py`` and prints the agreement with the label (exact and MIREX), overall and
per style, minor colour and sound font, with the kinds of disagreement (fifth, relative, parallel, other).
With ``--tempo`` it also runs the engine's tempo estimator (``engine/tempo_audio.file_tempo``, what ``engine
bpm`` reports) and counts estimates within 4 % of the tempo label, of its double / half, or of neither. The generator's labels are exact by construction; this measures how
often a simple listener-free key finder hears the same key, i.e. how clearly each clip states it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from engine.audio import decode_mono  # noqa: E402
from engine.keys import Key, key_from_index, mirex_key_score  # noqa: E402
from engine.tempo_audio import file_tempo  # noqa: E402
from training.corpora.manifest import read_manifest  # noqa: E402
from training.evaluation.chroma_key import estimate_key  # noqa: E402
from training.evaluation.metrics import key_metrics  # noqa: E402

SAMPLE_RATE = 22050
GROUPINGS = ("style", "minor_colour", "soundfont", "drums")
# The MIREX weight of an estimate names its relation to the reference key.
ERROR_KIND_OF_MIREX_SCORE = {1.0: "exact", 0.5: "fifth", 0.3: "relative", 0.2: "parallel", 0.0: "other"}
TEMPO_TOLERANCE = 0.04  # the usual tempo-accuracy window (MIREX Acc1)
TEMPO_RELATIONS = {"label": 1.0, "double": 2.0, "half": 0.5}


def tempo_relation(estimated_bpm: float, label_bpm: float) -> str:
    """Which of label / double / half the estimate lies within TEMPO_TOLERANCE of, else "other"."""
    for name, factor in TEMPO_RELATIONS.items():
        if abs(estimated_bpm - factor * label_bpm) <= TEMPO_TOLERANCE * factor * label_bpm:
            return name
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="folder written by `engine train data generated`")
    parser.add_argument("--sample", type=int, default=240)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tempo", action="store_true", help="also check tempo labels with the engine's estimator")
    arguments = parser.parse_args()
    records = read_manifest(arguments.corpus / "manifest.jsonl")
    sample = random.Random(arguments.seed).sample(records, min(arguments.sample, len(records)))
    pairs_by_group: dict[str, list[tuple[Key, Key]]] = defaultdict(list)
    tempo_by_group: dict[str, list[str]] = defaultdict(list)
    for record in sample:
        reference = key_from_index(record["key_index"])
        estimated = estimate_key(decode_mono(arguments.corpus / record["relative_path"], SAMPLE_RATE), SAMPLE_RATE)
        pairs_by_group["all"].append((estimated, reference))
        for grouping in GROUPINGS:
            pairs_by_group[f"{grouping}={record.get(grouping)}"].append((estimated, reference))
        if arguments.tempo:
            relation = tempo_relation(file_tempo(arguments.corpus / record["relative_path"]).bpm, record["tempo_bpm"])
            for group in ("all", f"drums={record['drums']}", f"style={record['style']}"):
                tempo_by_group[group].append(relation)
    report = {}
    for group, pairs in sorted(pairs_by_group.items()):
        estimated, reference = zip(*pairs)
        report[group] = {name: round(value, 3) for name, value in key_metrics(estimated, reference).items()}
        kinds = [ERROR_KIND_OF_MIREX_SCORE[mirex_key_score(e, r)] for e, r in pairs]
        report[group]["kinds"] = {kind: kinds.count(kind) for kind in ERROR_KIND_OF_MIREX_SCORE.values()}
    tempo_report = {group: {relation: relations.count(relation) for relation in (*TEMPO_RELATIONS, "other")}
                    for group, relations in sorted(tempo_by_group.items())}
    print(json.dumps({"corpus": str(arguments.corpus), "clips_in_corpus": len(records), "sample": len(sample),
                      "chroma_ks_vs_label": report, "engine_tempo_vs_label": tempo_report}, indent=1))


if __name__ == "__main__":
    main()
