"""The from-library stages on their own typed inputs: the settings a plan keeps (what a rerun must match, in the
words earlier runs wrote) and the training config the run stage points at one run's folders."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.model_folder import load_model
from engine.run_folder import CustomModelFolders
from training.from_library_plan import (
    LABELED_MANIFEST, UNLABELED_MANIFEST, FromLibraryError, FromLibrarySettings, PlannedRun, check_name,
    recorded_settings,
)
from training.from_library_run import CACHE_FOLDER, training_config
from training.library_labels import LabelPlan

EMPTY_PLAN = LabelPlan(fields=["genre"], min_tracks=3, labels_by_track={}, label_counts={}, dropped_counts={},
                       train_labeled=[], held_out=[], unlabeled=[], held_out_groups=[], total_tracks=0)


@pytest.fixture(scope="module")
def base_model(test_model_builder, tmp_path_factory):
    return load_model(test_model_builder(tmp_path_factory.mktemp("base") / "model"))


def test_a_plan_keeps_the_settings_as_earlier_runs_wrote_them():
    settings = FromLibrarySettings(("genre", "mood"), min_tracks=3)
    assert settings.model_name == "library-genre-mood"
    assert recorded_settings(settings, "base-123") == {
        "fields": ["genre", "mood"], "min_tracks": 3, "holdout_share": 0.2, "max_unlabeled": 1000, "seed": 0,
        "base_model": "base-123",
    }


def test_a_name_no_folder_can_have_is_refused():
    with pytest.raises(FromLibraryError):
        check_name(FromLibrarySettings(("genre",), name="../escape"))


def test_the_training_config_points_at_the_runs_folders_and_the_base_model(base_model, tmp_path):
    settings = FromLibrarySettings(("genre",), name="mine", steps=7, seed=2)
    folders = CustomModelFolders.of(tmp_path / "library.db", settings.model_name)
    config = training_config(PlannedRun(settings, base_model, folders, {}, EMPTY_PLAN))
    assert (config.run.name, config.run.output_dir, config.run.seed) == ("mine", str(folders.run_dir), 125)
    assert config.run.steps == 7 and config.optim.warmup_steps == 1  # a short run shortens the warm-up too
    assert config.data.cache_dir == str(folders.run_dir / CACHE_FOLDER)
    assert config.finetune.init_from == str(base_model.folder)
    assert config.finetune.manifest == str(folders.run_dir / LABELED_MANIFEST)
    assert config.finetune.unlabeled_manifest == str(folders.run_dir / UNLABELED_MANIFEST)
    assert config.finetune.key_weight > 0  # the base model has a key head to keep training

    keyless = replace(base_model, config=replace(base_model.config, key_head=None))
    assert training_config(PlannedRun(settings, keyless, folders, {}, EMPTY_PLAN)).finetune.key_weight == 0.0
