"""``engine train from-library``, stage 1, plan: what the library's tags give, before any training.

The settings a run was started with are written with its plan (``plan.json`` in the run folder) and read back by
the next run of the same name, so a rerun resumes the same plan; other settings under that name are refused.
The manifests (training tracks only: the held-out albums are in neither) are written beside the plan.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.keys import key_from_index, parse_key
from engine.library import Library
from engine.model_checks import check_model_name
from engine.model_folder import LoadedModel
from engine.run_folder import CustomModelFolders
from training.data import ManifestEntry, write_manifest
from training.library_labels import (
    DEFAULT_HOLDOUT_SHARE, DEFAULT_MAX_UNLABELED, DEFAULT_MIN_TRACKS, LabelPlan, TaggedTrack, plan_labels,
)

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "from_library.toml"
PLAN_FILE = "plan.json"
LABELED_MANIFEST, UNLABELED_MANIFEST = "labeled.jsonl", "unlabeled.jsonl"


class FromLibraryError(ValueError):
    """The command cannot go on (bad name, a run folder made with other settings); one line for the user."""


def default_name(fields: list[str]) -> str:
    return "library-" + "-".join(fields)


@dataclass(frozen=True)
class FromLibrarySettings:
    """What the user asks of one run (the command's options; the app's Training tab fills the same ones)."""

    fields: tuple[str, ...]
    name: str = ""  # "" = default_name(fields)
    min_tracks: int = DEFAULT_MIN_TRACKS
    holdout_share: float = DEFAULT_HOLDOUT_SHARE
    max_unlabeled: int = DEFAULT_MAX_UNLABELED
    seed: int = 0
    steps: int | None = None  # None = run.steps of the config
    config_path: Path = DEFAULT_CONFIG

    @property
    def model_name(self) -> str:
        return self.name or default_name(list(self.fields))


@dataclass(frozen=True)
class PlannedRun:
    """A run's plan with everything later stages read: the base model, the folders, the tagged tracks."""

    settings: FromLibrarySettings
    base: LoadedModel
    folders: CustomModelFolders
    tracks: dict[int, TaggedTrack]
    labels: LabelPlan
    library: str = ""  # the resolved path of the library database the run belongs to (``plan.json`` keeps it)

    @property
    def recorded_settings(self) -> dict[str, Any]:
        return recorded_settings(self.settings, self.base.model_id)

    def report(self) -> dict[str, Any]:
        """What was found, before any training: labels with counts, labeled share, held-out albums, folders."""
        return {
            "name": self.settings.model_name, "base_model": self.base.model_id,
            "model_folder": str(self.folders.model_dir), "run_folder": str(self.folders.run_dir),
            "labels": self.labels.summary(),
        }


def recorded_settings(settings: FromLibrarySettings, base_model_id: str) -> dict[str, Any]:
    """The settings as ``plan.json`` keeps them (what a resumed run must match)."""
    return {"fields": list(settings.fields), "min_tracks": settings.min_tracks, "holdout_share": settings.holdout_share,
            "max_unlabeled": settings.max_unlabeled, "seed": settings.seed, "base_model": base_model_id}


def check_name(settings: FromLibrarySettings) -> None:
    """``FromLibraryError`` unless the model name is one a folder can have."""
    try:
        check_model_name(settings.model_name)  # the whole name: a trailing newline is refused too
    except ValueError as error:
        raise FromLibraryError(str(error)) from None


