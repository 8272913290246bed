"""The ``engine train`` command lines the Training tab runs, and the TOML config it writes for them.

``engine train finetune`` reads everything from a TOML file (``training/config.py``); the app writes
one into the run folder from the user's choices (``engine.toml_writer``), so the run can be repeated or
resumed by hand. Every command reports to the app through an events file (``--events``, see
``engine.training_events``), never through its messages for people.
The base model is a training run folder or a model folder (the shipped default, a registered model): both
are what ``finetune.init_from`` accepts. Its encoder architecture is copied so the weights fit.
``engine train from-library`` needs no config file: the app passes the user's choices as options.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
from PySide6.QtCore import QCoreApplication

from engine.model_folder import DEFAULT_MODEL_DIR
from engine.run_folder import CustomModelFolders, find_run_folders, read_architecture
from engine.toml_writer import toml_document

REPO_ROOT = Path(__file__).resolve().parent.parent
FROM_SCRATCH = ""
ACTIVE_MODEL = ""  # from-library without --base: the library's active model
DEFAULT_MIN_TRACKS = 10  # the command's default: tag values with fewer tracks are dropped
APP_DATA_NAME = "semisup-music"
CONFIG_FILE_NAME = "app-finetune.toml"
MODEL_SUBFOLDER = "model"
EVENTS_OPTION = "--events"
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class LibraryTrainingRequest:
    """``engine train from-library``: a model learnt from the library's own tags (``fields``: genre, mood, …).

    ``base_model`` is a model folder to finetune ("" = the library's active model); ``steps`` None = the
    config's; ``config`` another TOML (tests use a smaller one). The command exports the model into
    ``model_dir``, registers it (not active) and analyses the library with it.
    """

    database: Path
    fields: tuple[str, ...]
    name: str
    min_tracks: int = DEFAULT_MIN_TRACKS
    base_model: str = ACTIVE_MODEL
    steps: int | None = None
    config: Path | None = None

    @property
    def run_dir(self) -> Path:
        return CustomModelFolders.of(self.database, self.name).run_dir

    @property
    def model_dir(self) -> Path:
        return CustomModelFolders.of(self.database, self.name).model_dir


def from_library_arguments(request: LibraryTrainingRequest, events: Path) -> list[str]:
    """``python -m engine.cli train from-library --labels genre,mood --name NAME --db FILE …`` (resumes by name)."""
    arguments = ["-m", "engine.cli", "train", "from-library", EVENTS_OPTION, str(events), "--labels", ",".join(request.fields),
                 "--name", request.name, "--db", str(request.database), "--min-tracks", str(request.min_tracks)]
    if request.base_model:
        arguments += ["--base", request.base_model]
    if request.steps:
        arguments += ["--steps", str(request.steps)]
    if request.config is not None:
        arguments += ["--config", str(request.config)]
    return arguments


@dataclass(frozen=True)
class BaseModelChoice:
    """A starting point offered in the Training tab: what it reads as and the folder ("" = scratch / active)."""

    label: str
    folder: str


def base_model_choices(library: Any, from_library: bool) -> list[BaseModelChoice]:
    """Library tags: the active model, the shipped default, every registered model. A labels file: from scratch,
    the shipped default, registered models (model folders) and earlier training runs (runs on a worker)."""
    # The labels are the Training tab's words (its context), in the user's language.
    choices = [BaseModelChoice(QCoreApplication.translate("TrainingView", "The active model"), ACTIVE_MODEL)
               if from_library else BaseModelChoice(QCoreApplication.translate("TrainingView", "From scratch"), FROM_SCRATCH)]
    seen: set[str] = set()

    def offer(label: str, folder: Path) -> None:
        resolved = str(folder.resolve())
        if resolved not in seen and folder.is_dir():
            seen.add(resolved)
            choices.append(BaseModelChoice(label, resolved))

    offer(QCoreApplication.translate("TrainingView", "The shipped default model"), DEFAULT_MODEL_DIR)
    for info in library.models():
        offer(QCoreApplication.translate("TrainingView", "{name} (model in {folder})").format(
            name=info.name, folder=Path(info.folder).parent.name), Path(info.folder))
    if not from_library:
        for run_dir in find_run_folders(default_runs_folder()):
            offer(QCoreApplication.translate("TrainingView", "{name} (training run in {folder})").format(
                name=run_dir.name, folder=run_dir.parent), run_dir)
    return choices


@dataclass(frozen=True)
class TrainingRequest:
    """One fine-tuning run; ``overrides`` are extra config sections (``{"encoder": {...}}``) merged last."""

    labels: Path
    base_run: str  # a run folder, or FROM_SCRATCH
    name: str
    steps: int
    run_dir: Path
    batch_size: int = DEFAULT_BATCH_SIZE
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        """Where the finished run is exported as a model folder."""
        return self.run_dir / MODEL_SUBFOLDER

    @property
    def config_path(self) -> Path:
        return self.run_dir / CONFIG_FILE_NAME


def default_runs_folder() -> Path:
    return Path(platformdirs.user_data_dir(APP_DATA_NAME, appauthor=False)) / "runs"


def python_program() -> str:
    return sys.executable


def config_sections(request: TrainingRequest) -> dict[str, dict[str, Any]]:
    """The TOML sections for this run: run, data and finetune (plus the base run's encoder)."""
    sections: dict[str, dict[str, Any]] = {
        "run": {"name": request.name, "output_dir": str(request.run_dir), "steps": request.steps,
                "progress": False, "checkpoint_every": max(1, min(500, request.steps))},
        "data": {"batch_size": request.batch_size, "cache_dir": str(request.run_dir.parent / "audio-cache")},
        "finetune": {"manifest": str(request.labels)},
    }
    if request.base_run:
        sections["finetune"]["init_from"] = request.base_run
        architecture = read_architecture(request.base_run)
        if architecture:
            sections["encoder"] = dict(architecture)
    for name, values in request.overrides.items():
        sections.setdefault(name, {}).update(values)
    return sections


def write_config(request: TrainingRequest) -> Path:
    """The run's TOML config in its run folder. Raises ``OSError`` when it cannot be written, ``ValueError``
    when a path cannot be written as TOML text (a name with undecodable bytes)."""
    request.run_dir.mkdir(parents=True, exist_ok=True)
    request.config_path.write_text(toml_document(config_sections(request)), encoding="utf-8")
    return request.config_path


def train_arguments(request: TrainingRequest, events: Path) -> list[str]:
    """``python -m engine.cli train finetune --config …`` (resumes when the run folder has checkpoints)."""
    return ["-m", "engine.cli", "train", "finetune", EVENTS_OPTION, str(events), "--config", str(request.config_path)]


def export_arguments(request: TrainingRequest, events: Path) -> list[str]:
    return ["-m", "engine.cli", "train", "export", EVENTS_OPTION, str(events), "--checkpoint", str(request.run_dir),
            "--out", str(request.model_dir), "--name", request.name, "--overwrite"]  # the training's own model folder
