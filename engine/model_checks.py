"""Limits on what a model folder may ask for, checked before a network is built from it or its weights are used.

A model folder comes from anywhere (a download, a colleague). Its ``config.json`` decides how much memory the
network takes and its weights decide every output, so a config with ``[]`` where a size belongs, a zero or
negative size or 10^9 channels, and weights holding NaN or infinity, are refused with one line instead of a
traceback, a 36 GB allocation or ``NaN`` in the results. Torch-free: ``engine info`` reads configs too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# A model name becomes a folder name and a line of ``engine info``: letters, digits, '.', '_', '-' only.
MODEL_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Integer fields of an encoder config: (lowest, highest). The shipped model uses 16 kHz, 2.7 s windows, a 2048
# FFT, 24 bins per octave over 8 octaves and 1080 dimensions; the limits leave room for far larger models.
INTEGER_LIMITS = {
    "sample_rate": (4_000, 192_000),
    "window_samples": (256, 192_000 * 30),
    "n_fft": (16, 16_384),
    "hop_length": (1, 65_536),
    "bins_per_octave": (1, 96),
    "octaves": (1, 12),
    "embedding_dim": (1, 16_384),
    "key_path_channels": (1, 4_096),
    "key_bass_octaves": (0, 11),
    "hidden_dim": (0, 16_384),
}
OTHER_INTEGER_LIMITS = (0, 1_000_000)  # integer fields added later, until they get limits of their own
CHANNEL_LIMITS = (1, 4_096)  # per convolution block
MAX_BLOCKS = 32
FLOAT_LIMIT = 1e6  # |value| of any float field (frequencies in Hz are the largest)
MAX_LABELS = 10_000
KEY_LABELS = 24
# Parameters of a network, estimated from its config before it is built and counted in the weights file's
# header before the weights are read: 200M float32 is 800 MB; the shipped model has about 0.3M.
MAX_PARAMETERS = 200_000_000
CONVOLUTION_TAPS = 9  # a 3x3 kernel, the largest the encoders use
PROJECTION_FACTOR = 4  # statistics pooling reads mean, max and std per channel; plus one hidden layer


def check_model_name(name: Any) -> str:
    """``name`` if it is a safe model name; else ``ValueError`` saying what is allowed."""
    if not isinstance(name, str) or not MODEL_NAME_PATTERN.fullmatch(name):
        raise ValueError(f"model name {name!r}: use letters, digits, '.', '_' or '-' (at most 64, starting with a "
                         f"letter or digit)")
    return name


def check_config_json(data: Any) -> None:
    """Raise ``ValueError`` naming the first field of a parsed ``config.json`` that has the wrong type or lies
    outside its limits; unknown encoder fields are left to the encoder's own config class."""
    if not isinstance(data, Mapping):
        raise ValueError("config.json must hold a JSON object")
    check_model_name(data.get("name"))
    architecture = data.get("architecture")
    if not isinstance(architecture, Mapping) or not isinstance(architecture.get("type"), str):
        raise ValueError("architecture must be an object with a 'type'")
    for name, value in architecture.items():
        if name != "type":
            _check_field(f"architecture.{name}", name, value)
    heads = data.get("heads", {})
    if not isinstance(heads, Mapping):
        raise ValueError("heads must be an object")
    for head_name, head in heads.items():
        _check_head(head_name, head)


def check_parameter_count(count: int, what: str) -> None:
    """``ValueError`` when ``what`` (the config, the weights file) holds more than ``MAX_PARAMETERS``."""
    if count > MAX_PARAMETERS:
        raise ValueError(f"{what} describes {count:,} parameters (at most {MAX_PARAMETERS:,})")


def estimated_parameters(architecture: Mapping[str, Any]) -> int:
    """An upper estimate of an encoder's parameters from a checked config, before it is built: 3x3 convolutions
    between consecutive blocks, the key path's and the embedding's projections from the widest block."""
    channels = [1, *architecture.get("channels", [])]
    widest = max(channels)
    convolutions = CONVOLUTION_TAPS * sum(first * second for first, second in zip(channels, channels[1:]))
    projections = widest * (int(architecture.get("embedding_dim", 0)) + int(architecture.get("key_path_channels", 0)))
    return convolutions + PROJECTION_FACTOR * projections


