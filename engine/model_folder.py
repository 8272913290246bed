"""The on-disk model format: a folder with ``weights.safetensors`` + ``config.json`` (+ ``MODEL_CARD.md``).

Loading never unpickles: tensors come from safetensors, everything else is JSON. A model's identity
(``model_id``) is its name plus a hash of its weights, so analyses made by two models never mix.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from engine.keys import KEY_CLASS_NAMES
from engine.model_checks import check_config_json, check_parameter_count, estimated_parameters, non_finite_tensor
from engine.networks import AudioModel, ClassifierHead, build_encoder, build_key_head

FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "resources" / "models" / "default"


class ModelLoadError(Exception):
    """A model folder is missing, incomplete or inconsistent; the message says which and why."""


@dataclass
class ModelConfig:
    """What ``config.json`` holds. ``architecture`` is the encoder config with its ``type``."""

    name: str
    architecture: dict[str, Any]
    key_head: dict[str, Any] | None = None  # {"labels": [...24 names], "hidden_dim": 0}
    tag_head: dict[str, Any] | None = None  # {"labels": [...], "hidden_dim": 0, "metrics": {...}}
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def sample_rate(self) -> int:
        return int(self.architecture["sample_rate"])

    @property
    def window_samples(self) -> int:
        return int(self.architecture["window_samples"])

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate

    @property
    def embedding_dim(self) -> int:
        return int(self.architecture.get("embedding_dim", 512))

    @property
    def tag_names(self) -> list[str]:
        return list(self.tag_head["labels"]) if self.tag_head else []

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "name": self.name,
            "architecture": self.architecture,
            "sample_rate": self.sample_rate,
            "window_seconds": self.window_seconds,
            "embedding_dim": self.embedding_dim,
            "heads": {
                **({"key": self.key_head} if self.key_head else {}),
                **({"tags": self.tag_head} if self.tag_head else {}),
            },
            "training": self.training,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ModelConfig":
        heads = data.get("heads", {})
        return cls(
            name=data["name"],
            architecture=data["architecture"],
            key_head=heads.get("key"),
            tag_head=heads.get("tags"),
            training=data.get("training", {}),
            metrics=data.get("metrics", {}),
            format_version=data.get("format_version", FORMAT_VERSION),
        )


@dataclass
class LoadedModel:
    """A ready-to-run model: the network in eval mode, its config, and its identity."""

    network: AudioModel
    config: ModelConfig
    folder: Path
    weights_sha256: str

    @property
    def model_id(self) -> str:
        return f"{self.config.name}-{self.weights_sha256[:12]}"


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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(folder: Path | str, network: AudioModel, config: ModelConfig, model_card: str | None = None) -> Path:
    """Write a model folder; tensors are made contiguous and detached, buffers included."""
    folder = Path(folder)
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
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"model folder not found: {folder}")
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for required in (config_path, weights_path):
        if not required.is_file():
            raise ModelLoadError(f"model folder {folder} has no {required.name}")
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"model folder {folder}: unreadable {CONFIG_FILE} ({error})") from None
    try:
        check_config_json(data)  # every field's type and limits, before anything is built from them
        config = ModelConfig.from_json(data)
    except (ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"model folder {folder}: bad {CONFIG_FILE} ({error})") from None
    if config.format_version > FORMAT_VERSION:
        raise ModelLoadError(f"model folder {folder} uses format {config.format_version}; this engine reads {FORMAT_VERSION}")
    try:
        check_parameter_count(estimated_parameters(config.architecture), CONFIG_FILE)  # before any allocation
        network = build_network(config)
    except (ValueError, TypeError, KeyError, RuntimeError) as error:
        raise ModelLoadError(f"model folder {folder}: bad architecture in {CONFIG_FILE} ({error})") from None
    try:
        check_parameter_count(_stored_parameters(weights_path), WEIGHTS_FILE)
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelLoadError(f"model folder {folder}: unreadable {WEIGHTS_FILE} ({error})") from None
    broken = non_finite_tensor(state)
    if broken is not None:
        raise ModelLoadError(f"model folder {folder}: {WEIGHTS_FILE} holds NaN or infinite values ({broken})")
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise ModelLoadError(f"model folder {folder}: weights do not match config.json ({first_line})") from None
    network.eval().to(device)
    return LoadedModel(network=network, config=config, folder=folder, weights_sha256=file_sha256(weights_path))


def default_model_available() -> bool:
    return (DEFAULT_MODEL_DIR / WEIGHTS_FILE).is_file() and (DEFAULT_MODEL_DIR / CONFIG_FILE).is_file()
