"""Fixtures for the training engine: a synthesised chord corpus in four keys, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.keys import Key
from training.synthetic import write_chord_corpus

CORPUS_KEYS = [Key(0, "major"), Key(4, "major"), Key(9, "minor"), Key(2, "minor")]


@pytest.fixture(scope="session")
def chord_manifest(tmp_path_factory) -> Path:
    """4 keys x 8 tracks of 9 s at 16 kHz; 2 tracks per key in split "test"."""
    return write_chord_corpus(tmp_path_factory.mktemp("chords"), CORPUS_KEYS, tracks_per_key=8, seconds=9.0, seed=3)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")
