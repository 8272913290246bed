"""Run a function off the GUI thread and hear back through signals (Picard's ``thread.run_task``).

Widgets never call the engine on the GUI thread: they hand a closure to ``TaskRunner.run`` and get its
result (or a one-line error) delivered on the GUI thread through a queued signal. The runner, and with it the
worker threads, belongs to the application: ``app.application`` creates one at start-up and passes it to the
main window, which passes it to every view; nothing here is global.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.errors import describe_error

# Tasks the GUI waits on to draw (table pages, details) get their own pool so that a slow job
# (analysing a dropped file, projecting the map) never delays scrolling.
INTERACTIVE = "interactive"
BACKGROUND = "background"
THREADS_PER_POOL = {INTERACTIVE: 2, BACKGROUND: 2}
SHUTDOWN_WAIT_MS = 30000


class TaskSignals(QObject):
    """Carries a task's outcome back to the thread that owns this object (the GUI thread)."""

    finished = Signal(object)
    failed = Signal(str)


class _Task(QRunnable):
    def __init__(self, function: Callable[[], Any], signals: TaskSignals) -> None:
        super().__init__()
        self.function = function
        self.signals = signals

    def run(self) -> None:
        try:
            result = self.function()
        except Exception as error:  # every failure becomes a message for the user, never a traceback
            self.signals.failed.emit(describe_error(error))
        else:
            self.signals.finished.emit(result)


class TaskRunner:
    """The app's worker threads: an interactive and a background pool, and the signal objects of the tasks
    still running (kept alive until each reports)."""

    def __init__(self) -> None:
        self._pools: dict[str, QThreadPool] = {}
        for kind, threads in THREADS_PER_POOL.items():
            created = QThreadPool()
            created.setMaxThreadCount(threads)
            created.setExpiryTimeout(-1)
            self._pools[kind] = created
        self._live_signals: set[TaskSignals] = set()

    def run(
        self,
        function: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None],
        kind: str = INTERACTIVE,
    ) -> TaskSignals:
        """Start ``function()`` on a worker thread; ``on_done(result)`` or ``on_error(message)`` runs on the GUI
        thread."""
        signals = TaskSignals()
        self._live_signals.add(signals)

        def release(*_: object) -> None:
            self._live_signals.discard(signals)

        signals.finished.connect(on_done)
        signals.failed.connect(on_error)
        signals.finished.connect(release)
        signals.failed.connect(release)
        self.start(_Task(function, signals), kind)
        return signals

    def start(self, work: QRunnable | Callable[[], None], kind: str = BACKGROUND) -> None:
        """Run ``work`` that reports by its own signals (a batch of file writes) in the ``kind`` pool."""
        self._pools[kind].start(work)

    def all_idle(self) -> bool:
        """True when no task is running or queued in any pool (start-up work has finished)."""
        return all(each.activeThreadCount() == 0 for each in self._pools.values())

    def wait_for_all(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Block until every pool is idle (used on shutdown, before the library closes)."""
        return all(each.waitForDone(timeout_ms) for each in self._pools.values())