def non_finite_tensor(state: Mapping[str, Any]) -> str | None:
    """The name of the first floating-point tensor of ``state`` holding NaN or infinity, else None."""
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            return name
    return None


def _check_field(label: str, name: str, value: Any) -> None:
    if name in INTEGER_LIMITS and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{label} must be an integer, not {value!r}")
    if name == "channels":
        low, high = CHANNEL_LIMITS
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_BLOCKS or not all(
                isinstance(size, int) and not isinstance(size, bool) and low <= size <= high for size in value):
            raise ValueError(f"{label} must list 1 to {MAX_BLOCKS} sizes, each in [{low}, {high}]")
        return
    if isinstance(value, bool) or value is None:
        return  # switches, and options left unset
    if isinstance(value, int):
        low, high = INTEGER_LIMITS.get(name, OTHER_INTEGER_LIMITS)
        if not low <= value <= high:
            raise ValueError(f"{label} = {value} lies outside [{low}, {high}]")
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) > FLOAT_LIMIT:
            raise ValueError(f"{label} = {value} is not a finite number within ±{FLOAT_LIMIT:g}")
    elif isinstance(value, list):
        if len(value) > MAX_BLOCKS:
            raise ValueError(f"{label} lists more than {MAX_BLOCKS} values")
        for position, item in enumerate(value):
            _check_field(f"{label}[{position}]", name, item)
    elif not isinstance(value, str):
        raise ValueError(f"{label} has an unexpected type ({type(value).__name__})")


def _check_head(head_name: str, head: Any) -> None:
    if head is None:
        return
    if not isinstance(head, Mapping):
        raise ValueError(f"heads.{head_name} must be an object")
    hidden = head.get("hidden_dim", 0)
    if isinstance(hidden, bool) or not isinstance(hidden, int):
        raise ValueError(f"heads.{head_name}.hidden_dim must be an integer")
    _check_field(f"heads.{head_name}.hidden_dim", "hidden_dim", hidden)
    labels = head.get("labels", [] if head_name == "key" else None)
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ValueError(f"heads.{head_name}.labels must be a list of names")
    if head_name == "key" and labels and len(labels) != KEY_LABELS:
        raise ValueError(f"heads.key.labels must name the {KEY_LABELS} keys")
    if len(labels) > MAX_LABELS:
        raise ValueError(f"heads.{head_name}.labels must name at most {MAX_LABELS} labels")


SAFETENSORS_HEADER_LIMIT = 100_000_000  # bytes of JSON header the safetensors format itself allows


def check_weights_layout(path: Path) -> None:
    """``ValueError`` when a safetensors file is not whole: a header whose tensors lie beyond the end of the file (a
    truncated copy, an interrupted download) or that does not parse. Read from the header and the file's size alone
    (no torch, no tensor), so a broken weights file is refused when its folder is first read, before a library
    registers it or an index run changes anything."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ValueError(f"{size} bytes: no safetensors header")
        header_length = int.from_bytes(prefix, "little")
        if header_length > min(SAFETENSORS_HEADER_LIMIT, size - 8):
            raise ValueError(f"header of {header_length} bytes in a file of {size}: truncated or not safetensors")
        try:
            header = json.loads(handle.read(header_length))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise ValueError(f"unreadable safetensors header ({type(error).__name__})") from None
    if not isinstance(header, dict):
        raise ValueError("the safetensors header is not a table of tensors")
    ends = [_tensor_end(name, entry) for name, entry in header.items() if name != "__metadata__"]
    data_bytes = size - 8 - header_length
    if ends and max(ends) > data_bytes:
        raise ValueError(f"tensors end at byte {max(ends)} of the data, which holds {data_bytes}: truncated")


def _tensor_end(name: str, entry: Any) -> int:
    """Where a tensor's bytes end in the data part; ``ValueError`` for an entry that is no tensor description."""
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(isinstance(value, int) and not isinstance(value, bool) and value >= 0 for value in offsets)
            and offsets[0] <= offsets[1]):
        raise ValueError(f"tensor {name[:60]!r} has no valid data offsets")
    return offsets[1]
