"""The ``engine train`` command lines the Training tab runs, built from what the user picked."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

REPO_ROOT = Path(__file__).resolve().parent.parent
FROM_SCRATCH = ""
APP_DATA_NAME = "semisup-music"


@dataclass(frozen=True)
class TrainingRequest:
    """One fine-tuning run: labels manifest, base model folder ("" = from scratch), name, steps, run folder."""

    labels: Path
    base_model: str
    name: str
    steps: int
    run_dir: Path

    @property
    def model_dir(self) -> Path:
        """Where the finished run is exported as a model folder."""
        return self.run_dir / "model"


def default_runs_folder() -> Path:
    return Path(platformdirs.user_data_dir(APP_DATA_NAME, appauthor=False)) / "runs"


def python_program() -> str:
    return sys.executable


def train_arguments(request: TrainingRequest) -> list[str]:
    arguments = [
        "-m", "engine.cli", "train", "finetune",
        "--manifest", str(request.labels),
        "--output", str(request.run_dir),
        "--steps", str(request.steps),
    ]
    if request.base_model:
        arguments += ["--init-from", request.base_model]
    return arguments


def export_arguments(request: TrainingRequest) -> list[str]:
    return ["-m", "engine.cli", "train", "export", str(request.run_dir), "--output", str(request.model_dir),
            "--name", request.name]
