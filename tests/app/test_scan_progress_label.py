"""The app's scan label says what the CLI's bar says: files found, analysed, files per second and time left, from
the start of a streaming index run (the scan still walking) to its end."""

from __future__ import annotations

from PySide6.QtCore import QThread, Signal

from engine.results import IndexProgress, IndexReport

SCAN_TIMEOUT_MS = 30_000

# What the engine reports through a run (``Library.index``'s progress callback), and what the panel then says.
EVENTS_AND_LABELS = [
    (IndexProgress("scan", 0, 0, 0.0, 0.0, scan_finished=False), "Looking for music files…"),
    (IndexProgress("analyse", 0, 0, 1.0, 0.0, files_found=800, scan_finished=False),
     "Looking for music files… 800 found…"),
    (IndexProgress("analyse", 30, 400, 10.0, 750.0, files_found=2400, scan_finished=False),
     "2,400 found… · 30 / 400 analysed · 3.0 files/s · 2:03 left (so far)"),
    (IndexProgress("analyse", 300, 400, 100.0, 7500.0, files_found=4000, scan_finished=True),
     "4,000 files · 300 / 400 analysed · 3.0 files/s · 0:33 left"),
]


class ScriptedScan(QThread):
    """Stands in for ``IndexThread``: sends the engine's progress events as the child process would (through
    ``status_from_progress``), then a report."""

    progressed = Signal(object)
    completed = Signal(object)
    failed = Signal(str)

    def __init__(self, library, paths=None, parent=None) -> None:
        super().__init__(parent)

    def cancel(self) -> None:
        pass

    def run(self) -> None:
        from app.index_worker import status_from_progress

        for event, _ in EVENTS_AND_LABELS:
            self.progressed.emit(status_from_progress(event, event.seconds))
        self.completed.emit(IndexReport(added=400, unchanged=3600))


def test_the_scan_label_shows_found_analysed_rate_and_time_left_from_the_start(make_window, indexed_copy, qtbot,
                                                                              monkeypatch):
    from app import folders_panel

    monkeypatch.setattr(folders_panel, "IndexThread", ScriptedScan)
    window = make_window(indexed_copy)
    panel = window.folders_panel
    shown = []
    panel.scan_progressed.connect(lambda _status: shown.append((panel.status_label.text(), window.scan_label.text())))
    with qtbot.waitSignal(panel.scan_finished, timeout=SCAN_TIMEOUT_MS):
        panel.start_scan()
    assert [label for label, _ in shown] == [label for _, label in EVENTS_AND_LABELS]
    assert [bar for _, bar in shown] == [f"Scanning: {label}" for _, label in EVENTS_AND_LABELS]
    assert panel.status_label.text().startswith("Scan finished: 400 added, 3600 unchanged")


def test_the_app_and_the_cli_read_the_same_rate_and_time_left():
    from app.index_worker import status_from_progress
    from engine.progress_text import found_text, time_left_text

    event = EVENTS_AND_LABELS[2][0]
    status = status_from_progress(event, elapsed_seconds=event.seconds)
    assert status.progress == event
    assert status.eta_seconds == event.seconds_left and status.realtime_factor == event.realtime_factor
    label = folders_text(status)
    assert found_text(event) in label and time_left_text(event) in label and f"{event.files_per_second:.1f}" in label


def folders_text(status) -> str:
    from app.folders_panel import progress_text

    return progress_text(status)
