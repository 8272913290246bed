"""``engine train from-library``, stage 3, evaluate: the held-out albums scored before (base model) and after
(new model), from the embeddings as the library stores them (6 windows per track); written to the model folder.

- precision@10: each held-out tagged track queries every tagged track outside its own album (training and
  held-out ones, as ``engine similar`` would search the library) by cosine similarity; the share of its 10
  nearest that share a label with it. Before = base model, after = new model.
- tag mAP: macro average precision over the labels. The base model's heads know other labels, so "before"
  is a linear probe fitted on the base model's embeddings of the tagged training tracks; "after" is the new
  model's own tag head, and "after_probe" the same linear probe on the new embeddings (like for like).
- key: share of held-out tracks whose key by the new model equals the base model's, and where tracks have
  a key tag, the share whose estimate equals the tag, before and after.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from engine.analyzer import torch_threads
from engine.keys import parse_key
from engine.library import Library
from engine.model_folder import LoadedModel, load_model
from training.data import LabelVocabulary
from training.evaluation.metrics import shared_label_precision_at_k
from training.from_library_plan import PlannedRun
from training.library_labels import LabelPlan, album_group
from training.metrics import tag_metrics
from training.probes import ProbeSettings, train_head

EVALUATION_FILE = "evaluation.json"  # in the model folder, as the shipped default has one
PRECISION_DEPTH = 10
PROBE_EPOCHS = 300


def evaluate(library: Library, planned: PlannedRun) -> dict[str, Any]:
    """Held-out albums before vs after (see the module docstring); also written to the model folder."""
    custom = load_model(planned.folders.model_dir)
    wanted = planned.labels.train_labeled + planned.labels.held_out
    before = {t: a for t in wanted if (a := library.analysis_of(t, planned.base.model_id)) is not None}
    after = {t: a for t in wanted if (a := library.analysis_of(t, custom.model_id)) is not None}
    held = [t for t in planned.labels.held_out if t in before and t in after]
    train = [t for t in planned.labels.train_labeled if t in before and t in after]
    vocabulary = LabelVocabulary(planned.labels.labels)
    targets = np.stack([vocabulary.encode(planned.labels.labels_by_track[t]) for t in held]) if held else None
    with torch_threads(1):  # tiny full-batch probes: extra threads only contend
        tag_map = {
            "before": _probe_map(before, train, held, planned.labels, vocabulary, targets),
            "after": _head_map(after, held, custom, vocabulary, targets),
            "after_probe": _probe_map(after, train, held, planned.labels, vocabulary, targets),
            "before_method": "linear probe on the base model's embeddings (its heads know other labels)",
        }
    result: dict[str, Any] = {
        "model_id": custom.model_id, "base_model": planned.base.model_id, "held_out_tracks": len(held),
        "held_out_albums": len(planned.labels.held_out_groups),
        "precision_at_10": {
            "before": _precision(planned, before, held, held + train),
            "after": _precision(planned, after, held, held + train),
            "method": "held-out tracks query every tagged track outside their own album",
        },
        "tag_map": tag_map,
        "key_agreement_with_base": _key_agreement([before[t] for t in held], [after[t] for t in held]),
        "key_accuracy_vs_tags": _key_accuracy(planned, before, after, held),
    }
    (planned.folders.model_dir / EVALUATION_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _key_accuracy(planned: PlannedRun, before: dict, after: dict, held: list[int]) -> dict[str, Any] | None:
    """Share of held-out tracks with a readable key tag whose estimated key equals it, before and after."""
    tagged = {t: key.index for t in held if planned.tracks[t].tag_key and (key := parse_key(planned.tracks[t].tag_key))}
    scored = [t for t in tagged if before[t].key_probs is not None and after[t].key_probs is not None]
    if not scored:
        return None

    def accuracy(analyses: dict) -> float | None:
        return _rounded(float(np.mean([int(np.argmax(analyses[t].key_probs)) == tagged[t] for t in scored])))

    return {"before": accuracy(before), "after": accuracy(after), "tracks": len(scored)}


def _precision(planned: PlannedRun, analyses: dict, queries: list[int], candidates: list[int]) -> float | None:
    """Shared-label precision@10 of ``queries`` against ``candidates`` outside each query's album."""
    if not queries:
        return None
    labels = {t: set(planned.labels.labels_by_track[t]) for t in candidates}
    groups = {t: album_group(planned.tracks[t]) for t in candidates}
    found = shared_label_precision_at_k(
        np.stack([analyses[t].embedding for t in queries]), [labels[t] for t in queries], [groups[t] for t in queries],
        np.stack([analyses[t].embedding for t in candidates]), [labels[t] for t in candidates],
        [groups[t] for t in candidates], PRECISION_DEPTH,
    )
    return _rounded(found["precision"]) if found["queries"] else None


def _rounded(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def _probe_map(analyses: dict, train: list[int], held: list[int], plan: LabelPlan, vocabulary: LabelVocabulary,
               targets: np.ndarray | None) -> float | None:
    """Macro AP on ``held`` (``targets``: their multi-hot labels) of a linear multi-label probe fitted on the
    embeddings of ``train``."""
    if not train or targets is None:
        return None
    features = torch.from_numpy(np.stack([analyses[t].embedding for t in train]))
    train_targets = torch.from_numpy(np.stack([vocabulary.encode(plan.labels_by_track[t]) for t in train]))
    head = train_head(features, train_targets, len(vocabulary), True, ProbeSettings(epochs=PROBE_EPOCHS))
    with torch.no_grad():
        scores = torch.sigmoid(head(torch.from_numpy(np.stack([analyses[t].embedding for t in held])))).numpy()
    return _rounded(tag_metrics(scores, targets)["average_precision"])


def _head_map(analyses: dict, held: list[int], model: LoadedModel, vocabulary: LabelVocabulary,
              targets: np.ndarray | None) -> float | None:
    """Macro AP on ``held`` of the model's own tag head (its columns matched to the plan's labels by name)."""
    names = model.config.tag_names
    if targets is None or not all(label in names for label in vocabulary.names):
        return None
    columns = [names.index(label) for label in vocabulary.names]
    scores = np.stack([analyses[t].tag_probs[columns] for t in held])
    return _rounded(tag_metrics(scores, targets)["average_precision"])


def _key_agreement(before: list, after: list) -> float | None:
    pairs = [(b.key_probs, a.key_probs) for b, a in zip(before, after) if b.key_probs is not None and a.key_probs is not None]
    if not pairs:
        return None
    return _rounded(float(np.mean([int(np.argmax(b)) == int(np.argmax(a)) for b, a in pairs])))


__all__ = ["EVALUATION_FILE", "evaluate"]
