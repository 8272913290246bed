"""A training configuration resolved once, before the trainer starts, into what the trainer runs.

``resolve_training(config, mode)`` settles every value that depends on the mode or on the starting model: a
finetune takes the encoder of the model it starts from (``finetune.init_from``: a model folder or a run), with
``finetune.embedding_pooling`` / ``finetune.key_path`` applied (a statistics embedding gets its own width); a
finetune that trains the key head augments by whole semitones only. The ``Trainer`` reads the result and rewrites
nothing; it reads the starting weights, renamed for the resolved encoder (``engine.weight_layouts.carry_over``),
after seeding torch, as it always did (loading a model folder builds a network, which draws random numbers).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import torch

from engine.model_folder import CONFIG_FILE as MODEL_CONFIG_FILE
from engine.model_folder import WEIGHTS_FILE as MODEL_WEIGHTS_FILE
from engine.model_folder import ModelLoadError, load_model, read_model_spec
from engine.networks import (
    EmbeddingPooling, LogFreqCNNConfig, SampleCNNConfig, encoder_config_from_dict, encoder_config_to_dict,
    statistics_dimension,
)
from engine.run_folder import RunFolderError, read_labels
from engine.weight_layouts import carry_over
from training import checkpoints
from training.config import FinetuneConfig, TrainConfig
from training.data import ManifestEntry, read_manifest
from training.key_bass_widening import widen_for_bass
from training.trainer import TrainingError

# What a finetune takes from the model it starts from: the encoder, the trained heads and the training projection.
CARRIED_PREFIXES = ("encoder.", "projection.", "key_head.", "tag_head.")


class Mode(StrEnum):
    PRETRAIN = "pretrain"
    FINETUNE = "finetune"


@dataclass(frozen=True)
class StartingPoint:
    """The model a finetune starts from (a model folder or a run): its encoder and the labels of its tag head
    (None when it has none). Its weights are read by ``weights_for``, when the trainer has seeded torch."""

    path: Path
    architecture: dict[str, Any]
    tag_names: list[str] | None

    def weights_for(self, architecture: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The starting model's learner weights in the current layout, renamed for an encoder with ``architecture``."""
        carried = carry_over(initial_weights(self.path), self.architecture, architecture)
        return widen_for_bass(carried, self.architecture, architecture)


@dataclass(frozen=True)
class ResolvedTraining:
    """What a ``Trainer`` runs: ``config`` with its encoder and augmentation settled (a copy; the caller's is
    untouched; its ``encoder`` as written, with the starting model's and the finetune's values), the encoder's
    typed config, and the starting point of a finetune that has one."""

    config: TrainConfig
    mode: Mode
    encoder: LogFreqCNNConfig | SampleCNNConfig
    start: StartingPoint | None = None

    @property
    def architecture(self) -> dict[str, Any]:
        """The encoder as config.json and the run summary hold it."""
        return encoder_config_to_dict(self.encoder)

    @property
    def finetune(self) -> FinetuneConfig | None:
        """The finetuning settings, or None when pretraining."""
        return self.config.finetune if self.mode is Mode.FINETUNE else None


def resolve_training(config: TrainConfig, mode: str = Mode.PRETRAIN) -> ResolvedTraining:
    """``config`` for ``mode`` ("pretrain" or "finetune") resolved; raises ``TrainingError`` for an encoder that
    cannot be built or a starting model that cannot be read."""
    try:
        mode = Mode(mode)
    except ValueError:
        raise TrainingError(f"mode must be \"pretrain\" or \"finetune\", not {mode!r}") from None
    config = copy.deepcopy(config)
    finetune = config.finetune if mode is Mode.FINETUNE else None
    start = starting_point(Path(finetune.init_from)) if finetune is not None and finetune.init_from else None
    if start is not None:
        config.encoder = dict(start.architecture)
    if finetune is not None:
        config.encoder = _with_finetune_paths(config.encoder, finetune)
        if finetune.key_weight > 0:
            config.augment.pitch_integer = True  # key labels can only follow whole-semitone shifts
    return ResolvedTraining(config, mode, typed_encoder(config.encoder), start)


