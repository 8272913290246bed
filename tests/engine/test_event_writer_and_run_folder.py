"""The training event stream's writer and reader, and the run folder's layout, without any training (torch-free)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from engine.run_folder import find_run_folders, latest_checkpoint, read_architecture, read_metrics
from engine.training_events import (
    PROGRESS_INTERVAL_SECONDS, REEMBEDDING, TRAINING, EventWriter, TrainingEvent, parse_event_line,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def written(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_progress_is_thinned_but_the_first_and_last_step_of_a_phase_always_come():
    stream, clock = io.StringIO(), FakeClock()
    events = EventWriter(stream, clock)
    events.announce(TRAINING)
    for step in range(1, 11):  # ten steps within one interval
        events.progress(step, 10)
    clock.now += PROGRESS_INTERVAL_SECONDS
    events.announce(REEMBEDDING)
    events.progress(1, 3)
    clock.now += PROGRESS_INTERVAL_SECONDS
    events.progress(2, 3)
    lines = written(stream)
    assert [(line["event"], line["phase"], line.get("step")) for line in lines] == [
        ("phase", TRAINING, None), ("progress", TRAINING, 1), ("progress", TRAINING, 10),
        ("phase", REEMBEDDING, None), ("progress", REEMBEDDING, 1), ("progress", REEMBEDDING, 2),
    ]
    assert all(isinstance(line["time"], float) for line in lines)


def test_an_error_carries_the_phase_it_happened_in_and_non_finite_metrics_become_null():
    stream = io.StringIO()
    events = EventWriter(stream)
    events.announce(TRAINING)
    events.metrics(3, {"step": 3, "loss": float("nan"), "lr": 0.1, "diverged": True, "note": "text"})
    events.error("loss became nan at step 3")
    metrics, error = written(stream)[1:]
    assert metrics["metrics"] == {"loss": None, "lr": 0.1} and metrics["step"] == 3
    assert error == {"event": "error", "time": error["time"], "phase": TRAINING, "reason": "loss became nan at step 3"}


def test_a_reader_ignores_fields_added_later_and_lines_that_are_not_events():
    line = json.dumps({"event": "progress", "phase": "training", "step": 5, "total": 9, "time": 1.5, "eta_s": 30})
    assert parse_event_line(line) == TrainingEvent("progress", "training", step=5, total=9, time=1.5)
    assert parse_event_line("epoch 3 of 9, loss 0.4") is None
    assert parse_event_line('{"step": 5}') is None and parse_event_line("[1, 2]") is None


def test_a_stream_that_fails_is_dropped_with_a_warning_and_training_goes_on(capsys):
    stream = io.StringIO()
    events = EventWriter(stream)
    stream.close()  # as a closed pipe would
    events.announce(TRAINING)
    events.progress(1, 2)
    assert not events.enabled
    assert capsys.readouterr().err.count("warning: training events") == 1


def test_the_run_folder_is_read_from_its_files_alone(tmp_path):
    run_dir = tmp_path / "runs" / "tiny"
    (run_dir / "checkpoints" / "step_0000002").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"architecture": {"type": "logfreqcnn"}}), encoding="utf-8")
    (run_dir / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.5}\n', encoding="utf-8")
    assert latest_checkpoint(run_dir) is None and find_run_folders(run_dir.parent) == []
    (run_dir / "checkpoints" / "latest").write_text("step_0000002", encoding="utf-8")
    assert latest_checkpoint(run_dir) is None  # named, but its weights are not written yet
    (run_dir / "checkpoints" / "step_0000002" / "model.safetensors").write_bytes(b"")
    assert latest_checkpoint(run_dir) == run_dir / "checkpoints" / "step_0000002"
    assert find_run_folders(run_dir.parent) == [run_dir]
    assert read_architecture(run_dir) == {"type": "logfreqcnn"} and read_architecture(tmp_path) is None
    assert [record["loss"] for record in read_metrics(run_dir)] == [2.0, 1.5] and read_metrics(tmp_path) == []


def test_the_protocol_modules_load_without_torch():
    probe = ("import sys, engine.run_folder, engine.training_events, engine.toml_writer; "
             "print(sorted(name for name in ('torch', 'av') if name in sys.modules))")
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert completed.stdout.strip() == "[]"
