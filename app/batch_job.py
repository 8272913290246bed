"""A batch of engine calls (one per track) on a worker thread, with throttled progress, cancel and a progress dialog.

Writing tags into files is one engine call per file: ``BatchJob`` runs them off the GUI thread, reports at
most one progress update per ``PROGRESS_INTERVAL_SECONDS`` (so a fast batch never floods the event loop),
and stops between two items when cancelled. ``BatchProgress`` is the window-modal dialog that shows it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from app.errors import describe_error
from app.tasks import TaskRunner

PROGRESS_INTERVAL_SECONDS = 0.1


class BatchJob(QObject):
    """``work(item)`` for each item, in order, on the background pool.

    ``progressed(done, total)`` throttled; ``finished(results, cancelled)`` with one result per item done;
    ``failed(message)`` when ``work`` raised (the items before it are done, the rest are not).
    """

    progressed = Signal(int, int)
    finished = Signal(object, bool)
    failed = Signal(str)

    def __init__(self, items: Sequence[Any], work: Callable[[Any], Any], tasks: TaskRunner,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.items = list(items)
        self.work = work
        self.cancel_requested = threading.Event()
        self.running = False

    def start(self) -> None:
        self.running = True
        self.finished.connect(self._stopped)
        self.failed.connect(self._stopped)
        self.tasks.start(self._run)

    def cancel(self) -> None:
        self.cancel_requested.set()

    def _stopped(self, *_: object) -> None:
        self.running = False

    def _run(self) -> None:
        results: list[Any] = []
        total = len(self.items)
        last_report = 0.0
        try:
            for item in self.items:
                if self.cancel_requested.is_set():
                    break
                results.append(self.work(item))
                now = time.monotonic()
                if now - last_report >= PROGRESS_INTERVAL_SECONDS:
                    last_report = now
                    self.progressed.emit(len(results), total)
        except Exception as error:  # an unexpected failure is a message, never a traceback
            self.failed.emit(describe_error(error))
            return
        self.progressed.emit(len(results), total)
        self.finished.emit(results, self.cancel_requested.is_set() and len(results) < total)


class BatchProgress(QProgressDialog):
    """A window-modal progress dialog for a ``BatchJob``: "Writing keys: 3 of 10", Cancel stops after the current file."""

    def __init__(self, job: BatchJob, label: str, parent: QWidget | None = None) -> None:
        cancel_text = QCoreApplication.translate("BatchProgress", "Cancel")  # self.tr needs the object built first
        super().__init__(label, cancel_text, 0, max(1, len(job.items)), parent)
        self.job = job
        self.label = label
        self.setWindowTitle(label)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.canceled.connect(self._cancel)
        job.progressed.connect(self._show_progress)
        job.finished.connect(lambda *_: self.close())
        job.failed.connect(lambda *_: self.close())
        self.setValue(0)

    def _show_progress(self, done: int, total: int) -> None:
        self.setMaximum(max(1, total))
        self.setValue(done)
        self.setLabelText(self.tr("{label}: {done:,} of {total:,}").format(label=self.label, done=done, total=total))

    def _cancel(self) -> None:
        self.setLabelText(self.tr("Stopping after the current file…"))
        self.job.cancel()
