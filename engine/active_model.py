"""Which model a library reads with, found from its config alone (no torch, no database layer): a model named for
the run (a folder, or a registered model's id or name), else the folder the library remembers, else the shipped
default (or ``ENGINE_MODEL_DIR``). ``Library`` and ``engine.library_summary`` both decide it here."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from engine.library_errors import ModelUnavailableError
from engine.model_spec import DEFAULT_MODEL_DIR, ModelLoadError, ModelSpec, read_model_spec
from engine.records import StoredModel

ACTIVE_MODEL_SETTING = "active_model_folder"  # the settings row that remembers the model folder last made active
MODEL_DIR_ENVIRONMENT = "ENGINE_MODEL_DIR"  # overrides the shipped default model folder


def model_spec_of(folder: Path | str) -> ModelSpec:
    """A model folder's config and identity; ``ModelUnavailableError`` when it is not a usable model folder."""
    try:
        return read_model_spec(folder)
    except ModelLoadError as error:
        raise ModelUnavailableError(str(error)) from None


def registered_folder(registered: Sequence[StoredModel], reference: Path | str) -> Path | None:
    """The folder of a registered model (``registered`` oldest first) named by its model id or name (the newest of
    that name); None when none has that id or name."""
    matches = [stored for stored in registered if stored.model_id == str(reference)]
    matches = matches or [stored for stored in reversed(registered) if stored.name == str(reference)]
    return Path(matches[0].folder) if matches else None


def named_model_spec(reference: Path | str, registered: Sequence[StoredModel]) -> ModelSpec:
    """The model ``--model`` names: a folder, else a registered model's id or name."""
    folder = reference if Path(reference).is_dir() else registered_folder(registered, reference)
    if folder is None:
        raise ModelUnavailableError(f"{reference}: neither a model folder nor a registered model (see `engine info`)")
    return model_spec_of(folder)


def default_model_spec(remembered_folder: str | None) -> tuple[ModelSpec | None, ModelUnavailableError | None]:
    """(spec, None) for the remembered folder when it is a usable model, else (when it is gone) for the shipped
    default; (None, the error to raise) when neither is. A remembered folder that is there but broken (a weights file cut short, a
    damaged config) is not swapped for the default without a word: an index run would analyse the library with
    another model."""
    if remembered_folder and Path(remembered_folder).is_dir():
        try:
            return model_spec_of(remembered_folder), None
        except ModelUnavailableError as error:
            return None, ModelUnavailableError(f"the library's model cannot be used: {error}",
                                               "mend the folder, or pass --model DIR")
    try:
        return model_spec_of(Path(os.environ.get(MODEL_DIR_ENVIRONMENT) or DEFAULT_MODEL_DIR)), None
    except ModelUnavailableError as error:
        return None, ModelUnavailableError(f"no usable model: {error}", f"pass --model DIR or set {MODEL_DIR_ENVIRONMENT}")
