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


def test_a_negative_loss_weight_is_refused_before_a_run_starts():
    from training.config import ConfigError, TrainConfig

    config = TrainConfig()
    config.finetune.key_pooled_weight = -1.0
    with pytest.raises(ConfigError, match="key_pooled_weight"):
        validate(config)
