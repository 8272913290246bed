"""Ctrl-C during a long run (indexing, re-embedding): the first one asks the run to stop cleanly, a second one
stops it at once. Used by ``engine index`` and ``engine train from-library``; torch-free and Qt-free.

The run polls ``cancel`` between batches, so a first Ctrl-C still commits what was analysed; a second Ctrl-C
raises ``KeyboardInterrupt`` for a user who does not want to wait for the batch.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOPPING_MESSAGE = "engine: stopping after the current batch (Ctrl-C again to abort)"
# Ctrl-C, and the polite stop of `kill`, `timeout` and service managers: both end the run as Ctrl-C does, so its
# decode workers are shut down instead of left running without it.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class CancelOnInterrupt:
    """Context manager: while inside, the first SIGINT or SIGTERM sets ``cancel`` and says so on stderr, the next
    raises ``KeyboardInterrupt``; the previous handler comes back on exit. Outside the main thread (where Python
    cannot install signal handlers) it changes nothing."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.previous = None

    def _handle(self, signum, frame) -> None:
        if self.cancel.is_set():
            raise KeyboardInterrupt
        self.cancel.set()
        print(STOPPING_MESSAGE, file=sys.stderr)

    def __enter__(self) -> CancelOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = {number: signal.signal(number, self._handle) for number in STOP_SIGNALS}
        return self

    def __exit__(self, *_exc) -> None:
        if self.previous is not None:
            for number, handler in self.previous.items():
                signal.signal(number, handler)


@contextmanager
def sigint_handled_by(handler) -> Iterator[None]:
    """``handler`` (a function, or ``signal.SIG_IGN``) answers SIGINT inside, the previous handler after; outside the
    main thread, where Python cannot install handlers, nothing changes."""
    with signals_handled_by(handler, (signal.SIGINT,)):
        yield


@contextmanager
def signals_handled_by(handler, numbers) -> Iterator[None]:
    """``handler`` answers the signals ``numbers`` inside, their previous handlers after; outside the main thread
    nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, handler) for number in numbers}
    try:
        yield
    finally:
        for number, handler_before in previous.items():
            signal.signal(number, handler_before)
