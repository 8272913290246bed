"""The files beside the library database that only make it fast (caches): their names and their JSON sidecars.

A cache is named after the database, so a long database name could make a cache name longer than a file name
may be: then the database name is shortened and a hash of it keeps the names apart. A sidecar is read without
trusting it (any JSON, or none): what is not an object with the expected integer fields reads as "no cache",
and the caller rebuilds from SQLite. A cache that cannot be saved only makes the next start slower: a reading
command warns and answers from memory; ``engine index``, whose job is the library on disk, fails in one line.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

NAME_MAX_BYTES = 255  # longest file name on common file systems (ext4, APFS, NTFS)
# Room left for the temporary names that ``atomic_write`` derives from a cache name (pid, thread id, random).
TEMPORARY_NAME_ROOM = 64
SHORT_HASH_CHARACTERS = 16
EXPECTED_UNWRITABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})  # read-only media, another user's folder
FULL_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})  # no space, or the user's quota is used up

log = logging.getLogger("engine")


def beside_database(database: Path, suffix: str) -> Path:
    """``<database name><suffix>`` in the database's folder, shortened (with a hash) when too long a name."""
    name = database.name + suffix
    room = NAME_MAX_BYTES - TEMPORARY_NAME_ROOM
    if len(name.encode()) <= room:
        return database.with_name(name)
    digest = hashlib.sha256(database.name.encode("utf-8", errors="surrogateescape")).hexdigest()[:SHORT_HASH_CHARACTERS]
    keep = room - len(suffix.encode()) - len(digest) - 1
    stem = database.name.encode("utf-8", errors="surrogateescape")[:keep].decode("utf-8", errors="ignore")
    return database.with_name(f"{stem}~{digest}{suffix}")


def read_sidecar(path: Path, integer_fields: tuple[str, ...]) -> dict[str, Any] | None:
    """The sidecar's JSON object when it has every ``integer_fields`` as a (non-negative) integer; else None."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    for name in integer_fields:
        value = meta.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return None
    return meta


class CacheNotSavedError(OSError):
    """A cache that had to be saved could not be: ``engine index`` exists to leave the library ready on disk, so a
    full disk there fails the run (its tracks are committed) instead of leaving every later search to rebuild."""


def report_unsaved(path: Path, error: OSError, must_save: bool = False) -> None:
    """A cache that could not be saved: ``CacheNotSavedError`` when ``must_save`` and the folder could be written
    (a full disk, an I/O error), else only ``warn_unsaved`` (the caller keeps the cache in memory)."""
    number = _errno_of(error)
    if must_save and number not in EXPECTED_UNWRITABLE:
        reason = os.strerror(number) if number is not None else str(error) or type(error).__name__
        raise CacheNotSavedError(number, f"could not save the cache {path.name} ({reason})", str(path)) from error
    warn_unsaved(path, error)


def _errno_of(error: OSError) -> int | None:
    """The error's number; a short write that carries none (numpy's "N requested and M written") is a full disk."""
    if error.errno is None and "requested and" in str(error) and "written" in str(error):
        return errno.ENOSPC
    return error.errno


def warn_unsaved(path: Path, error: OSError) -> None:
    """A cache that could not be saved is only slower next time: a warning for a full disk or an I/O error; on
    read-only media or in a folder the user may not write (expected there, every time) only a debug note."""
    level = logging.DEBUG if error.errno in EXPECTED_UNWRITABLE else logging.WARNING
    log.log(level, "could not save the cache %s (%s); it is rebuilt when needed", path.name, error.strerror or error)
