"""The on-disk model format: a folder with ``weights.safetensors`` + ``config.json`` (+ ``MODEL_CARD.md``).

Loading never unpickles: tensors come from safetensors, everything else is JSON. A model's identity
(``model_id``) is its name plus a hash of its weights, so analyses made by two models never mix.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from engine.atomic_write import write_bytes_atomically
from engine.keys import KEY_CLASS_NAMES
from engine.model_checks import check_parameter_count, estimated_parameters, non_finite_tensor
from engine.model_spec import (  # noqa: F401 (re-exported: the model format's names live in model_spec)
    CONFIG_FILE, DEFAULT_MODEL_DIR, FORMAT_VERSION, MODEL_CARD_FILE, WEIGHTS_FILE, ModelConfig, ModelLoadError,
    ModelSpec, default_model_available, file_sha256, read_model_spec,
)
from engine.networks import AudioModel, ClassifierHead, build_encoder, build_key_head
from engine.weight_layouts import WeightLayoutError, convert_weights


@dataclass
class LoadedModel(ModelSpec):
    """A ready-to-run model: its config and identity (``ModelSpec``) and the network in eval mode."""

    network: AudioModel


def build_network(config: ModelConfig) -> AudioModel:
    encoder = build_encoder(config.architecture)
    embedding_dim = config.embedding_dim
    key_head = None
    if config.key_head:
        key_head = build_key_head(encoder, int(config.key_head.get("hidden_dim", 0)))
    tag_head = None
    if config.tag_head:
        tag_head = ClassifierHead(
            embedding_dim, len(config.tag_head["labels"]), int(config.tag_head.get("hidden_dim", 0))
        )
    return AudioModel(encoder, key_head, tag_head)


def save_model(folder: Path | str, network: AudioModel, config: ModelConfig, model_card: str | None = None) -> Path:
    """Write a model folder in the current format (whatever format ``config`` was read from: a loaded network is
    always in the current layout); tensors are made contiguous and detached, buffers included."""
    folder = Path(folder)
    config = replace(config, format_version=FORMAT_VERSION)
    folder.mkdir(parents=True, exist_ok=True)
    if config.key_head is not None:
        config.key_head.setdefault("labels", list(KEY_CLASS_NAMES))
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in network.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format_version": str(FORMAT_VERSION)})
    _readable_by_everyone_the_umask_allows(folder / WEIGHTS_FILE)  # safetensors writes 0600; a model is for sharing
    (folder / CONFIG_FILE).write_text(json.dumps(config.to_json(), indent=2) + "\n", encoding="utf-8")
    if model_card is not None:
        (folder / MODEL_CARD_FILE).write_text(model_card, encoding="utf-8")
    return folder


def update_config(folder: Path | str, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite a model folder's ``config.json`` after ``change`` edits its values in place (calibration, origin,
    evaluation figures: the weights, and so the model id, stay as they are); written atomically, so a folder never
    holds half a config."""
    path = Path(folder) / CONFIG_FILE
    values = json.loads(path.read_text(encoding="utf-8"))
    change(values)
    write_bytes_atomically(path, (json.dumps(values, indent=2) + "\n").encode("utf-8"))


def _readable_by_everyone_the_umask_allows(path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)


def _stored_parameters(weights: Path) -> int:
    """Values in a safetensors file, read from its header (no tensor is loaded)."""
    with safe_open(str(weights), framework="pt") as handle:
        return sum(math.prod(handle.get_slice(name).get_shape()) for name in handle.keys())


def load_model(folder: Path | str, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model folder or raise ``ModelLoadError`` with one clear reason."""
    return load_network(read_model_spec(folder), device)


def load_network(spec: ModelSpec, device: str | torch.device = "cpu") -> LoadedModel:
    """Build the network of a model folder read by ``read_model_spec`` and load its weights into it, converted
    from an older format's layout when the folder has one, or raise ``ModelLoadError`` (a bad architecture,
    unreadable weights, weights that do not fit the config). The loaded config says the current format."""
    folder, config = spec.folder, spec.config
    try:
        check_parameter_count(estimated_parameters(config.architecture), CONFIG_FILE)  # before any allocation
        network = build_network(config)
    except (ValueError, TypeError, KeyError, RuntimeError) as error:
        raise ModelLoadError(f"model folder {folder}: bad architecture in {CONFIG_FILE} ({error})") from None
    try:
        check_parameter_count(_stored_parameters(folder / WEIGHTS_FILE), WEIGHTS_FILE)
        state = load_file(str(folder / WEIGHTS_FILE))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelLoadError(f"model folder {folder}: unreadable {WEIGHTS_FILE} ({error})") from None
    broken = non_finite_tensor(state)
    if broken is not None:
        raise ModelLoadError(f"model folder {folder}: {WEIGHTS_FILE} holds NaN or infinite values ({broken})")
    try:
        state = convert_weights(state, config.architecture, config.format_version)
    except WeightLayoutError as error:
        raise ModelLoadError(f"model folder {folder}: {error}") from None
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise ModelLoadError(f"model folder {folder}: weights do not match config.json ({first_line})") from None
    network.eval().to(device)
    return LoadedModel(network=network, config=replace(config, format_version=FORMAT_VERSION), folder=folder,
                       weights_sha256=spec.weights_sha256)
