"""Indexing on its own thread: ``Library.index`` runs there, progress comes back as throttled signals.

The engine calls the progress callback on this thread for every file; forwarding each call would
flood the GUI's event queue, so at most one update per ``PROGRESS_INTERVAL_SECONDS`` is sent (plus
the last one). Cancel sets the engine's ``threading.Event``; the engine stops after the files in
flight and the next scan resumes where it stopped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread, Signal

from app.errors import describe_error

PROGRESS_INTERVAL_SECONDS = 0.1
INDEX_NICENESS = 10  # added to the scan thread's nice value (Linux: per thread, inherited by its processes)


@dataclass(frozen=True)
class IndexStatus:
    """What the progress bar shows: files done of total, audio analysed, and elapsed wall time."""

    phase: str  # "scan", "analyse" or "done", as the engine reports it
    done: int
    total: int
    audio_seconds: float
    elapsed_seconds: float
    current_path: str = ""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if self.done == 0 or self.total <= self.done:
            return None
        return self.elapsed_seconds * (self.total - self.done) / self.done

    @property
    def realtime_factor(self) -> float | None:
        """Audio seconds analysed per wall-clock second (how many times faster than listening)."""
        if self.elapsed_seconds <= 0 or self.audio_seconds <= 0:
            return None
        return self.audio_seconds / self.elapsed_seconds


def status_from_progress(progress: Any, elapsed_seconds: float) -> IndexStatus:
    """Translate the engine's ``IndexProgress`` into what the app shows."""
    return IndexStatus(
        phase=progress.phase,
        done=int(progress.files_done),
        total=int(progress.files_total),
        audio_seconds=float(progress.audio_seconds),
        elapsed_seconds=float(progress.seconds) if progress.seconds > 0 else elapsed_seconds,
        current_path=str(progress.current_path or ""),
    )


def lower_this_thread_priority() -> None:
    """Make the calling thread (and the decode processes it starts, which inherit it) yield the CPU to the GUI.

    On a busy 2-core laptop the scan's processes would otherwise compete with the GUI thread as equals;
    Linux gives each thread its own nice value. Elsewhere this is a no-op.
    """
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), INDEX_NICENESS)
    except OSError:
        pass  # not permitted here: scanning still works, only less politely


class IndexThread(QThread):
    """One scan of the library folders (or ``paths``); emits ``progressed``, then ``completed`` or ``failed``."""

    progressed = Signal(object)  # IndexStatus
    completed = Signal(object)  # the engine's IndexReport
    failed = Signal(str)

    def __init__(self, library: Any, paths: Sequence[Path | str] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self.paths = list(paths) if paths is not None else None
        self.cancel_event = threading.Event()
        self._last_emit = 0.0
        self._started_at = 0.0

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def run(self) -> None:
        lower_this_thread_priority()
        self._started_at = time.monotonic()
        try:
            report = self.library.index(paths=self.paths, progress=self._on_progress, cancel=self.cancel_event)
        except Exception as error:  # reported to the user as one line
            self.failed.emit(describe_error(error))
            return
        self.completed.emit(report)

    def _on_progress(self, progress: Any) -> None:
        now = time.monotonic()
        finished = progress.phase == "done" or (progress.files_total and progress.files_done >= progress.files_total)
        if not finished and now - self._last_emit < PROGRESS_INTERVAL_SECONDS:
            return
        self._last_emit = now
        self.progressed.emit(status_from_progress(progress, now - self._started_at))
