"""Fixtures for the training engine: a synthesised chord corpus in four keys, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.keys import Key
from training.config import config_from_dict
from training.synthetic import write_chord_corpus

CORPUS_KEYS = [Key(0, "major"), Key(4, "major"), Key(9, "minor"), Key(2, "minor")]
SMALL_ENCODER = {"type": "logfreqcnn", "channels": [8, 16, 32, 64], "embedding_dim": 512}


@pytest.fixture(scope="session")
def chord_manifest(tmp_path_factory) -> Path:
    """4 keys x 8 tracks of 9 s at 16 kHz; 2 tracks per key in split "test"."""
    return write_chord_corpus(tmp_path_factory.mktemp("chords"), CORPUS_KEYS, tracks_per_key=8, seconds=9.0, seed=3)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def small_config(manifest: Path, cache: Path, output: Path, **sections):
    """A CPU-quick pretraining config on the chord corpus (narrow LogFreqCNN, 8 clips x 2 views)."""
    values = {
        "run": {"output_dir": str(output), "steps": 4, "log_every": 1, "checkpoint_every": 2, "progress": False, "seed": 5},
        "encoder": dict(SMALL_ENCODER),
        "data": {"unlabeled_manifest": str(manifest), "labeled_manifest": str(manifest), "cache_dir": str(cache),
                 "batch_size": 8, "decode_workers": 2},
        "optim": {"lr": 1e-3},
    }
    for name, overrides in sections.items():
        values.setdefault(name, {}).update(overrides)
    return config_from_dict(values)
