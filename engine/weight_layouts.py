"""Weights saved under an older layout, renamed once at load into the current one, so the network keeps one
structure and no layer keeps an old name for old weights' sake.

A layout is the ``format_version`` of what saved the weights: a model folder's ``config.json`` says it, a run
checkpoint's ``weights.safetensors`` metadata says it (absent: 1). The layouts of a LogFreqCNN encoder:
- 1 (models v1 to v1.4): the pitch-position MLP was ``projection`` whatever it fed (the embedding of a ``pitch``
  model, the key head of an ``invariant`` one, nothing beside a pitch-class key path), the invariant MLP
  ``invariant_projection``, the statistics ``block_statistics``, a pitch-class key path ``key_path``.
- 2: what the encoder computes its embedding with is ``embedding``, what its key head reads (when not the
  embedding) ``key_path`` (``engine.networks.LogFreqCNN``).
A SampleCNN's names never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from engine.model_spec import FORMAT_VERSION
from engine.networks import LogFreqCNNConfig, PathKind, encoder_config_from_dict, path_kinds

CURRENT_LAYOUT = FORMAT_VERSION
OLDEST_LAYOUT = 1
EMBEDDING_PLACE, KEY_PATH_PLACE = "embedding.", "key_path."
# Layout 1 named each path by what it computed, wherever it fed.
LAYOUT_1_PLACES = {
    PathKind.PITCH_POSITION: "projection.",
    PathKind.PITCH_INVARIANT: "invariant_projection.",
    PathKind.BLOCK_STATISTICS: "block_statistics.",
    PathKind.PITCH_CLASS: "key_path.",
}

Tensor = TypeVar("Tensor")


class WeightLayoutError(ValueError):
    """Weights of a layout this engine cannot convert (newer than it, or unknown)."""


def places(config: LogFreqCNNConfig) -> dict[PathKind, str]:
    """Where each path of a current-layout LogFreqCNN with ``config`` keeps its tensors (name prefix)."""
    embedding, key_path = path_kinds(config)
    return {embedding: EMBEDDING_PLACE, **({key_path: KEY_PATH_PLACE} if key_path is not None else {})}


def convert_weights(state: Mapping[str, Tensor], architecture: dict[str, Any], layout: int,
                    prefix: str = "encoder.") -> dict[str, Tensor]:
    """``state`` (a network's tensors by name, the encoder's under ``prefix``) saved under ``layout`` → the
    current layout's names; tensors are passed through untouched. Raises ``WeightLayoutError`` for a layout
    newer than this engine's or older than any it knows."""
    if not OLDEST_LAYOUT <= layout <= CURRENT_LAYOUT:
        raise WeightLayoutError(f"weights of layout {layout}; this engine converts layouts {OLDEST_LAYOUT} to {CURRENT_LAYOUT}")
    config = encoder_config_from_dict(architecture)
    if layout == CURRENT_LAYOUT or not isinstance(config, LogFreqCNNConfig):
        return dict(state)
    return _move_paths(state, LAYOUT_1_PLACES, places(config), prefix)


def carry_over(state: Mapping[str, Tensor], source: dict[str, Any], target: dict[str, Any],
               prefix: str = "encoder.") -> dict[str, Tensor]:
    """Current-layout weights of an encoder with architecture ``source`` renamed for one with ``target``, as a
    finetune that changes the pooling or the key path starts: a path both have moves to the target's place (a
    ``pitch`` model's embedding MLP becomes an ``invariant`` model's key path), one the target lacks is left out,
    and the target's new paths start fresh."""
    source_config, target_config = encoder_config_from_dict(source), encoder_config_from_dict(target)
    if not isinstance(source_config, LogFreqCNNConfig) or not isinstance(target_config, LogFreqCNNConfig):
        return dict(state)
    return _move_paths(state, places(source_config), places(target_config), prefix)


def _move_paths(state: Mapping[str, Tensor], old: dict[PathKind, str], new: dict[PathKind, str],
                prefix: str) -> dict[str, Tensor]:
    """Tensors of each path kind under its ``old`` place moved to its ``new`` one, or dropped where ``new`` has no
    such path (layout 1 kept an invariant model's pitch-position MLP beside a pitch-class key path, unused)."""
    moves = {prefix + place: (prefix + new[kind] if kind in new else None) for kind, place in old.items()}
    converted = {}
    for name, tensor in state.items():
        place = next((place for place in moves if name.startswith(place)), None)
        if place is None:
            converted[name] = tensor
        elif moves[place] is not None:
            converted[moves[place] + name[len(place):]] = tensor
    return converted


__all__ = [
    "CURRENT_LAYOUT", "LAYOUT_1_PLACES", "OLDEST_LAYOUT", "WeightLayoutError", "carry_over", "convert_weights", "places",
]
