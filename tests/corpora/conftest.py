"""A two-piece tonal test set, rendered once for the tests of the set and of its evaluation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TONAL_TEST_SEED = 20


@pytest.fixture(scope="session")
def rendered_tonal_set(tmp_path_factory) -> Path:
    """The folder of pieces 0 and 1 (seed ``TONAL_TEST_SEED``) built by ``build_tonal_test_set``."""
    from training.evaluation.tonal_test_set import SOUNDFONT, build_tonal_test_set

    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        pytest.skip("fluidsynth or the held-out sound font is not installed")
    out = tmp_path_factory.mktemp("tonal-test")
    build_tonal_test_set(out, pieces=2, seed=TONAL_TEST_SEED, workers=2)
    return out
