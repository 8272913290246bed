"""``engine train from-library``, stage 2, run: finetune from the base model on the plan, export the model folder,
then re-embed the library with it into its own index.

Training resumes from the run folder's latest checkpoint; an exported run is not trained again; re-embedding
skips tracks the new model has already analysed. The model is registered but not made active.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.library import Library
from engine.model_folder import CONFIG_FILE as MODEL_CONFIG_FILE
from engine.model_folder import MODEL_CARD_FILE, update_config
from engine.results import IndexProgress, IndexReport
from engine.training_events import EXPORTING, PREPARING, EventWriter
from training.config import TrainConfig, load_config
from training.export import export_model
from training.from_library_plan import (
    LABELED_MANIFEST, UNLABELED_MANIFEST, FromLibraryError, PlannedRun, write_plan,
)
from training.resolve import resolve_training
from training.trainer import Trainer

DONE_FILE = "exported.json"
CACHE_FOLDER = "cache"
WARMUP_SHARE_OF_STEPS = 0.2  # --steps below the config's warm-up shortens the warm-up to this share

Say = Callable[[str], None]


def exported(planned: PlannedRun) -> bool:
    """Whether the run was trained and its model folder written (a rerun then goes on to re-embedding)."""
    folders = planned.folders
    return (folders.run_dir / DONE_FILE).is_file() and (folders.model_dir / MODEL_CONFIG_FILE).is_file()


def discard_earlier_run(library: Library, planned: PlannedRun) -> None:
    """--fresh: forget the models registered from this name's folder (their analyses and indexes), then delete
    its run and model folders."""
    model_dir = planned.folders.model_dir.resolve()
    if Path(planned.base.folder).resolve() == model_dir:
        raise FromLibraryError(f"{planned.settings.model_name} is the model being trained from; give the new model another --name")
    for model in library.models():
        if Path(model.folder).resolve() == model_dir:
            library.forget_model(model.model_id)
    shutil.rmtree(planned.folders.workspace, ignore_errors=True)


def key_weight(planned: PlannedRun, config: TrainConfig) -> float:
    """The config's key weight when there is a key target (a base key head or key tags), else 0."""
    return config.finetune.key_weight if (planned.base.config.key_head or "key" in planned.settings.fields) else 0.0


def training_config(planned: PlannedRun) -> TrainConfig:
    """The settings' TOML config pointed at this run: its folder, manifests, cache, base model and steps."""
    settings, run_dir = planned.settings, planned.folders.run_dir
    config = load_config(settings.config_path)
    config.run.name, config.run.output_dir, config.run.seed = settings.model_name, str(run_dir), 123 + settings.seed
    if settings.steps is not None:
        config.run.steps = settings.steps
        config.optim.warmup_steps = min(config.optim.warmup_steps, int(WARMUP_SHARE_OF_STEPS * settings.steps))
    config.data.cache_dir = str(run_dir / CACHE_FOLDER)
    config.finetune.init_from = str(planned.base.folder)
    config.finetune.manifest = str(run_dir / LABELED_MANIFEST)
    config.finetune.unlabeled_manifest = str(run_dir / UNLABELED_MANIFEST)
    config.finetune.key_weight = key_weight(planned, config)
    return config


def train(planned: PlannedRun, events: EventWriter, say: Say) -> dict[str, Any]:
    """Finetune (resuming from the latest checkpoint) and export the model folder; Ctrl-C raises
    ``KeyboardInterrupt`` after saving a checkpoint. Returns the training summary. ``events`` hears the phases
    (preparing, training, exporting), the steps and the checkpoints."""
    folders = planned.folders
    if exported(planned):
        summary = json.loads((folders.run_dir / DONE_FILE).read_text(encoding="utf-8"))
        say(f"{planned.settings.model_name} was trained already ({summary.get('steps')} steps, on the tags as they "
            "were then): it is re-embedded and evaluated as it is; add --fresh to train it again")
        return summary
    write_plan(planned)
    events.announce(PREPARING)
    config = training_config(planned)
    started = time.monotonic()
    say(f"finetuning {planned.base.config.name} for {config.run.steps} steps on {len(planned.labels.train_labeled)} "
        f"tagged + {len(planned.labels.unlabeled)} untagged tracks (decoding them first) ...")
    trainer = Trainer(resolve_training(config, "finetune"), events=events)  # decodes the training tracks into the audio cache first
    set_up = time.monotonic()
    resumed_from = trainer.step
    losses = trainer.fit()
    seconds = time.monotonic() - started
    events.announce(EXPORTING)
    say(f"exporting the model folder {folders.model_dir}")
    export_model(folders.run_dir, folders.model_dir, name=planned.settings.model_name, overwrite=True)  # its own folder
    _record_origin(planned)
    shutil.rmtree(folders.run_dir / CACHE_FOLDER, ignore_errors=True)  # decoded audio: large, no longer needed
    summary = {
        "steps": trainer.step, "resumed_from_step": resumed_from, "seconds": round(seconds, 1),
        "setup_seconds": round(set_up - started, 1), "step_seconds": round(seconds - (set_up - started), 1),
        "training_tracks": len(planned.labels.train_labeled) + len(planned.labels.unlabeled),
        "final_loss": losses[-1] if losses else None, "device": str(trainer.device),
        "tag_labels": trainer.vocabulary.names, "key_head": key_weight(planned, config) > 0,
    }
    (folders.run_dir / DONE_FILE).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def _record_origin(planned: PlannedRun) -> None:
    """Record where the labels came from in the model folder's config.json and model card."""
    model_dir, summary = planned.folders.model_dir, planned.labels.summary()

    def record(values: dict[str, Any]) -> None:
        values["training"]["from_library"] = {"base_model": planned.base.model_id, **summary}

    update_config(model_dir, record)
    lines = [
        "", "## From the library", "",
        f"Finetuned from `{planned.base.model_id}` on the library's own {'/'.join(planned.settings.fields)} tags: "
        f"{summary['labeled_tracks']} of {summary['tracks']} tracks tagged, {summary['held_out_albums']} albums "
        f"({summary['held_out_tracks']} tracks) held out for evaluation. Labels (tracks):",
        "", *[f"- {row['label']}: {row['tracks']}" for row in summary["labels"]],
    ]
    with open(model_dir / MODEL_CARD_FILE, "a", encoding="utf-8") as card:
        card.write("\n".join(lines) + "\n")


def embed(database: Path, planned: PlannedRun, workers: int | None = None,
          progress: Callable[[IndexProgress], None] | None = None, cancel: threading.Event | None = None) -> IndexReport:
    """Register the new model (not made active) and analyse the library's folders with it into its own index;
    cancelling stops after the current batch and the next run goes on from there."""
    with Library(database, planned.folders.model_dir) as custom:
        return custom.index(None, workers=workers, progress=progress, cancel=cancel)


__all__ = ["DONE_FILE", "discard_earlier_run", "embed", "exported", "key_weight", "train", "training_config"]
