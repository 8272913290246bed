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
    CHECKPOINT_PREFIX, CHECKPOINT_WEIGHTS_FILE as WEIGHTS_FILE, CHECKPOINTS_DIR, LATEST_FILE, SAVED_FILE, SET_ASIDE_PREFIX,
    RunFolderError, checkpoint_name, checkpoints_root, latest_checkpoint, read_summary, run_dir_of,
)

STATE_FILE = "state.pt"
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
    """Move an earlier run's checkpoints out of the way of a fresh start (kept, never deleted); returns where."""
    root = checkpoints_root(run_dir)
    if not root.is_dir():
        return None
    target = root.with_name(SET_ASIDE_PREFIX + time.strftime("%Y%m%dT%H%M%S"))
    suffix = 1
    while target.exists():
        target = root.with_name(f"{SET_ASIDE_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{suffix}")
        suffix += 1
    root.rename(target)
    return target


def resolve_checkpoint(path: Path | str) -> Path:
    """Accept a run folder (its latest checkpoint) or a checkpoint folder."""
    path = Path(path)
    if (path / WEIGHTS_FILE).is_file():
        return path
    latest = latest_checkpoint(path)
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
        return read_summary(run_dir_of(checkpoint))
    except RunFolderError as error:
        raise CheckpointError(str(error)) from None


def load_encoder(path: Path | str) -> tuple[nn.Module, dict[str, Any], Path]:
    """(encoder in eval mode, its architecture dict, checkpoint folder) from a run or checkpoint folder."""
    folder = resolve_checkpoint(path)
    architecture = read_run_summary(folder)["architecture"]
    encoder = build_encoder(architecture)
    prefix = "encoder."
    weights = {name[len(prefix) :]: tensor for name, tensor in load_weights(folder).items() if name.startswith(prefix)}
    encoder.load_state_dict(weights, strict=True)
    return encoder.eval(), architecture, folder


__all__ = [
    "CheckpointError", "checkpoint_name", "latest_checkpoint", "load_encoder", "load_state", "read_run_summary", "load_weights", "mark_latest",
    "resolve_checkpoint", "run_dir_of", "save_state", "save_weights", "saved_checkpoints", "set_aside",
]
