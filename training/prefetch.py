"""Batches composed ahead in a background thread, so the device never waits for the host to cut clips.

The composer's work is memory copies out of the cache's memory maps (and pinning them when CUDA is
present), which release the GIL; one thread keeps ``depth`` batches ready. Each batch travels with the
composer's state right after it was made, so a checkpoint records the state after the last batch the
loop *consumed*, not the last one composed ahead: a resumed run sees exactly the batches it would have.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from training.data import Batch, BatchComposer

POLL_SECONDS = 0.1  # how often a blocked producer checks whether it should stop


class BatchPrefetcher:
    """``next()`` hands out the composer's batches in order; ``depth`` 0 composes them on the calling thread."""

    def __init__(self, composer: BatchComposer, depth: int) -> None:
        self.composer, self.depth = composer, depth
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumed_state: dict[str, Any] | None = None

    def _offer(self, item: tuple) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                self._offer((self.composer.next_batch(), self.composer.state()))
        except BaseException as error:  # handed to the training thread, which raises it
            self._offer((error, None))

    def next(self) -> Batch:
        if self.depth == 0:
            return self.composer.next_batch()
        if self._thread is None:
            self._thread = threading.Thread(target=self._produce, name="batch-prefetch", daemon=True)
            self._thread.start()
        batch, state = self._queue.get()
        if isinstance(batch, BaseException):
            raise batch
        self._consumed_state = state
        return batch

    def state(self) -> dict[str, Any]:
        """The composer's state after the last batch handed out (what a resumed run must continue from)."""
        if self.depth == 0 or self._consumed_state is None:
            return self.composer.state()
        return self._consumed_state

    def close(self) -> None:
        """Stop the thread and rewind the composer to the last batch handed out (``next()`` may go on)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._queue = queue.Queue(maxsize=max(1, self.depth))
        self._stop.clear()
        if self._consumed_state is not None:
            self.composer.load_state(self._consumed_state)


__all__ = ["BatchPrefetcher"]
