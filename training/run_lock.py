"""One training run per run folder at a time: an exclusive lock on a file inside the folder.

Two runs in one folder would both append every step to ``metrics.jsonl`` from two trajectories and save
checkpoints over each other. The second is refused at once with one clear line, as ``engine index`` refuses a
second index run, with the same operating-system lock (``engine.index_lock``): it is released when its process
ends, however it ends, so a stale lock file means nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.index_lock import try_lock, unlock

RUN_LOCK_FILE = "run.lock"


class RunLockedError(Exception):
    """Another process is training in this run folder."""


class RunLock:
    """Held from ``acquire`` until ``release``; a lock never released ends with its process."""

    def __init__(self, handle: int) -> None:
        self._handle: int | None = handle

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """Take ``run_dir``'s lock (making the folder); ``RunLockedError`` when another run holds it."""
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = os.open(run_dir / RUN_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        if not try_lock(handle):
            os.close(handle)
            raise RunLockedError(f"another training run is working in {run_dir}; wait for it to finish, or stop it, "
                                 "and run again (or give another run.output_dir)")
        return cls(handle)

    def release(self) -> None:
        """Let another run in; a second call does nothing."""
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        try:
            unlock(handle)
        finally:
            os.close(handle)

    def __del__(self) -> None:  # a Trainer made and dropped without fit() must not keep the folder locked
        self.release()


__all__ = ["RUN_LOCK_FILE", "RunLock", "RunLockedError"]
