"""The decode workers of an index run: spawned processes that a crash, an out-of-memory kill or an early Ctrl-C
does not turn into a failed run.

- A worker that dies breaks its whole ``ProcessPoolExecutor``: every job in flight fails with it, and the file that
  killed it is not known. ``decode_alone`` decodes those jobs again one at a time in a fresh worker: a job that kills
  that worker too is the culprit, and becomes a problem with its reason; the others are decoded as usual.
- Workers are spawned with Ctrl-C ignored. A terminal's Ctrl-C reaches the whole process group, and a worker still
  importing (before the pool's initializer ignores it) would die of it mid-import with a traceback. An ignored
  signal stays ignored across exec, and Python then installs no KeyboardInterrupt handler.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext

from engine.decoding import DecodeJob, DecodeOutcome, decode_job, start_worker
from engine.interrupts import sigint_handled_by

CRASH_REASON = "the decoder crashed on this file (its worker process died)"


Decode = Callable[[DecodeJob], DecodeOutcome]  # a module-level function: spawned workers import it by name


class DecodePool:
    """``workers`` spawned decode processes running ``decode``; ``submit`` a job, ``shutdown`` at the end (or when
    broken)."""

    def __init__(self, workers: int, decode: Decode = decode_job) -> None:
        self.workers = workers
        self.decode = decode
        self._executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=start_worker, initargs=(os.getpid(),))

    def submit(self, job: DecodeJob) -> Future:
        """The job's future; one already failed with ``BrokenProcessPool`` when a worker has died since the last
        submit (the caller meets every broken job the same way, through ``outcome_of``)."""
        # A Ctrl-C in the few milliseconds a worker takes to start is not seen.
        try:
            with sigint_handled_by(signal.SIG_IGN) if self._may_spawn() else nullcontext():
                return self._executor.submit(self.decode, job)
        except BrokenProcessPool as error:
            failed: Future = Future()
            failed.set_exception(error)
            return failed

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _may_spawn(self) -> bool:
        """Whether a submit may start a worker (the executor starts them as jobs arrive, up to ``workers``)."""
        started = getattr(self._executor, "_processes", None)
        return started is None or len(started) < self.workers


def outcome_of(future: Future) -> DecodeOutcome | None:
    """A finished job's outcome; None when its worker died (the pool is broken)."""
    try:
        return future.result()
    except BrokenProcessPool:
        return None


def decode_alone(jobs: list[DecodeJob], cancelled: Callable[[], bool], decode: Decode = decode_job
                 ) -> Iterator[DecodeOutcome]:
    """Outcomes of ``jobs`` decoded one at a time, each in a worker no other job shares at that moment; a job whose
    worker dies gives a problem outcome (``CRASH_REASON``). Stops early when ``cancelled()``."""
    pool: DecodePool | None = None
    try:
        for job in jobs:
            if cancelled():
                return
            pool = pool or DecodePool(1, decode)
            outcome = outcome_of(pool.submit(job))
            if outcome is None:
                pool.shutdown()
                pool = None
                outcome = DecodeOutcome(job, None, None, 0.0, CRASH_REASON)
            yield outcome
    finally:
        if pool is not None:
            pool.shutdown()
