"""Write a file so that readers see the old file or the whole new one, never a part of it.

The new content goes to a hidden temporary file in the target's own folder (so ``os.replace`` is atomic), is
flushed to disk, then renamed over the target. On any failure (a full disk, a killed write) the temporary file
is removed and the target is left as it was. Caches beside the database and playlists are written this way.
A writer killed outright (``kill -9``, out of memory) cannot remove its temporary file, which can be as large as
the target (a 100k-track FAISS index: hundreds of MB): the next write of the same target removes what writers no
longer running left (``remove_stale``).
"""

from __future__ import annotations

import os
import shutil
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
    remove_stale(target.parent, hidden_prefix(target))
    prefix = f"{hidden_prefix(target)}{os.getpid()}.{threading.get_ident()}."
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


def hidden_prefix(target: Path) -> str:
    """The start of the names of the temporary files and folders written for ``target``, before the writer's pid."""
    return f".{target.name[:64]}."


def remove_stale(folder: Path, prefix: str) -> None:
    """Remove the temporary files (``…<TEMPORARY_SUFFIX>``) and folders of ``folder`` named ``prefix<pid>.…`` whose
    writing process is gone (``process_alive``); another process's, this one's, and any other name are left
    alone."""
    try:
        entries = [entry for entry in os.scandir(folder) if entry.name.startswith(prefix)]
    except OSError:
        return
    for entry in entries:
        owner = entry.name[len(prefix):].split(".", 1)[0]
        if not owner.isdigit() or int(owner) == os.getpid() or process_alive(int(owner)):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            elif entry.name.endswith(TEMPORARY_SUFFIX):
                os.unlink(entry.path)
        except OSError:
            continue


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` may still run: False only when it surely does not, so what it left may be removed.
    Always True on Windows, where ``os.kill`` would end whatever process holds that number now."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists (another user's process), or cannot tell
        return True
    return True


def write_bytes_atomically(target: Path | str, content: bytes) -> Path:
    """``target`` now holds exactly ``content`` (see ``atomic_path``)."""
    with atomic_path(target) as temporary:
        temporary.write_bytes(content)
    return Path(target)


def _flush(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
