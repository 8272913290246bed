"""`engine train attach-evaluation`: a model folder's config metrics are read from the report beside it, never
written apart from it; a report of another model, or something that is no report, is refused and changes nothing."""

from __future__ import annotations

import json
import shutil

import pytest

from engine.model_folder import DEFAULT_MODEL_DIR, default_model_available, load_model
from training.cli import main
from training.evaluation.attach import EVALUATION_FILE, headline_metrics

pytestmark = pytest.mark.skipif(not default_model_available(), reason="no shipped default model in this checkout")


def _report_without_tempo(tmp_path):
    report = json.loads((DEFAULT_MODEL_DIR / EVALUATION_FILE).read_text(encoding="utf-8"))
    tempo = report.pop("tempo", None)
    path = tmp_path / "evaluation.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return report, tempo, path


def test_the_shipped_folder_carries_its_own_evaluations_figures():
    config = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text(encoding="utf-8"))
    report = json.loads((DEFAULT_MODEL_DIR / EVALUATION_FILE).read_text(encoding="utf-8"))
    expected = headline_metrics(report)
    assert {name: config["metrics"].get(name) for name in expected} == expected


def test_attaching_sets_the_metrics_from_the_report_and_keeps_sections_it_lacks(tmp_path, capsys):
    folder = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, folder)
    weights_before = (folder / "weights.safetensors").read_bytes()
    report, tempo, report_path = _report_without_tempo(tmp_path)
    report["tonal_test"]["key"]["model"]["clean"]["all"]["mirex"] = 0.5  # a different run's figure
    report_path.write_text(json.dumps(report), encoding="utf-8")
    assert main(["attach-evaluation", str(folder), str(report_path), "--stage", "a test stage"]) == 0
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["metrics"]["key_tonal_test_clean"]["mirex"] == 0.5 and config["stage"] == "a test stage"
    assert json.loads(capsys.readouterr().out) == config["metrics"]
    attached = json.loads((folder / EVALUATION_FILE).read_text(encoding="utf-8"))
    assert attached["tonal_test"]["key"]["model"]["clean"]["all"]["mirex"] == 0.5
    assert tempo is None or attached["tempo"] == tempo  # measured apart, kept from the folder's previous report
    assert (folder / "weights.safetensors").read_bytes() == weights_before
    assert load_model(folder).model_id == load_model(DEFAULT_MODEL_DIR).model_id


def test_a_report_of_another_model_or_no_report_is_refused_and_changes_nothing(tmp_path, capsys):
    folder = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, folder)
    config_before = (folder / "config.json").read_bytes()
    report, _, report_path = _report_without_tempo(tmp_path)
    report["model"] = "someone-else"
    report_path.write_text(json.dumps(report), encoding="utf-8")
    assert main(["attach-evaluation", str(folder), str(report_path)]) == 1
    assert "someone-else" in capsys.readouterr().err
    not_a_report = tmp_path / "notes.json"
    not_a_report.write_text("[1, 2]", encoding="utf-8")
    assert main(["attach-evaluation", str(folder), str(not_a_report)]) == 1
    assert main(["attach-evaluation", str(tmp_path / "nowhere"), str(report_path)]) == 1
    assert (folder / "config.json").read_bytes() == config_before


def test_a_report_of_other_weights_under_the_same_name_is_refused(tmp_path, capsys):
    """A finetuned copy exported under the shipped model's name must not take its figures: the report names the
    weights it measured."""
    folder = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, folder)
    config_before = (folder / "config.json").read_bytes()
    report, _, report_path = _report_without_tempo(tmp_path)
    report["weights_sha256"] = "0" * 64  # another network, the same name
    report_path.write_text(json.dumps(report), encoding="utf-8")
    assert main(["attach-evaluation", str(folder), str(report_path)]) == 1
    assert "other weights" in capsys.readouterr().err
    assert (folder / "config.json").read_bytes() == config_before
    report["weights_sha256"] = load_model(folder).weights_sha256  # the weights it holds: attached
    report_path.write_text(json.dumps(report), encoding="utf-8")
    assert main(["attach-evaluation", str(folder), str(report_path)]) == 0
