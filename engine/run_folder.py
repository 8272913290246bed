"""The layout of a training run folder, in one place: the trainer writes it, export and the app read it.

    <run>/config.json                                 run summary: mode, world size, architecture, config
    <run>/labels.json                                 tag vocabulary and key classes of the heads
    <run>/metrics.jsonl                               one JSON object per logged step ({"step", "loss", ...})
    <run>/tensorboard/                                the same metrics for TensorBoard
    <run>/checkpoints/step_0000500/model.safetensors  learner weights of one checkpoint
    <run>/checkpoints/latest                          name of the newest complete checkpoint
    <run>/checkpoints/saved                           this run's checkpoints in the order they were saved
    <run>/run.lock                                    held by the run training in the folder (one at a time)
    <run>/checkpoints.replaced-TIME/                  an earlier run set aside by --fresh: its checkpoints and its
                                                      config.json, labels.json, metrics.jsonl and tensorboard/

``engine train from-library`` keeps one workspace per model name beside the library database:

    <database folder>/custom-models/<name>/run        its run folder (plus plan, manifests, report)
    <database folder>/custom-models/<name>/model      the exported model folder

Torch-free (only paths and JSON), so the app and reading commands use it without loading the trainer.
``training.checkpoints`` writes and loads the checkpoint files themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUMMARY_FILE = "config.json"
LABELS_FILE = "labels.json"
METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
CHECKPOINTS_DIR = "checkpoints"
LATEST_FILE = "latest"
SAVED_FILE = "saved"
CHECKPOINT_WEIGHTS_FILE = "model.safetensors"
SET_ASIDE_PREFIX = CHECKPOINTS_DIR + ".replaced-"
CHECKPOINT_PREFIX = "step_"
CUSTOM_MODELS_FOLDER = "custom-models"
WORKSPACE_RUN_FOLDER, WORKSPACE_MODEL_FOLDER = "run", "model"


class RunFolderError(Exception):
    """A run folder file is unreadable; the message names the file and the reason."""


def summary_path(run_dir: Path | str) -> Path:
    return Path(run_dir) / SUMMARY_FILE


def labels_path(run_dir: Path | str) -> Path:
    return Path(run_dir) / LABELS_FILE


def metrics_path(run_dir: Path | str) -> Path:
    return Path(run_dir) / METRICS_FILE


def checkpoints_root(run_dir: Path | str) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR


def checkpoint_name(step: int) -> str:
    return f"{CHECKPOINT_PREFIX}{step:07d}"


def checkpoint_folder(run_dir: Path | str, step: int) -> Path:
    return checkpoints_root(run_dir) / checkpoint_name(step)


def run_dir_of(checkpoint: Path | str) -> Path:
    """The run folder a checkpoint folder (``<run>/checkpoints/step_N``) belongs to."""
    return Path(checkpoint).parent.parent


def latest_checkpoint(run_dir: Path | str) -> Path | None:
    """The checkpoint folder ``latest`` names, if its weights are there (None before the first checkpoint)."""
    return latest_in(checkpoints_root(run_dir))


def latest_in(root: Path | str) -> Path | None:
    """The checkpoint folder the ``latest`` file of a checkpoints folder names (a run's ``checkpoints``, or one
    ``--fresh`` set aside), if its weights are there."""
    name = _latest_name(root)
    folder = Path(root) / name if name else None
    return folder if folder is not None and (folder / CHECKPOINT_WEIGHTS_FILE).is_file() else None


def _latest_name(root: Path | str) -> str | None:
    """What a checkpoints folder's ``latest`` holds ("" when empty); None when there is no such file."""
    try:
        return (Path(root) / LATEST_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None


def latest_step(run_dir: Path | str) -> int | None:
    """The step of the checkpoint ``latest`` names (None before the first)."""
    folder = latest_checkpoint(run_dir)
    try:
        return None if folder is None else int(folder.name.removeprefix(CHECKPOINT_PREFIX))
    except ValueError:
        return None


def dangling_latest(run_dir: Path | str) -> str | None:
    """The checkpoint name ``latest`` holds when that checkpoint is not there (deleted, or copied without it): a
    run must not take that for a run with no checkpoint and start again from step 0."""
    name = _latest_name(checkpoints_root(run_dir))
    return name if name and not (checkpoints_root(run_dir) / name / CHECKPOINT_WEIGHTS_FILE).is_file() else None


def is_run_folder(folder: Path | str) -> bool:
    """A folder the trainer wrote that has at least one checkpoint (so it can be a base or be exported)."""
    return summary_path(folder).is_file() and latest_checkpoint(folder) is not None


def find_run_folders(parent: Path | str) -> list[Path]:
    """The run folders directly inside ``parent``, by name."""
    parent = Path(parent)
    if not parent.is_dir():
        return []
    return sorted(child for child in parent.iterdir() if child.is_dir() and is_run_folder(child))


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise RunFolderError(f"{path}: unreadable {what} ({error})") from None


def read_summary(run_dir: Path | str) -> dict[str, Any]:
    """The run's ``config.json`` (mode, architecture, config) written when the run started."""
    return _read_json(summary_path(run_dir), "run summary")


def read_labels(run_dir: Path | str) -> dict[str, Any]:
    """The run's ``labels.json``: the names of its tag head's outputs (``tags``) and of its key classes."""
    return _read_json(labels_path(run_dir), "labels")


def read_architecture(run_dir: Path | str) -> dict[str, Any] | None:
    """The encoder architecture the run trains, or None when the summary is missing or unreadable."""
    try:
        return read_summary(run_dir).get("architecture")
    except RunFolderError:
        return None


def read_metrics(run_dir: Path | str) -> list[dict[str, Any]]:
    """Every logged record of ``metrics.jsonl`` in step order ([] when the run has logged nothing yet). A last line
    cut short is left out: it is the one being written when the run stopped (a crash, a full disk); a damaged
    line before it is a ``RunFolderError``."""
    path = metrics_path(run_dir)
    if not path.is_file():
        return []
    try:
        lines = [(number, line) for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                 if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise RunFolderError(f"{path}: unreadable metrics ({error})") from None
    records = [_metrics_record(line) for _, line in lines]
    if records and records[-1] is None:
        records.pop()
    damaged = [number for (number, _), record in zip(lines, records) if record is None]
    if damaged:
        raise RunFolderError(f"{path}:{damaged[0]}: not a metrics record (a JSON object with a \"step\")")
    return records


def _metrics_record(line: str) -> dict[str, Any] | None:
    """One line of ``metrics.jsonl`` as its record, or None when it is not one."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and "step" in record else None


@dataclass(frozen=True)
class CustomModelFolders:
    """The folders ``engine train from-library`` uses for one model name (see the module docstring)."""

    workspace: Path

    @classmethod
    def of(cls, database: Path | str, name: str) -> CustomModelFolders:
        return cls(Path(database).resolve().parent / CUSTOM_MODELS_FOLDER / name)

    @property
    def run_dir(self) -> Path:
        return self.workspace / WORKSPACE_RUN_FOLDER

    @property
    def model_dir(self) -> Path:
        return self.workspace / WORKSPACE_MODEL_FOLDER
