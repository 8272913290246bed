"""Ctrl-C and SIGTERM during a training step take effect when the step ends, so a checkpoint never holds half of it.

A step changes many things at once (batch-norm statistics, the batch composer's cursors, the augmentation's random
state, the optimizer's moments and the weights); a checkpoint taken in the middle holds some of them for the new
step while its step count says the old one, and the resumed run skips a batch or applies an update twice. Inside
``StepBoundary`` the first stop signal is held and handed to the handler it was meant for (the engine's, which raises
``KeyboardInterrupt``) as the step ends. A second one is handed on at once, so a step that hangs still stops; the
state is then half a step (``cut_short``) and must not be saved. Torch-free; outside the main thread, where
Python cannot install handlers, and for signals without a Python handler (default or ignored) nothing changes.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Callable

from engine.interrupts import STOP_SIGNALS

HOLDING_MESSAGE = "stopping after this step (Ctrl-C again to stop at once, without saving it)"

SignalHandler = Callable[[int, FrameType | None], object]


class StepBoundary:
    """Context manager around one step; reusable for the next. ``cut_short`` says whether a second stop signal
    stopped the last step it surrounded in the middle."""

    def __init__(self) -> None:
        self.cut_short = False
        self._previous: dict[int, SignalHandler] = {}
        self._held: tuple[int, FrameType | None] | None = None

    def __enter__(self) -> StepBoundary:
        self.cut_short, self._held = False, None
        if threading.current_thread() is threading.main_thread():
            for number in STOP_SIGNALS:
                handler = signal.getsignal(number)
                if callable(handler):
                    self._previous[number] = handler
                    signal.signal(number, self._hold)
        return self

    def _hold(self, signum: int, frame: FrameType | None) -> None:
        if self._held is not None:
            try:
                self._previous[signum](signum, frame)
            except BaseException:
                self.cut_short = True
                raise
            return
        self._held = (signum, frame)
        print(HOLDING_MESSAGE, file=sys.stderr, flush=True)

    def __exit__(self, exc_type, *_exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        previous, self._previous = self._previous, {}
        if exc_type is None and self._held is not None:
            signum, frame = self._held
            self._held = None
            previous[signum](signum, frame)


__all__ = ["StepBoundary"]
