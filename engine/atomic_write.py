"""Write a file so that readers see the old file or the whole new one, never a part of it.

The new content goes to a hidden temporary file in the target's own folder (so ``os.replace`` is atomic), is
flushed to disk, then renamed over the target. On any failure (a full disk, a killed write) the temporary file
is removed and the target is left as it was. Caches beside the database and playlists are written this way.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"
# Created files get what the umask allows of this (like ``open(..., "w")``); mkstemp alone would give 0600.
CREATED_FILE_MODE = 0o666


@contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` to write to; on a clean exit it replaces ``target``.

    The temporary name is hidden and unique per process and thread, so concurrent writers never share one.
    Raises what writing raises (``OSError`` for a full disk); the target is then untouched.
    """
    target = Path(target)
    prefix = f".{target.name[:64]}.{os.getpid()}.{threading.get_ident()}."
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=TEMPORARY_SUFFIX, dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        try:  # a file replaced keeps its permissions; a new one gets the usual ones
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = CREATED_FILE_MODE & ~umask
        temporary.chmod(mode)
        yield temporary
        _flush(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_atomically(target: Path | str, content: bytes) -> Path:
    """``target`` now holds exactly ``content`` (see ``atomic_path``)."""
    with atomic_path(target) as temporary:
        temporary.write_bytes(content)
    return Path(target)


def _flush(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
