"""Every training recipe in training/configs parses and validates, so a typo surfaces here, not an hour into a run."""

from pathlib import Path

import pytest

from training.config import load_config, validate

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "training" / "configs").glob("*.toml"))


def test_the_recipes_folder_is_found():
    assert CONFIGS


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_a_shipped_recipe_loads_and_validates(path: Path):
    config = load_config(path)
    validate(config)
    assert config.run.steps > 0
