"""The key breakdown of `engine eval --tonal-test`: MIREX relations, splits by mode and minor kind, and the
report section, on pieces the tonal test generator rendered (the ``rendered_tonal_set`` fixture)."""

from __future__ import annotations

import json

import pytest

from engine.keys import Key
from training.evaluation.key_breakdown import RELATIONS, key_breakdown, key_relation


def test_key_relations_follow_the_mirex_categories():
    c_major = Key(0, "major")
    assert [key_relation(estimate, c_major) for estimate in
            (Key(0, "major"), Key(7, "major"), Key(5, "major"), Key(9, "minor"), Key(0, "minor"), Key(2, "minor"))] == [
        "exact", "fifth", "fifth", "relative", "parallel", "other"]


def test_key_breakdown_splits_errors_by_mode_and_minor_kind():
    records = [{"mode": "major", "minor_kind": "", "drums": False}, {"mode": "minor", "minor_kind": "dorian", "drums": True},
               {"mode": "minor", "minor_kind": "harmonic", "drums": False}]
    reference = [Key(0, "major"), Key(2, "minor"), Key(9, "minor")]
    estimated = [Key(9, "minor"), Key(2, "minor"), Key(4, "minor")]
    breakdown = key_breakdown(estimated, reference, records)
    assert breakdown["by_mode"]["major"]["relative"] == 1.0
    assert breakdown["by_minor_kind"]["dorian"]["exact"] == 1.0
    assert breakdown["by_minor_kind"]["harmonic"]["fifth"] == 1.0
    assert set(breakdown["by_minor_kind"]) == {"dorian", "harmonic"}
    assert breakdown["all"]["accuracy"] == pytest.approx(1 / 3)


def test_engine_eval_reports_the_tonal_test_set_with_its_error_breakdown(rendered_tonal_set, model_dir, tmp_path, capsys):
    from training.corpora.cli import main as data_main
    from training.evaluation.cli import main as eval_main

    assert data_main(["tonal-test", "--out", str(rendered_tonal_set), "--pieces", "2", "--workers", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rendered_now"] == 0
    manifest = rendered_tonal_set / "manifest.jsonl"
    no_tracks = tmp_path / "no-tracks.jsonl"  # nothing for the soundtrack-based sections to read
    no_tracks.write_text("")
    code = eval_main(["--model", str(model_dir), "--tonal-test", str(manifest), "--debian", str(no_tracks),
                      "--skip-renders", "--skip-soundtracks", "--no-corruptions", "--no-essentia",
                      "--out", str(tmp_path / "report"), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)["tonal_test"]
    assert result["pieces"] == 2 and set(result["key"]) == {"ks_chroma", "model"}
    clean = result["key"]["ks_chroma"]["clean"]
    assert clean["all"]["count"] == 2 and sum(clean["all"][name] for name in RELATIONS) == pytest.approx(1.0)
    assert clean["all"]["exact"] == 1.0  # these two renders sound in their labelled keys (test_tonal_test_set)
    assert sum(entry["count"] for entry in clean["by_mode"].values()) == 2
    assert "independent tonal test set" in (tmp_path / "report" / "evaluation.md").read_text()


def test_engine_eval_refuses_a_manifest_that_is_not_a_tonal_test_set(tmp_path, capsys):
    from training.evaluation.cli import main as eval_main

    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"path": "x.flac", "split": "train", "key": "A minor", "duration": 1.0}) + "\n")
    assert eval_main(["--tonal-test", str(manifest), "--skip-renders", "--skip-soundtracks", "--no-corruptions",
                      "--no-essentia", "--out", str(tmp_path / "report")]) == 1
    assert "not a tonal test record" in capsys.readouterr().err
