"""Run a function off the GUI thread and hear back through signals (Picard's ``thread.run_task``).

Widgets never call the engine on the GUI thread: they hand a closure to ``run_task`` and get its
result (or a one-line error) delivered on the GUI thread through a queued signal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.errors import describe_error

# Tasks the GUI waits on to draw (table pages, details) get their own pool so that a slow job
# (analysing a dropped file, projecting the map) never delays scrolling.
_INTERACTIVE_POOL_THREADS = 2
_BACKGROUND_POOL_THREADS = 2
# Python's default makes a thread that wants the GIL wait up to 5 ms; with worker threads the GUI thread
# would wait that long behind them, and longer on a busy machine. 1 ms keeps the event loop fluid.
GIL_SWITCH_INTERVAL_SECONDS = 0.001
_pools: dict[str, QThreadPool] = {}


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


_live_signals: set[TaskSignals] = set()  # keeps each task's signal object alive until it reports


def pool(kind: str = "interactive") -> QThreadPool:
    """The shared pool for ``kind`` ("interactive" or "background"), created on first use."""
    if kind not in _pools:
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_SECONDS))
        threads = _INTERACTIVE_POOL_THREADS if kind == "interactive" else _BACKGROUND_POOL_THREADS
        created = QThreadPool()
        created.setMaxThreadCount(threads)
        created.setExpiryTimeout(-1)
        _pools[kind] = created
    return _pools[kind]


def run_task(
    function: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[str], None],
    kind: str = "interactive",
) -> TaskSignals:
    """Start ``function()`` on a worker thread; ``on_done(result)`` or ``on_error(message)`` runs on the GUI thread."""
    signals = TaskSignals()
    _live_signals.add(signals)

    def release(*_: object) -> None:
        _live_signals.discard(signals)

    signals.finished.connect(on_done)
    signals.failed.connect(on_error)
    signals.finished.connect(release)
    signals.failed.connect(release)
    pool(kind).start(_Task(function, signals))
    return signals


def all_idle() -> bool:
    """True when no task is running or queued in any pool (start-up work has finished)."""
    return all(each.activeThreadCount() == 0 for each in _pools.values())


def wait_for_all(timeout_ms: int = 30000) -> bool:
    """Block until every pool is idle (used on shutdown, before the library closes)."""
    return all(each.waitForDone(timeout_ms) for each in _pools.values())
