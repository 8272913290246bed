"""``engine train ... --events FILE``: what a program following a run reads instead of the messages for people."""

from __future__ import annotations

from pathlib import Path

from training_configs import small_config_values
from engine.toml_writer import toml_document
from engine.training_events import (
    CHECKPOINT, DONE, ERROR, EXPORTING, METRICS, PHASE, PREPARING, PROGRESS, TRAINING, read_events,
)
from training import cli

STEPS = 4


def write_config(path: Path, sections: dict) -> Path:
    path.write_text(toml_document(sections), encoding="utf-8")
    return path


def test_a_tiny_run_reports_its_phases_steps_metrics_checkpoints_and_end(chord_manifest, shared_cache, tmp_path, capsys):
    run_dir = tmp_path / "run"
    config = write_config(tmp_path / "tiny.toml", small_config_values(
        chord_manifest, shared_cache, run_dir, run={"steps": STEPS, "checkpoint_every": 2}))
    events_file = tmp_path / "events.jsonl"
    assert cli.main(["pretrain", "--config", str(config), "--events", str(events_file)]) == cli.EXIT_OK
    assert f"pretrain: {STEPS} steps" in capsys.readouterr().err  # the line for people is still there
    events = read_events(events_file)
    assert [event.phase for event in events if event.event == PHASE] == [PREPARING, TRAINING]
    progress = [event for event in events if event.event == PROGRESS]
    assert progress[0].step == 1 and progress[-1].step == progress[-1].total == STEPS  # first and last always come
    assert all(event.phase == TRAINING and event.total == STEPS for event in progress)
    assert [event.step for event in progress] == sorted({event.step for event in progress})
    metrics = [event for event in events if event.event == METRICS]
    assert [event.step for event in metrics] == list(range(1, STEPS + 1)) and "loss" in metrics[0].metrics
    checkpoints = [(event.step, Path(event.path)) for event in events if event.event == CHECKPOINT]
    assert checkpoints == [(2, run_dir / "checkpoints" / "step_0000002"), (4, run_dir / "checkpoints" / "step_0000004")]
    end = events[-1]
    assert (end.event, end.step, end.total, Path(end.path)) == (DONE, STEPS, STEPS, run_dir)

    export_events = tmp_path / "export-events.jsonl"
    model_dir = tmp_path / "model"
    assert cli.main(["export", str(run_dir), "--out", str(model_dir), "--events", str(export_events)]) == cli.EXIT_OK
    exported = read_events(export_events)
    assert [(event.event, event.phase) for event in exported] == [(PHASE, EXPORTING), (DONE, EXPORTING)]
    assert Path(exported[-1].path) == model_dir


def test_a_refused_run_ends_with_an_error_event_giving_the_reason_and_phase(chord_manifest, shared_cache, tmp_path, capsys):
    missing = tmp_path / "no-such-manifest.jsonl"
    config = write_config(tmp_path / "broken.toml", small_config_values(
        chord_manifest, shared_cache, tmp_path / "run", data={"unlabeled_manifest": str(missing)}))
    events_file = tmp_path / "events.jsonl"
    assert cli.main(["pretrain", "--config", str(config), "--events", str(events_file)]) == cli.EXIT_BAD_INPUT
    events = read_events(events_file)
    assert [event.event for event in events] == [PHASE, ERROR]
    error = events[-1]
    assert error.phase == PREPARING and str(missing) in error.reason
    assert capsys.readouterr().err.strip() == f"error: {error.reason}"  # the same reason as the line for people


def test_an_events_file_that_cannot_be_written_is_refused_in_one_line(tmp_path, capsys):
    unwritable = tmp_path / "no-such-folder" / "events.jsonl"
    code = cli.main(["export", str(tmp_path), "--out", str(tmp_path / "model"), "--events", str(unwritable)])
    assert code == cli.EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(unwritable) in error
