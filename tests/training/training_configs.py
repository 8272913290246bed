"""The small CPU-quick training config that several training tests build on.

A module of its own, not ``conftest``: ``from conftest import ...`` finds whichever conftest was imported
first, so it failed when tests/app was collected before tests/training in one command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.config import config_from_dict

SMALL_ENCODER = {"type": "logfreqcnn", "channels": [8, 16, 32, 64], "embedding_dim": 512}


def small_config(manifest: Path, cache: Path, output: Path, **sections):
    """A CPU-quick pretraining config on the chord corpus (narrow LogFreqCNN, 8 clips x 2 views)."""
    return config_from_dict(small_config_values(manifest, cache, output, **sections))


def small_config_values(manifest: Path, cache: Path, output: Path, **sections) -> dict[str, dict[str, Any]]:
    """``small_config`` as TOML sections (for a config file the command line reads)."""
    values = {
        "run": {"output_dir": str(output), "steps": 4, "log_every": 1, "checkpoint_every": 2, "progress": False, "seed": 5},
        "encoder": dict(SMALL_ENCODER),
        "data": {"unlabeled_manifest": str(manifest), "labeled_manifest": str(manifest), "cache_dir": str(cache),
                 "batch_size": 8, "decode_workers": 2},
        "optim": {"lr": 1e-3},
    }
    for name, overrides in sections.items():
        values.setdefault(name, {}).update(overrides)
    return values