def typed_encoder(architecture: dict[str, Any]) -> LogFreqCNNConfig | SampleCNNConfig:
    """The encoder's typed config; ``TrainingError`` names a value of the wrong kind (``channels = "abc"``), which
    the dataclass itself would take and the network would fail on with a traceback when it is built."""
    try:
        encoder = encoder_config_from_dict(architecture)
    except (TypeError, ValueError) as error:
        raise TrainingError(f"[encoder]: {error}") from None
    defaults = type(encoder)()
    for item in dataclasses.fields(encoder):
        default = getattr(defaults, item.name)
        if not _fits(getattr(encoder, item.name), default):
            shown = list(default) if isinstance(default, tuple) else default
            raise TrainingError(f"[encoder] {item.name} must be a value like {shown!r}, got "
                                f"{architecture.get(item.name)!r}")
    return encoder


def _fits(value: Any, default: Any) -> bool:
    """Whether an encoder setting holds the kind of value its default does (options are checked by the config)."""
    if isinstance(default, tuple):
        return isinstance(value, tuple) and bool(value) and all(_is_whole(item) and item > 0 for item in value)
    if isinstance(default, (StrEnum, bool)):
        return True
    if isinstance(default, int):
        return _is_whole(value)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return True


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _with_finetune_paths(architecture: dict[str, Any], finetune: FinetuneConfig) -> dict[str, Any]:
    """The encoder with the finetune's embedding pooling and key path, where it sets them."""
    architecture = dict(architecture)
    if finetune.embedding_pooling:
        architecture["embedding_pooling"] = finetune.embedding_pooling
        if finetune.embedding_pooling == EmbeddingPooling.STATISTICS:
            architecture["embedding_dim"] = statistics_dimension(architecture.get("channels", LogFreqCNNConfig.channels))
    if finetune.key_path:
        architecture["key_path"] = finetune.key_path
    if finetune.key_bass_octaves >= 0:
        architecture["key_bass_octaves"] = finetune.key_bass_octaves
    return architecture


def starting_point(path: Path) -> StartingPoint:
    """The encoder and tag labels of a model folder (engine format) or a training run, without its weights."""
    if is_model_folder(path):
        try:
            spec = read_model_spec(path)
        except ModelLoadError as error:
            raise TrainingError(str(error)) from None
        return StartingPoint(path, spec.config.architecture, spec.config.tag_names or None)
    folder = checkpoints.resolve_checkpoint(path)
    architecture = checkpoints.read_run_summary(folder)["architecture"]
    return StartingPoint(path, architecture, _run_tag_names(checkpoints.run_files_of(folder)))


def initial_weights(path: Path) -> dict[str, torch.Tensor]:
    """The learner weights a finetune from a model folder or a training run starts from, in the current layout.
    A run's heads travel as a model folder's do: a frozen key head must be the trained one, not a fresh one."""
    if is_model_folder(path):
        try:
            loaded = load_model(path)
        except ModelLoadError as error:
            raise TrainingError(str(error)) from None
        return {name: t for name, t in loaded.network.state_dict().items() if name.startswith(CARRIED_PREFIXES)}
    weights = checkpoints.load_weights(checkpoints.resolve_checkpoint(path))
    return {name: t for name, t in weights.items() if name.startswith(CARRIED_PREFIXES)}


def is_model_folder(path: Path) -> bool:
    """A model folder (engine format: config.json beside weights.safetensors), not a training run."""
    return (path / MODEL_CONFIG_FILE).is_file() and (path / MODEL_WEIGHTS_FILE).is_file()


def _run_tag_names(run_dir: Path) -> list[str] | None:
    """The labels of a run's tag head (its labels.json), or None when it has none."""
    try:
        labels = read_labels(run_dir)
    except RunFolderError:
        return None
    names = labels.get("tags") if isinstance(labels, dict) else None
    return list(names) if names else None


def cache_plan(config: TrainConfig) -> tuple[int, list[ManifestEntry]]:
    """(sample rate, entries) of what training with ``config`` decodes: every manifest it names (split
    ``data.split``) at the sample rate of the encoder it trains (a finetune's starting model's, when given)."""
    encoder = config.encoder
    if config.finetune.init_from and config.finetune.manifest:
        encoder = starting_point(Path(config.finetune.init_from)).architecture
    sample_rate = typed_encoder(encoder).sample_rate
    manifests = (config.data.unlabeled_manifest, config.data.labeled_manifest, config.finetune.manifest,
                 config.finetune.unlabeled_manifest)
    return sample_rate, [entry for manifest in manifests if manifest for entry in read_manifest(manifest, config.data.split)]


__all__ = ["Mode", "ResolvedTraining", "StartingPoint", "cache_plan", "initial_weights", "resolve_training", "starting_point"]
