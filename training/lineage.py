"""What a model exported from a finetune inherits from the model folder it started from.

A stage that trains only the key path (v1.3.2's) hands on a network whose embedding and tag outputs are the
starting model's to the bit. Its config.json must then say where it came from (the earlier stages, the folded-in
embedding centre) and keep what was measured on those outputs: the tag calibration and the search settings.
Both are only valid while the outputs are unchanged, so they are carried only when every weight outside the key
path and key head is the starting model's exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.model_folder import load_model
from training.resolve import is_model_folder

KEY_ONLY_PREFIXES = ("encoder.key_path.", "key_head.")  # the weights that feed only the key logits
PROVENANCE_KEYS = ("embedding_centre",)  # training records about weights the new model still holds unchanged


def start_folder(summary: dict[str, Any]) -> Path | None:
    """The model folder a finetune run started from, when it was one and is still where the run found it."""
    init_from = summary.get("config", {}).get("finetune", {}).get("init_from") or ""
    return Path(init_from) if init_from and is_model_folder(Path(init_from)) else None


def outputs_unchanged(network: torch.nn.Module, start: torch.nn.Module) -> bool:
    """True when every weight and buffer that reaches the embedding or the tag logits equals the start's."""
    own, theirs = network.state_dict(), start.state_dict()
    shared = [name for name in own if not name.startswith(KEY_ONLY_PREFIXES)]
    if {name for name in theirs if not name.startswith(KEY_ONLY_PREFIXES)} != set(shared):
        return False
    return all(own[name].shape == theirs[name].shape and torch.equal(own[name], theirs[name]) for name in shared)


def inherited(folder: Path, network: torch.nn.Module) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """(training fields, tag head entry, search settings) the exported model takes from the model in ``folder``:
    its stages as ``earlier_stages`` (oldest first) always; its provenance records, tag head entry (labels and
    calibration) and search settings only when ``network``'s embedding and tag outputs are unchanged."""
    start = load_model(folder)
    record = {name: value for name, value in start.config.training.items() if name != "earlier_stages"}
    training: dict[str, Any] = {"earlier_stages": [*start.config.training.get("earlier_stages", []), record]}
    if not outputs_unchanged(network, start.network):
        return training, None, {}
    training.update({name: start.config.training[name] for name in PROVENANCE_KEYS if name in start.config.training})
    return training, start.config.tag_head, dict(start.config.search)


__all__ = ["inherited", "outputs_unchanged", "start_folder"]