def plan_run(library: Library, settings: FromLibrarySettings, fresh: bool = False) -> PlannedRun:
    """The plan of ``settings`` on ``library``'s active model: the saved one of an earlier run of the same name
    (unless ``fresh``), else a new one from the tags. Raises ``FromLibraryError`` for a bad name or a run folder
    started with other settings, ``NotEnoughLabelsError`` when the tags give too little."""
    check_name(settings)
    base = library.model()
    folders = CustomModelFolders.of(library.db_path, settings.model_name)
    taken = [model for model in library.models() if model.name == settings.model_name
             and Path(model.folder).resolve() != folders.model_dir.resolve()]
    if taken:  # a second model of that name would take it over: `--model NAME` would no longer reach the first
        raise FromLibraryError(f"this library has a model named {settings.model_name!r} already ({taken[0].folder}): "
                               "give another --name")
    tracks = {track.id: track for track in library.tagged_tracks(base.model_id)}
    path = folders.run_dir / PLAN_FILE
    here = str(Path(library.db_path).resolve())
    check_workspace_owner(path, here, settings.model_name)  # before --fresh may delete anything
    if path.is_file() and not fresh:
        saved, wanted = json.loads(path.read_text(encoding="utf-8")), recorded_settings(settings, base.model_id)
        if saved["settings"] != wanted:
            raise FromLibraryError(
                f"{folders.run_dir} was started with other settings ({_differences(saved['settings'], wanted)}); "
                "add --fresh to start over or give another --name"
            )
        labels = LabelPlan.from_json(saved["plan"])
    else:
        labels = plan_labels(list(tracks.values()), list(settings.fields), settings.min_tracks, settings.holdout_share,
                             settings.seed, settings.max_unlabeled)
    return PlannedRun(settings, base, folders, tracks, labels, here)


def check_workspace_owner(plan_path: Path, library_path: str, name: str) -> None:
    """``FromLibraryError`` when the workspace's plan was made by another library that still exists: workspaces
    sit beside the database, so two libraries in one folder meet in one workspace per name, and one of them reusing
    (or, with --fresh, deleting) the other's run and registered model lost it. A plan from before the owner was
    recorded, or of a library since moved or deleted, is taken over."""
    if not plan_path.is_file():
        return
    try:
        owner = json.loads(plan_path.read_text(encoding="utf-8")).get("library")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return
    if isinstance(owner, str) and owner != library_path and Path(owner).exists() and not _same_file(owner, library_path):
        raise FromLibraryError(f"{plan_path.parent.parent} holds the model {name!r} of another library ({owner}): "
                               "give this one another --name")


def _same_file(first: str, second: str) -> bool:
    """One file under two spellings (another case on a case-insensitive disk, a link)."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def write_plan(planned: PlannedRun) -> None:
    """The manifests and ``plan.json`` in the run folder, unless a resumed run has them already."""
    run_dir = planned.folders.run_dir
    if (run_dir / PLAN_FILE).is_file():
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    keys = key_targets(planned)
    tracks, labels = planned.tracks, planned.labels
    labeled = [ManifestEntry(Path(tracks[t].path), labels.labels_by_track[t], "train", keys.get(t)) for t in labels.train_labeled]
    unlabeled = [ManifestEntry(Path(tracks[t].path), [], "train", keys.get(t)) for t in labels.unlabeled]
    write_manifest(run_dir / LABELED_MANIFEST, labeled)
    write_manifest(run_dir / UNLABELED_MANIFEST, unlabeled)
    (run_dir / PLAN_FILE).write_text(
        json.dumps({"settings": planned.recorded_settings, "plan": labels.to_json(), "library": planned.library},
                   indent=1) + "\n", encoding="utf-8")


def key_targets(planned: PlannedRun) -> dict[int, str]:
    """Key head targets: the key tag where "key" is a label field, else the base model's own estimate."""
    targets = {}
    for track_id, track in planned.tracks.items():
        tagged = parse_key(track.tag_key) if "key" in planned.settings.fields and track.tag_key else None
        if tagged is not None:
            targets[track_id] = tagged.name
        elif track.key_index is not None and planned.base.config.key_head:  # the base model's estimate
            targets[track_id] = key_from_index(track.key_index).name
    return targets


def _differences(saved: dict[str, Any], wanted: dict[str, Any]) -> str:
    return ", ".join(f"{name} {saved.get(name)!r} now {value!r}" for name, value in wanted.items() if saved.get(name) != value)


__all__ = [
    "DEFAULT_CONFIG", "FromLibraryError", "FromLibrarySettings", "LABELED_MANIFEST", "PLAN_FILE", "PlannedRun",
    "UNLABELED_MANIFEST", "check_name", "default_name", "key_targets", "plan_run", "recorded_settings", "write_plan",
]
