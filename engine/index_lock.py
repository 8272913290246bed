"""One index run per library at a time: an exclusive lock on a file beside the database.

Two runs on one library would both plan the same new files and race to insert them (``UNIQUE constraint
failed``). The second run is refused at once with one clear line rather than made to wait behind a run that
may take hours. The operating system releases the lock when its process ends, however it ends (``kill -9``
included), so a stale lock file means nothing and is safe to delete while no engine runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_SUFFIX = ".index-lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


class IndexLockedError(Exception):
    """Another process is indexing this library."""


def lock_path(database: Path) -> Path:
    """Beside the database file itself: a symlink to it (another name, another folder) shares the one lock."""
    real = Path(database).resolve()
    return real.with_name(real.name + LOCK_SUFFIX)


@contextmanager
def index_lock(database: Path) -> Iterator[None]:
    """Hold the library's index lock for the body; ``IndexLockedError`` when another process holds it."""
    path = lock_path(Path(database))
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not try_lock(handle):
            raise IndexLockedError(f"another index run is working on this library ({database}); wait for it to "
                                   f"finish, or stop it, and run again")
        try:
            yield
        finally:
            unlock(handle)
    finally:
        os.close(handle)


def try_lock(handle: int) -> bool:
    """An exclusive lock on the open file ``handle`` without waiting: False when another process holds it (the
    system releases it when its process ends, however it ends). ``training.run_lock`` locks run folders with it."""
    try:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def unlock(handle: int) -> None:
    """Release ``try_lock``'s lock."""
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        msvcrt.locking(handle, msvcrt.LK_UNLCK, 1)
