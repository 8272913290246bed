"""Ctrl-C during a long run: the first asks the run to stop after its batch, the second stops it at once, and
the handler that was there before comes back afterwards."""

from __future__ import annotations

import signal
import threading

import pytest

from engine.interrupts import STOPPING_MESSAGE, CancelOnInterrupt


def test_first_ctrl_c_sets_cancel_and_says_so_the_second_interrupts(capsys):
    cancel = threading.Event()
    with CancelOnInterrupt(cancel):
        signal.raise_signal(signal.SIGINT)
        assert cancel.is_set()
        assert STOPPING_MESSAGE in capsys.readouterr().err
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_the_previous_handler_comes_back_on_exit():
    before = signal.getsignal(signal.SIGINT)
    with CancelOnInterrupt(threading.Event()) as guard:
        assert signal.getsignal(signal.SIGINT) == guard._handle
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_it_changes_nothing():
    before = signal.getsignal(signal.SIGINT)
    seen = []

    def run() -> None:
        with CancelOnInterrupt(threading.Event()):
            seen.append(signal.getsignal(signal.SIGINT))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen == [before]
