"""Run-folder checkpoints: weights as safetensors, optimizer + random state as a ``weights_only``-loadable file.

    <run>/checkpoints/step_000500/model.safetensors   learner weights (encoder.*, projection.*, heads), their
                                                      layout in the metadata (engine.weight_layouts)
    <run>/checkpoints/step_000500/state.pt            step, optimizer, rank 0 random states
    <run>/checkpoints/step_000500/rng_rank1.pt        random states of every other rank (DDP)
    <run>/checkpoints/latest                          name of the newest complete checkpoint
    <run>/checkpoints/saved                           this run's checkpoints in the order they were saved

The names come from ``engine.run_folder`` (the whole run folder's layout, torch-free for the app).
Retention deletes only checkpoints listed in ``saved``, oldest first; it never sorts folders by name, so a
run started again with ``--fresh`` (which first sets the earlier checkpoints aside) cannot delete its own.
``--fresh`` sets the earlier run aside whole:

    <run>/checkpoints.replaced-TIME/step_0000500/     its checkpoints, latest and saved, as they were
    <run>/checkpoints.replaced-TIME/config.json       its config.json, labels.json, metrics.jsonl, tensorboard/
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from engine.networks import build_encoder
from engine.weight_layouts import CURRENT_LAYOUT, OLDEST_LAYOUT, WeightLayoutError, convert_weights
from engine.run_folder import (
    CHECKPOINT_PREFIX, CHECKPOINT_WEIGHTS_FILE as WEIGHTS_FILE, CHECKPOINTS_DIR, LABELS_FILE, LATEST_FILE, METRICS_FILE,
    SAVED_FILE, SET_ASIDE_PREFIX, SUMMARY_FILE, TENSORBOARD_DIR, RunFolderError, checkpoint_name, checkpoints_root,
    latest_checkpoint, latest_in, read_summary, run_dir_of, summary_path,
)

STATE_FILE = "state.pt"
# What a fresh start sets aside with the checkpoints: the earlier run's own files, which the new run would overwrite.
RUN_FILES = (SUMMARY_FILE, LABELS_FILE, METRICS_FILE, TENSORBOARD_DIR)
LAYOUT_KEY = "format_version"  # in the weights' safetensors metadata, as a model folder's weights have it


class CheckpointError(Exception):
    """A checkpoint is missing or unreadable; the message names the folder."""


def rng_file(rank: int) -> str:
    return STATE_FILE if rank == 0 else f"rng_rank{rank}.pt"


def save_weights(folder: Path, state_dict: dict[str, torch.Tensor]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.detach().contiguous().cpu() for name, tensor in state_dict.items()}
    partial = folder / (WEIGHTS_FILE + ".partial")  # a write cut short never stands in for the weights
    save_file(tensors, str(partial), metadata={LAYOUT_KEY: str(CURRENT_LAYOUT)})
    partial.replace(folder / WEIGHTS_FILE)


def save_state(folder: Path, rank: int, state: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / (rng_file(rank) + ".partial")
    torch.save(state, partial)
    partial.replace(folder / rng_file(rank))


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def saved_checkpoints(run_dir: Path) -> list[str]:
    """This run's checkpoint names in save order. A folder from before the ``saved`` list existed lists its
    ``step_*`` folders by step (they can only be its own: ``--fresh`` sets earlier runs' aside)."""
    root = checkpoints_root(run_dir)
    listing = root / SAVED_FILE
    if listing.is_file():
        return [name for name in listing.read_text(encoding="utf-8").split() if name]
    return sorted(path.name for path in root.glob(CHECKPOINT_PREFIX + "*") if path.is_dir())


def mark_latest(run_dir: Path, step: int, keep: int) -> None:
    """Point ``latest`` at ``step`` (after every file is written) and delete all but the ``keep`` most
    recently saved checkpoints of this run."""
    root = checkpoints_root(run_dir)
    name = checkpoint_name(step)
    saved = [old for old in saved_checkpoints(run_dir) if old != name] + [name]
    _write_atomically(root / LATEST_FILE, name)
    if keep > 0:
        for old in saved[:-keep]:
            shutil.rmtree(root / old, ignore_errors=True)
        saved = saved[-keep:]
    _write_atomically(root / SAVED_FILE, "\n".join(saved) + "\n")


def set_aside(run_dir: Path) -> Path | None:
    """Move an earlier run out of the way of a fresh start (kept, never deleted); returns where. Its checkpoints
    folder becomes ``checkpoints.replaced-TIME`` and takes the run's own files along (``RUN_FILES``), so a checkpoint
    set aside still exports with the labels and architecture it was trained with (``run_files_of``)."""
    root = checkpoints_root(run_dir)
    if not root.is_dir():
        return None
    target = root.with_name(SET_ASIDE_PREFIX + time.strftime("%Y%m%dT%H%M%S"))
    suffix = 1
    while target.exists():
        target = root.with_name(f"{SET_ASIDE_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{suffix}")
        suffix += 1
    root.rename(target)  # first: from here on the folder is a fresh one, whatever happens to the moves below
    for name in RUN_FILES:
        if (run_dir / name).exists():
            (run_dir / name).rename(target / name)
    return target


def run_files_of(checkpoint: Path) -> Path:
    """The folder holding the config.json, labels.json and metrics of the run that saved ``checkpoint``: its run
    folder, or the set-aside folder it lies in (one set aside before the run's files went along has none)."""
    folder = Path(checkpoint).parent
    if folder.name.startswith(SET_ASIDE_PREFIX) and summary_path(folder).is_file():
        return folder
    return run_dir_of(checkpoint)


def resolve_checkpoint(path: Path | str) -> Path:
    """Accept a run folder (its latest checkpoint) or a checkpoint folder."""
    path = Path(path)
    if (path / WEIGHTS_FILE).is_file():
        return path
    latest = latest_in(path) if path.name.startswith(SET_ASIDE_PREFIX) else latest_checkpoint(path)
    if latest is None:
        raise CheckpointError(f"no checkpoint in {path} (expected {WEIGHTS_FILE} or {CHECKPOINTS_DIR}/{LATEST_FILE})")
    return latest


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's learner weights in the current layout (a checkpoint saved before it is converted)."""
    path = folder / WEIGHTS_FILE
    try:
        with safe_open(str(path), framework="pt") as handle:
            layout = int((handle.metadata() or {}).get(LAYOUT_KEY, OLDEST_LAYOUT))
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{folder}: unreadable {WEIGHTS_FILE} ({error})") from None
    if layout == CURRENT_LAYOUT:
        return weights
    try:
        return convert_weights(weights, read_run_summary(folder)["architecture"], layout)
    except WeightLayoutError as error:
        raise CheckpointError(f"{folder}: {error}") from None


def load_state(folder: Path, rank: int) -> dict[str, Any]:
    path = folder / rng_file(rank)
    if not path.is_file():
        raise CheckpointError(f"{folder}: no {path.name} (was the run started with another number of processes?)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch's own message about an unsafe file suggests loading it unsafely: never shown
        raise CheckpointError(f"{path}: damaged, or not a state this trainer wrote (only tensors and plain values "
                              "are read)") from None


def read_run_summary(checkpoint: Path) -> dict[str, Any]:
    """The summary (mode, architecture, config) of the run a checkpoint folder belongs to."""
    try:
        return read_summary(run_files_of(checkpoint))
    except RunFolderError as error:
        raise CheckpointError(str(error)) from None


def load_encoder(path: Path | str) -> tuple[nn.Module, dict[str, Any], Path]:
    """(encoder in eval mode, its architecture dict, checkpoint folder) from a run or checkpoint folder."""
    folder = resolve_checkpoint(path)
    architecture = read_run_summary(folder)["architecture"]
    encoder = build_encoder(architecture)
    prefix = "encoder."
    weights = {name[len(prefix) :]: tensor for name, tensor in load_weights(folder).items() if name.startswith(prefix)}
    mismatch = _weights_mismatch(encoder.state_dict(), weights)
    if mismatch:
        raise CheckpointError(f"{folder}: its weights do not fit the encoder its run's config.json describes "
                              f"({mismatch}); was config.json replaced by another run's?")
    encoder.load_state_dict(weights, strict=True)
    return encoder.eval(), architecture, folder


def _weights_mismatch(expected: dict[str, torch.Tensor], weights: dict[str, torch.Tensor]) -> str:
    """What keeps ``weights`` from loading into a module whose state is ``expected``, in a few words ("" if nothing)."""
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    reshaped = sorted(name for name in set(expected) & set(weights) if expected[name].shape != weights[name].shape)
    found = ((missing, "missing"), (unexpected, "unexpected"), (reshaped, "of another shape"))
    return "; ".join(f"{len(names)} {what}, e.g. {names[0]}" for names, what in found if names)


__all__ = [
    "CheckpointError", "checkpoint_name", "latest_checkpoint", "load_encoder", "load_state", "read_run_summary", "load_weights", "mark_latest",
    "resolve_checkpoint", "run_dir_of", "run_files_of", "save_state", "save_weights", "saved_checkpoints", "set_aside",
]
