"""Per-tag calibration read from a model folder's config.json decides which tags are worth showing."""

from __future__ import annotations

import json

import pytest

from engine.tag_calibration import (
    TagCalibration,
    TagCalibrationError,
    calibrated_probability,
    calibration_from_tag_head,
    has_shown_tags,
    informative_tags,
    load_tag_calibration,
    shown_tag_probabilities,
)

PROBABILITIES = {"choir": 0.81, "mallet": 0.77, "strings": 0.42, "brass": 0.10}


def write_config(folder, calibration=None):
    tags = {"labels": list(PROBABILITIES), "hidden_dim": 0}
    if calibration is not None:
        tags["calibration"] = calibration
    (folder / "config.json").write_text(json.dumps({"name": "m", "heads": {"tags": tags}}), encoding="utf-8")
    return folder


def test_calibration_is_read_from_heads_tags_in_config_json(tmp_path):
    folder = write_config(tmp_path, {
        "choir": {"threshold": 0.9, "shown": True, "held_out_ap": 0.61, "real_fire_rate": 0.83},
        "strings": {"threshold": 0.3, "shown": True, "held_out_ap": 0.72, "real_fire_rate": 0.2},
        "mallet": {"threshold": 0.5, "shown": False, "held_out_ap": 0.2, "real_fire_rate": 0.88},
    })
    calibrations = load_tag_calibration(folder)
    assert calibrations["choir"] == TagCalibration(threshold=0.9, shown=True, held_out_ap=0.61, real_fire_rate=0.83)
    assert [name for name, _ in informative_tags(PROBABILITIES, calibrations)] == ["strings"]
    assert has_shown_tags(calibrations)


def test_a_model_without_calibration_keeps_every_tag_most_probable_first(tmp_path):
    assert load_tag_calibration(write_config(tmp_path)) is None
    assert informative_tags(PROBABILITIES, None) == sorted(PROBABILITIES.items(), key=lambda item: -item[1])
    assert informative_tags(list(PROBABILITIES.items())[:2], None) == [("choir", 0.81), ("mallet", 0.77)]
    assert has_shown_tags(None)


def test_a_model_whose_tags_are_all_hidden_has_no_useful_tags():
    calibrations = calibration_from_tag_head({"calibration": {name: {"threshold": 0.5, "shown": False}
                                                              for name in PROBABILITIES}})
    assert informative_tags(PROBABILITIES, calibrations) == []
    assert not has_shown_tags(calibrations)


def test_a_malformed_calibration_entry_names_the_label(tmp_path):
    with pytest.raises(TagCalibrationError, match="choir"):
        calibration_from_tag_head({"calibration": {"choir": {"shown": True}}})
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TagCalibrationError, match="config.json"):
        load_tag_calibration(tmp_path)


def test_engine_tag_reports_only_shown_labels_with_their_threshold_at_one_half():
    calibrations = {"choir": TagCalibration(threshold=0.9, shown=True), "strings": TagCalibration(threshold=0.3, shown=True),
                    "mallet": TagCalibration(threshold=0.5, shown=False)}
    shown = shown_tag_probabilities(PROBABILITIES, calibrations)
    assert set(shown) == {"choir", "strings"}  # mallet hidden, brass not calibrated
    assert shown["choir"] < 0.5 < shown["strings"]  # 0.81 is under choir's 0.9; 0.42 is over strings' 0.3
    assert calibrated_probability(0.9, 0.9) == pytest.approx(0.5) and calibrated_probability(0.3, 0.3) == pytest.approx(0.5)
    assert calibrated_probability(0.6, 0.3) < calibrated_probability(0.7, 0.3) < 1.0  # order kept
    assert shown_tag_probabilities(PROBABILITIES, None) == PROBABILITIES
