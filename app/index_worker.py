"""Indexing in a child process, watched by a thread: progress comes back as throttled signals.

``Library.index`` is Python-heavy (planning, unpickling decoded audio, storing rows). Run on a thread
of the GUI process it holds the GIL for long stretches, and on a busy machine the GUI thread waits for
it: the window stalls for 100 ms and more. So the scan runs in its own process, opened on the same
database and model, with a lower CPU priority; this process only reads its messages. The child sends
at most one progress update per ``PROGRESS_INTERVAL_SECONDS`` (plus the last one). Cancel sets a
shared event; the engine stops after the files in flight and the next scan resumes where it stopped.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread, Signal

from app.errors import describe_error
from engine.results import IndexProgress

PROGRESS_INTERVAL_SECONDS = 0.25  # a bar and a label: 4 updates a second is smooth, and cheap for the GUI
INDEX_NICENESS = 10  # added to the scan process's nice value (inherited by its decode processes)
MESSAGE_POLL_SECONDS = 0.2  # how often the watching thread checks that the child is still alive


@dataclass(frozen=True)
class IndexStatus:
    """What the progress bar shows: files done of total, audio analysed, and elapsed wall time."""

    phase: str  # "scan", "analyse" or "done", as the engine reports it
    done: int
    total: int
    audio_seconds: float
    elapsed_seconds: float
    current_path: str = ""
    # The scan streams into analysis: files found so far, and whether the walk is over (until then ``total`` is
    # the engine's estimate of the files to analyse, growing with what the scan finds).
    found: int = 0
    scan_finished: bool = True

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def progress(self) -> IndexProgress:
        """The engine's progress record of this status: its rate and time left are the numbers the CLI shows."""
        return IndexProgress(self.phase, self.done, self.total, self.elapsed_seconds, self.audio_seconds,
                             self.current_path, self.found, self.scan_finished)

    @property
    def eta_seconds(self) -> float | None:
        """The engine's time left; None before the first file is done and once the last one is."""
        return self.progress.seconds_left if self.total > self.done else None

    @property
    def realtime_factor(self) -> float | None:
        """Audio seconds analysed per wall-clock second (how many times faster than listening)."""
        return self.progress.realtime_factor if self.audio_seconds > 0 else None


def status_from_progress(progress: Any, elapsed_seconds: float) -> IndexStatus:
    """Translate the engine's ``IndexProgress`` into what the app shows."""
    return IndexStatus(
        phase=progress.phase,
        done=int(progress.files_done),
        total=int(progress.files_total),
        audio_seconds=float(progress.audio_seconds),
        elapsed_seconds=float(progress.seconds) if progress.seconds > 0 else elapsed_seconds,
        current_path=str(progress.current_path or ""),
        found=int(progress.files_found),
        scan_finished=bool(progress.scan_finished),
    )


def lower_this_process_priority() -> None:
    """Let the scan (this child process and the decode processes it starts) yield the CPU to the GUI."""
    if hasattr(os, "nice"):
        try:
            os.nice(INDEX_NICENESS)
        except OSError:
            pass  # not permitted here: scanning still works, only less politely


def index_in_child_process(
    database: str, model_folder: str, paths: list[str] | None, connection: Connection, cancel: Any,
) -> None:
    """The child's whole life: open the library, index, send ``("progress", IndexStatus)`` messages and
    finally ``("completed", IndexReport)`` or ``("failed", message)``."""
    from engine.library import Library

    lower_this_process_priority()
    started = time.monotonic()
    last_sent = 0.0

    def send_progress(progress: Any) -> None:
        nonlocal last_sent
        now = time.monotonic()
        finished = progress.phase == "done" or (progress.files_total and progress.files_done >= progress.files_total)
        if finished or now - last_sent >= PROGRESS_INTERVAL_SECONDS:
            last_sent = now
            connection.send(("progress", status_from_progress(progress, now - started)))

    try:
        with Library(database, model_folder) as library:
            report = library.index(paths=paths, progress=send_progress, cancel=cancel)
    except Exception as error:  # reported to the user as one line
        connection.send(("failed", describe_error(error)))
    else:
        connection.send(("completed", report))
    finally:
        connection.close()


class IndexThread(QThread):
    """One scan of the library folders (or ``paths``) in a child process; emits ``progressed``, then
    ``completed`` or ``failed``. The thread only waits for the child's messages (no GIL held meanwhile)."""

    progressed = Signal(object)  # IndexStatus
    completed = Signal(object)  # the engine's IndexReport
    failed = Signal(str)

    def __init__(self, library: Any, paths: Sequence[Path | str] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self.paths = [os.fspath(path) for path in paths] if paths is not None else None
        self._context = multiprocessing.get_context("spawn")  # a clean process: no copy of Qt or of open files
        self.cancel_event = self._context.Event()

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def run(self) -> None:
        try:
            model_folder = str(self.library.model().folder)
        except Exception as error:  # no usable model: nothing can be analysed
            self.failed.emit(describe_error(error))
            return
        receiver, sender = self._context.Pipe(duplex=False)
        child = self._context.Process(
            target=index_in_child_process, name="library-index",  # not daemonic: it starts decode processes
            args=(str(self.library.db_path), model_folder, self.paths, sender, self.cancel_event),
        )
        child.start()
        sender.close()  # the child holds the only writing end: its exit ends the stream
        outcome: tuple[str, Any] | None = None
        try:
            while outcome is None:
                if not receiver.poll(MESSAGE_POLL_SECONDS):
                    if not child.is_alive() and not receiver.poll(0):
                        break
                    continue
                kind, payload = receiver.recv()
                if kind == "progress":
                    self.progressed.emit(payload)
                else:
                    outcome = (kind, payload)
        except EOFError:
            pass  # the child exited without a last message; reported below
        finally:
            receiver.close()
            child.join()
        if outcome is None:
            self.failed.emit(self.tr("the scan stopped unexpectedly (exit code {code})").format(code=child.exitcode))
        elif outcome[0] == "completed":
            self.completed.emit(outcome[1])
        else:
            self.failed.emit(outcome[1])
