"""A model folder read without its network: the config, the folder and the identity (``model_id``).

Commands that only read the library (``engine info``, ``problems``, ``similar TRACK_ID``, ``playlist``) need to
know which model is active, its embedding size and tag names, but never run it. This module reads exactly that
from ``config.json`` and the weights' hash, without importing torch (``engine.model_folder`` builds the network).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.model_checks import check_config_json, check_weights_layout

FORMAT_VERSION = 2  # 2: the encoder's layers renamed by what they feed (engine.weight_layouts converts 1)
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
# Beside the ``engine`` package, in a checkout as in an installed wheel (pyproject.toml ships ``resources/`` with it).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "resources" / "models" / "default"
HASH_CHUNK_BYTES = 1 << 20


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
    # How the library's vectors are searched: {"library_standardisation": true} centres and scales them on the
    # library's own moments first (engine.library_standardisation). Absent: plain cosine, as before.
    search: dict[str, Any] = field(default_factory=dict)
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

    @property
    def library_standardisation(self) -> bool:
        return bool(self.search.get("library_standardisation", False))

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
            **({"search": self.search} if self.search else {}),
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
            search=data.get("search", {}),
            format_version=data.get("format_version", FORMAT_VERSION),
        )


@dataclass
class ModelSpec:
    """A model folder's config and identity, checked as far as it can be without building the network."""

    config: ModelConfig
    folder: Path
    weights_sha256: str

    @property
    def model_id(self) -> str:
        return f"{self.config.name}-{self.weights_sha256[:12]}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_model_spec(folder: Path | str) -> ModelSpec:
    """The config and identity of a model folder, or ``ModelLoadError`` with one clear reason (a missing folder or
    file, an unreadable ``config.json``, a newer format, a weights file cut short). Whether the weights fit the
    config is checked only when the network is built (``engine.model_folder.load_model``)."""
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
        check_weights_layout(weights_path)
        weights_sha256 = file_sha256(weights_path)
    except OSError as error:
        raise ModelLoadError(f"model folder {folder}: unreadable {WEIGHTS_FILE} ({error.strerror or error})") from None
    except ValueError as error:
        raise ModelLoadError(f"model folder {folder}: unreadable {WEIGHTS_FILE} ({error})") from None
    return ModelSpec(config, folder, weights_sha256)


def default_model_available() -> bool:
    return (DEFAULT_MODEL_DIR / WEIGHTS_FILE).is_file() and (DEFAULT_MODEL_DIR / CONFIG_FILE).is_file()
