"""``engine train from-library``: a custom model from the library's own tags (SemiSupCon on the user's vocabulary).

    tags in the store ─▶ LabelPlan (library_labels: normalise, drop rare, hold out albums) ─▶ manifests
      ─▶ finetune from the base model (Trainer: tagged training tracks are the labeled part, the rest of the
         library the unlabeled part) ─▶ model folder ─▶ registered, the library re-embedded into its own index
      ─▶ held-out albums scored before vs after

Folders (``engine.run_folder.CustomModelFolders``): ``<database folder>/custom-models/<name>/model`` (the model
folder) and ``.../run`` (plan, manifests, checkpoints, audio cache, report); with the default database that is the
per-user data folder. The new model
is registered but not made active: ``engine similar --model NAME`` (or the app's picker) chooses it.

Resuming: the plan is written before training and read back by the next run with the same name, training
goes on from its latest checkpoint, and re-embedding skips tracks the new model has already analysed.

Evaluation (held-out albums only, embeddings as the library stores them, 6 windows per track):
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
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.analyzer import torch_threads
from engine.keys import key_from_index, parse_key
from engine.library import Library
from engine.model_folder import CONFIG_FILE as MODEL_CONFIG_FILE
from engine.model_checks import check_model_name
from engine.model_folder import MODEL_CARD_FILE, LoadedModel, load_model
from engine.results import IndexProgress, IndexReport
from engine.run_folder import CustomModelFolders
from engine.training_events import EXPORTING, PREPARING, EventWriter
from training.config import TrainConfig, load_config
from training.data import LabelVocabulary, ManifestEntry, write_manifest
from training.evaluation.metrics import shared_label_precision_at_k
from training.export import export_model
from training.library_labels import (
    DEFAULT_HOLDOUT_SHARE, DEFAULT_MAX_UNLABELED, DEFAULT_MIN_TRACKS, LabelPlan, album_group, plan_labels,
)
from training.metrics import tag_metrics
from training.probes import ProbeSettings, train_head
from training.resolve import resolve_training
from training.trainer import Trainer

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "from_library.toml"
PLAN_FILE, REPORT_FILE, DONE_FILE = "plan.json", "report.json", "exported.json"
EVALUATION_FILE = "evaluation.json"  # in the model folder, as the shipped default has one
LABELED_MANIFEST, UNLABELED_MANIFEST = "labeled.jsonl", "unlabeled.jsonl"
CACHE_FOLDER = "cache"
PRECISION_DEPTH = 10
PROBE_EPOCHS = 300
WARMUP_SHARE_OF_STEPS = 0.2  # --steps below the config's warm-up shortens the warm-up to this share

Say = Callable[[str], None]


class FromLibraryError(ValueError):
    """The command cannot go on (bad name, a run folder made with other settings); one line for the user."""


def default_name(fields: list[str]) -> str:
    return "library-" + "-".join(fields)


class LibraryTraining:
    """One ``from-library`` run, phase by phase: ``plan`` (on open) → ``train`` → ``embed`` → ``evaluate``.

    The CLI calls the phases in order so that each gets its own Ctrl-C handling; the app can do the same
    from a worker thread. Use as a context manager (closes the library).
    """

    def __init__(
        self, database: Path | str | None, fields: list[str], name: str | None = None, base: Path | str | None = None,
        min_tracks: int = DEFAULT_MIN_TRACKS, holdout_share: float = DEFAULT_HOLDOUT_SHARE,
        max_unlabeled: int = DEFAULT_MAX_UNLABELED, steps: int | None = None, config_path: Path | str = DEFAULT_CONFIG,
        fresh: bool = False, seed: int = 0, say: Say = lambda message: None,
    ) -> None:
        self.fields, self.say, self.seed = list(fields), say, seed
        self.name = name or default_name(self.fields)
        try:
            check_model_name(self.name)  # the whole name: a trailing newline is refused too
        except ValueError as error:
            raise FromLibraryError(str(error)) from None
        self.library = Library(database, base)
        self.base = self.library.model()
        folders = CustomModelFolders.of(self.library.db_path, self.name)
        self.workspace, self.run_dir, self.model_dir = folders.workspace, folders.run_dir, folders.model_dir
        self.settings = {"fields": self.fields, "min_tracks": min_tracks, "holdout_share": holdout_share,
                         "max_unlabeled": max_unlabeled, "seed": seed, "base_model": self.base.model_id}
        self.steps, self.config_path = steps, Path(config_path)
        self.fresh = fresh  # the earlier run is discarded when training starts (a dry run keeps it)
        self.tracks = {track.id: track for track in self.library.tagged_tracks(self.base.model_id)}
        self.plan = self._load_or_make_plan(min_tracks, holdout_share, max_unlabeled)

    def close(self) -> None:
        self.library.close()

    def __enter__(self) -> "LibraryTraining":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _discard_earlier_run(self) -> None:
        """--fresh: forget the models registered from this name's folder (their analyses and indexes), then
        delete its run and model folders."""
        model_dir = self.model_dir.resolve()
        if Path(self.base.folder).resolve() == model_dir:
            raise FromLibraryError(f"{self.name} is the model being trained from; give the new model another --name")
        for model in self.library.models():
            if Path(model.folder).resolve() == model_dir:
                self.library.forget_model(model.model_id)
        shutil.rmtree(self.workspace, ignore_errors=True)

    # -- plan ---------------------------------------------------------------------------------------------
    def _load_or_make_plan(self, min_tracks: int, holdout_share: float, max_unlabeled: int) -> LabelPlan:
        path = self.run_dir / PLAN_FILE
        if path.is_file() and not self.fresh:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved["settings"] != self.settings:
                raise FromLibraryError(
                    f"{self.run_dir} was started with other settings ({_differences(saved['settings'], self.settings)}); "
                    "add --fresh to start over or give another --name"
                )
            return LabelPlan.from_json(saved["plan"])
        return plan_labels(list(self.tracks.values()), self.fields, min_tracks, holdout_share, self.seed, max_unlabeled)

    def report(self) -> dict[str, Any]:
        """What was found, before any training: labels with counts, labeled share, held-out albums, folders."""
        return {
            "name": self.name, "base_model": self.base.model_id, "model_folder": str(self.model_dir),
            "run_folder": str(self.run_dir), "labels": self.plan.summary(),
        }

    # -- train --------------------------------------------------------------------------------------------
    @property
    def exported(self) -> bool:
        return (self.run_dir / DONE_FILE).is_file() and (self.model_dir / MODEL_CONFIG_FILE).is_file()

    def train(self, events: EventWriter | None = None) -> dict[str, Any]:
        """Finetune (resuming from the latest checkpoint) and export the model folder; Ctrl-C raises
        ``KeyboardInterrupt`` after saving a checkpoint. Returns the training summary. ``events`` hears
        the phases (preparing, training, exporting), the steps and the checkpoints."""
        events = events or EventWriter()
        if self.fresh:
            self._discard_earlier_run()
            self.fresh = False
        if self.exported:
            return json.loads((self.run_dir / DONE_FILE).read_text(encoding="utf-8"))
        if not (self.run_dir / PLAN_FILE).is_file():  # a resumed run keeps its plan and manifests
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._write_manifests()
            (self.run_dir / PLAN_FILE).write_text(
                json.dumps({"settings": self.settings, "plan": self.plan.to_json()}, indent=1) + "\n", encoding="utf-8")
        events.announce(PREPARING)
        config = self._config()
        started = time.monotonic()
        self.say(f"finetuning {self.base.config.name} for {config.run.steps} steps on {len(self.plan.train_labeled)} "
                 f"tagged + {len(self.plan.unlabeled)} untagged tracks "
                 f"(decoding them first) ...")
        trainer = Trainer(resolve_training(config, "finetune"), events=events)  # decodes the training tracks into the audio cache first
        set_up = time.monotonic()
        resumed_from = trainer.step
        losses = trainer.fit()
        seconds = time.monotonic() - started
        events.announce(EXPORTING)
        self.say(f"exporting the model folder {self.model_dir}")
        export_model(self.run_dir, self.model_dir, name=self.name)
        self._add_training_summary()
        shutil.rmtree(self.run_dir / CACHE_FOLDER, ignore_errors=True)  # decoded audio: large, no longer needed
        summary = {
            "steps": trainer.step, "resumed_from_step": resumed_from, "seconds": round(seconds, 1),
            "setup_seconds": round(set_up - started, 1), "step_seconds": round(seconds - (set_up - started), 1),
            "training_tracks": len(self.plan.train_labeled) + len(self.plan.unlabeled),
            "final_loss": losses[-1] if losses else None, "device": str(trainer.device),
            "tag_labels": trainer.vocabulary.names, "key_head": self._key_weight(config) > 0,
        }
        (self.run_dir / DONE_FILE).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        return summary

    def _write_manifests(self) -> None:
        """Training tracks only: the held-out albums (tagged or not) are in neither manifest."""
        keys = self._key_targets()
        labeled = [ManifestEntry(Path(self.tracks[t].path), self.plan.labels_by_track[t], "train", keys.get(t))
                   for t in self.plan.train_labeled]
        unlabeled = [ManifestEntry(Path(self.tracks[t].path), [], "train", keys.get(t)) for t in self.plan.unlabeled]
        write_manifest(self.run_dir / LABELED_MANIFEST, labeled)
        write_manifest(self.run_dir / UNLABELED_MANIFEST, unlabeled)

    def _key_targets(self) -> dict[int, str]:
        """Key head targets: the key tag where "key" is a label field, else the base model's own estimate."""
        targets = {}
        for track_id, track in self.tracks.items():
            tagged = parse_key(track.tag_key) if "key" in self.fields and track.tag_key else None
            if tagged is not None:
                targets[track_id] = tagged.name
            elif track.key_index is not None and self.base.config.key_head:  # the base model's estimate
                targets[track_id] = key_from_index(track.key_index).name
        return targets

    def _key_weight(self, config: TrainConfig) -> float:
        return config.finetune.key_weight if (self.base.config.key_head or "key" in self.fields) else 0.0

    def _config(self) -> TrainConfig:
        config = load_config(self.config_path)
        config.run.name, config.run.output_dir, config.run.seed = self.name, str(self.run_dir), 123 + self.seed
        if self.steps is not None:
            config.run.steps = self.steps
            config.optim.warmup_steps = min(config.optim.warmup_steps, int(WARMUP_SHARE_OF_STEPS * self.steps))
        config.data.cache_dir = str(self.run_dir / CACHE_FOLDER)
        config.finetune.init_from = str(self.base.folder)
        config.finetune.manifest = str(self.run_dir / LABELED_MANIFEST)
        config.finetune.unlabeled_manifest = str(self.run_dir / UNLABELED_MANIFEST)
        config.finetune.key_weight = self._key_weight(config)
        return config

    def _add_training_summary(self) -> None:
        """Record where the labels came from in the model folder's config.json and model card."""
        path = self.model_dir / MODEL_CONFIG_FILE
        values = json.loads(path.read_text(encoding="utf-8"))
        values["training"]["from_library"] = {"base_model": self.base.model_id, **self.plan.summary()}
        path.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
        summary = self.plan.summary()
        lines = [
            "", "## From the library", "",
            f"Finetuned from `{self.base.model_id}` on the library's own {'/'.join(self.fields)} tags: "
            f"{summary['labeled_tracks']} of {summary['tracks']} tracks tagged, {summary['held_out_albums']} albums "
            f"({summary['held_out_tracks']} tracks) held out for evaluation. Labels (tracks):",
            "", *[f"- {row['label']}: {row['tracks']}" for row in summary["labels"]],
        ]
        with open(self.model_dir / MODEL_CARD_FILE, "a", encoding="utf-8") as card:
            card.write("\n".join(lines) + "\n")

    # -- embed --------------------------------------------------------------------------------------------
    def embed(
        self, workers: int | None = None, progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> IndexReport:
        """Register the model (not made active) and analyse the library's folders with it into its own index;
        cancelling stops after the current batch and the next run goes on from there."""
        with Library(self.library.db_path, self.model_dir) as custom:
            return custom.index(None, workers=workers, progress=progress, cancel=cancel)

    # -- evaluate -----------------------------------------------------------------------------------------
    def evaluate(self) -> dict[str, Any]:
        """Held-out albums before vs after (see the module docstring); also written to the model folder."""
        custom = load_model(self.model_dir)
        wanted = self.plan.train_labeled + self.plan.held_out
        before = {t: a for t in wanted if (a := self.library.analysis_of(t, self.base.model_id)) is not None}
        after = {t: a for t in wanted if (a := self.library.analysis_of(t, custom.model_id)) is not None}
        held = [t for t in self.plan.held_out if t in before and t in after]
        train = [t for t in self.plan.train_labeled if t in before and t in after]
        vocabulary = LabelVocabulary(self.plan.labels)
        targets = np.stack([vocabulary.encode(self.plan.labels_by_track[t]) for t in held]) if held else None
        with torch_threads(1):  # tiny full-batch probes: extra threads only contend
            tag_map = {
                "before": _probe_map(before, train, held, self.plan, vocabulary, targets),
                "after": _head_map(after, held, custom, vocabulary, targets),
                "after_probe": _probe_map(after, train, held, self.plan, vocabulary, targets),
                "before_method": "linear probe on the base model's embeddings (its heads know other labels)",
            }
        result: dict[str, Any] = {
            "model_id": custom.model_id, "base_model": self.base.model_id, "held_out_tracks": len(held),
            "held_out_albums": len(self.plan.held_out_groups),
            "precision_at_10": {
                "before": self._precision(before, held, held + train),
                "after": self._precision(after, held, held + train),
                "method": "held-out tracks query every tagged track outside their own album",
            },
            "tag_map": tag_map,
            "key_agreement_with_base": _key_agreement([before[t] for t in held], [after[t] for t in held]),
            "key_accuracy_vs_tags": self._key_accuracy(before, after, held),
        }
        (self.model_dir / EVALUATION_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        return result

    def _key_accuracy(self, before: dict, after: dict, held: list[int]) -> dict[str, Any] | None:
        """Share of held-out tracks with a readable key tag whose estimated key equals it, before and after."""
        tagged = {t: key.index for t in held if self.tracks[t].tag_key and (key := parse_key(self.tracks[t].tag_key))}
        scored = [t for t in tagged if before[t].key_probs is not None and after[t].key_probs is not None]
        if not scored:
            return None

        def accuracy(analyses: dict) -> float | None:
            return _rounded(float(np.mean([int(np.argmax(analyses[t].key_probs)) == tagged[t] for t in scored])))

        return {"before": accuracy(before), "after": accuracy(after), "tracks": len(scored)}

    def _precision(self, analyses: dict, queries: list[int], candidates: list[int]) -> float | None:
        """Shared-label precision@10 of ``queries`` against ``candidates`` outside each query's album."""
        if not queries:
            return None
        labels = {t: set(self.plan.labels_by_track[t]) for t in candidates}
        groups = {t: album_group(self.tracks[t]) for t in candidates}
        found = shared_label_precision_at_k(
            np.stack([analyses[t].embedding for t in queries]), [labels[t] for t in queries], [groups[t] for t in queries],
            np.stack([analyses[t].embedding for t in candidates]), [labels[t] for t in candidates],
            [groups[t] for t in candidates], PRECISION_DEPTH,
        )
        return _rounded(found["precision"]) if found["queries"] else None

    def write_report(self, report: dict[str, Any]) -> None:
        (self.run_dir / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def plan_text(report: dict[str, Any]) -> str:
    """The readable form of ``LibraryTraining.report()``: what the tags give, before any training."""
    labels = report["labels"]
    lines = [
        f"{labels['labeled_tracks']} of {labels['tracks']} tracks tagged ({100 * labels['labeled_share']:.0f} %) with "
        f"{len(labels['labels'])} {'/'.join(labels['fields'])} labels of at least {labels['min_tracks']} tracks:",
        *[f"  {row['label']}: {row['tracks']} tracks ({row['held_out']} held out)" for row in labels["labels"]],
    ]
    if labels["dropped_labels"]:
        rare = ", ".join(f"{row['label']} ({row['tracks']})" for row in labels["dropped_labels"][:8])
        lines.append(f"dropped (too rare): {rare}{' ...' if len(labels['dropped_labels']) > 8 else ''}")
    lines += [
        f"held out for evaluation: {labels['held_out_tracks']} tagged tracks of {labels['held_out_albums']} albums",
        f"untagged tracks used as the unlabeled part: {labels['unlabeled_tracks']}"
        + (f" (of {labels['unlabeled_tracks'] + labels['unlabeled_not_sampled']})" if labels["unlabeled_not_sampled"] else ""),
        f"base model: {report['base_model']}; new model: {report['name']} in {report['model_folder']}",
    ]
    return "\n".join(lines)


def result_text(report: dict[str, Any]) -> str:
    """The readable form of the full report: what training did, and the held-out figures before vs after."""
    evaluation, training, embedded = report["evaluation"], report["training"], report["reembedding"]

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    precision, tag_map = evaluation["precision_at_10"], evaluation["tag_map"]
    return "\n".join([
        f"model {evaluation['model_id']} in {report['model_folder']} ({training['steps']} steps; "
        f"library re-embedded: {embedded['analysed']} tracks analysed)",
        f"held out: {evaluation['held_out_tracks']} tracks of {evaluation['held_out_albums']} albums",
        f"  same-label precision@10: {shown(precision['before'])} before -> {shown(precision['after'])} after",
        f"  tag mAP: {shown(tag_map['before'])} before (linear probe) -> {shown(tag_map['after'])} after (heads), "
        f"{shown(tag_map['after_probe'])} (linear probe)",
        f"  key agreement with the base model: {shown(evaluation['key_agreement_with_base'])}"
        + (f"; key = key tag: {shown(keys['before'])} before -> {shown(keys['after'])} after ({keys['tracks']} tracks)"
           if (keys := evaluation.get("key_accuracy_vs_tags")) else ""),
        f"use it: engine similar QUERY --model {report['name']}",
    ])


def _differences(saved: dict[str, Any], wanted: dict[str, Any]) -> str:
    return ", ".join(f"{name} {saved.get(name)!r} now {value!r}" for name, value in wanted.items() if saved.get(name) != value)


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


__all__ = [
    "DEFAULT_CONFIG", "FromLibraryError", "LibraryTraining", "default_name", "plan_text",
    "result_text",
]
