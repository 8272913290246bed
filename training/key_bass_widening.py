"""A finetune that gives a pitch-class key path a bass profile (``key_bass_octaves``) starts from a model without
one: its key-path norm and key-head template get room for the new channels, set so the widened network computes
exactly what the starting one did (the new template columns are zero), and training then learns what the bass
profile adds. A finetune that takes the profile away keeps the all-octave half."""

from __future__ import annotations

from typing import Any

import torch

from engine.networks import KeyPath, LogFreqCNNConfig, encoder_config_from_dict

NORM_PREFIX = "encoder.key_path.norm."
# The first layer of the key head's template: its columns are (key-path channel, pitch class), channel-major.
TEMPLATE_WEIGHT = "key_head.template.layers.0.weight"
# A BatchNorm's state for channels that start as a plain standardisation (running statistics not yet seen).
NEW_NORM_VALUES = {"weight": 1.0, "bias": 0.0, "running_mean": 0.0, "running_var": 1.0}


def widen_for_bass(state: dict[str, torch.Tensor], source: dict[str, Any], target: dict[str, Any]) -> dict[str, torch.Tensor]:
    """``state`` (learner weights of an encoder with ``source``) resized for ``target`` when one of the two has a
    bass profile on the same pitch-class key path and the other has none; else ``state`` unchanged. Adding the
    profile keeps the starting model's outputs exactly (new norm channels standardise, new template columns are
    zero); taking it away keeps the all-octave half of the norm and of the template, which then reads only that."""
    source_config, target_config = encoder_config_from_dict(source), encoder_config_from_dict(target)
    if not (isinstance(source_config, LogFreqCNNConfig) and isinstance(target_config, LogFreqCNNConfig)
            and source_config.key_path is KeyPath.PITCH_CLASS and target_config.key_path is KeyPath.PITCH_CLASS
            and (source_config.key_bass_octaves == 0) != (target_config.key_bass_octaves == 0)):
        return state
    adding = target_config.key_bass_octaves > 0
    resized = dict(state)
    for field, value in NEW_NORM_VALUES.items():
        name = NORM_PREFIX + field
        if name in resized:
            norm = resized[name]
            resized[name] = torch.cat([norm, torch.full_like(norm, value)]) if adding else norm[: norm.shape[0] // 2]
    if TEMPLATE_WEIGHT in resized:
        weight = resized[TEMPLATE_WEIGHT]
        resized[TEMPLATE_WEIGHT] = (torch.cat([weight, torch.zeros_like(weight)], dim=1) if adding
                                    else weight[:, : weight.shape[1] // 2])
    return resized


__all__ = ["widen_for_bass"]
