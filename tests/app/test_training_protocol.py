"""The Training tab follows the trainer through its events file alone: the lines it prints for people may say
anything. A stand-in trainer (a real process through QProcess) replays a recorded event stream while printing
reworded messages, among them the wording the tab once parsed."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest

from app import training_view
from app.training_command import LibraryTrainingRequest, TrainingRequest
from app.training_view import PHASE_STATUS, PROGRESS_STATUS, TrainingView
from engine.training_events import EXPORTING, PLANNING, PREPARING, TRAINING, EventWriter
from tests_app_helpers import RESULT_TIMEOUT_MS

STEPS = 6
REPLAY = """
import sys
recorded, events, exit_code = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("finetuning base for 999 steps", file=sys.stderr, flush=True)  # what the tab once read its total from
with open(recorded, encoding="utf-8") as source, open(events, "a", encoding="utf-8") as sink:
    for line in source:
        sink.write(line)
        sink.flush()
        print("Schritt erledigt; exporting nothing", file=sys.stderr, flush=True)
print("FEHLER: das steht nur im Protokoll", file=sys.stderr, flush=True)
sys.exit(exit_code)
"""


def record(path: Path, write) -> Path:
    """An event stream as the trainer writes it; every progress line kept (a clock that moves a second a call)."""
    with EventWriter(open(path, "w", encoding="utf-8"), clock=itertools.count().__next__) as events:
        write(events)
    return path


def replaying(recorded: Path, exit_code: int = 0):
    """An argument builder for the tab: the stand-in trainer replays ``recorded`` into the events file it is given."""
    return lambda _request, events: ["-c", REPLAY, str(recorded), str(events), str(exit_code)]


@pytest.fixture
def view(open_library, task_runner, tmp_path, qtbot, monkeypatch):
    """A Training tab on an empty library; every status it shows is kept in ``view.statuses``, errors in ``view.errors``,
    and its temporary files go to ``view.temporary_folder``."""
    library = open_library(tmp_path / "library.db")
    temporary_folder = tmp_path / "temporary"
    temporary_folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary_folder))  # where the tab makes its events files
    tab = TrainingView(library, task_runner)
    tab.temporary_folder = temporary_folder
    qtbot.addWidget(tab)
    qtbot.waitUntil(lambda: tab.base_box.count() >= 1, timeout=RESULT_TIMEOUT_MS)
    tab.statuses, tab.errors = [], []
    show_status = tab.status.setText
    monkeypatch.setattr(tab.status, "setText", lambda text: (tab.statuses.append(text), show_status(text)))
    monkeypatch.setattr(training_view, "show_error", lambda _parent, _title, message: tab.errors.append(message))
    return tab


def test_the_tab_shows_phases_and_steps_from_the_events_and_ignores_reworded_messages(view, tmp_path, qtbot, monkeypatch):
    def training(events: EventWriter) -> None:
        events.announce(PREPARING)
        events.announce(TRAINING)
        for step in range(1, STEPS + 1):
            events.progress(step, STEPS)
            events.metrics(step, {"loss": 1.0 / step})
        events.done(tmp_path / "run", STEPS, STEPS)

    def exporting(events: EventWriter) -> None:
        events.announce(EXPORTING)
        events.done(tmp_path / "run" / "model")

    monkeypatch.setattr(training_view, "train_arguments", replaying(record(tmp_path / "train.jsonl", training)))
    monkeypatch.setattr(training_view, "export_arguments", replaying(record(tmp_path / "export.jsonl", exporting)))
    labels = tmp_path / "labels.jsonl"
    labels.write_text("{}\n", encoding="utf-8")
    request = TrainingRequest(labels=labels, base_run="", name="tiny", steps=STEPS, run_dir=tmp_path / "run")
    with qtbot.waitSignal(view.model_ready, timeout=RESULT_TIMEOUT_MS) as ready:
        view.start(request)
    assert ready.args == [str(request.model_dir)] and view.errors == []
    progress = [PROGRESS_STATUS[TRAINING].format(step=step, total=STEPS) for step in range(1, STEPS + 1)]
    assert [status for status in view.statuses if status in progress] == progress  # every step, in order
    assert {PHASE_STATUS[PREPARING], PHASE_STATUS[EXPORTING]} <= set(view.statuses)
    assert not any("999" in status for status in view.statuses)
    assert view.status.text().startswith("Finished")
    assert "finetuning base for 999 steps" in view.log.toPlainText()  # people still read every line
    assert list(view.temporary_folder.iterdir()) == []  # the events files are gone


def test_a_failure_is_told_from_the_error_event_in_the_phase_it_names(view, tmp_path, qtbot, monkeypatch):
    reason = "too little to learn from: 0 genre label(s) with at least 10 tracks; tag more tracks or lower --min-tracks"

    def refused(events: EventWriter) -> None:
        events.announce(PLANNING)
        events.error(reason)

    monkeypatch.setattr(training_view, "from_library_arguments", replaying(record(tmp_path / "refused.jsonl", refused), 1))
    view.start(LibraryTrainingRequest(database=Path(str(view.library.db_path)), fields=("genre",), name="too-few"))
    qtbot.waitUntil(lambda: bool(view.errors) and not view.running, timeout=RESULT_TIMEOUT_MS)
    message = view.status.text()
    assert message.startswith("Nothing was trained: Too little to learn from") and "“Min. tracks per value”" in message
    assert "FEHLER" not in message and "exit code" not in message and view.errors == [message]
    assert view.start_button.isEnabled()
