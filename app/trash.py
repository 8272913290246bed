"""Moving files to the platform's trash (the freedesktop.org Trash on Linux, the Recycle Bin, the macOS Trash)
through Qt's ``QFile.moveToTrash``, so a file the app lets go of can always be restored by the user."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import quote_from_bytes

from PySide6.QtCore import QFile, QStandardPaths

TRASH_FOLDER_MODE = 0o700  # the freedesktop.org Trash specification: the home trash is private to its user


class TrashError(OSError):
    """The platform refused to move a file to its trash (no trash on that volume, no permission, gone)."""


def move_to_trash(path: str) -> None:
    """Move ``path`` to the trash, or raise ``TrashError`` saying why; never deletes."""
    if not os.path.lexists(path):
        raise TrashError("no such file")
    _ensure_home_trash()
    if not _is_unicode(path):  # Qt takes names as Unicode: a Latin-1 name would name no file for it
        _move_to_home_trash(path)
    elif not QFile.moveToTrash(path):
        raise TrashError("the system's trash refused it (no trash on that drive, or no permission)")


def _is_unicode(path: str) -> bool:
    try:
        path.encode("utf-8")
        return True
    except UnicodeEncodeError:  # a name's undecodable bytes, kept as surrogate escapes (``os.fsdecode``)
        return False


def _move_to_home_trash(path: str) -> None:
    """The freedesktop.org Trash's own steps, for a POSIX name that is not UTF-8: reserve a name in ``info`` (an
    exclusive create), write where the file came from (its bytes percent-encoded), then rename the file into
    ``files``. The home trash only: a file on another drive than it is refused (a rename cannot cross drives,
    and a copy would not be a move)."""
    home_trash = _home_trash()
    original = os.fsencode(os.path.abspath(path))
    if os.stat(path, follow_symlinks=False).st_dev != os.stat(home_trash).st_dev:
        raise TrashError("its name is not UTF-8 and it lies on another drive than your trash: move it yourself")
    stem = os.path.basename(original)
    for attempt in range(1, 1000):
        name = stem if attempt == 1 else stem + f".{attempt}".encode()
        info = os.path.join(os.fsencode(home_trash / "info"), name + b".trashinfo")
        try:
            descriptor = os.open(info, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(b"[Trash Info]\nPath=" + quote_from_bytes(original, safe="/").encode("ascii") +
                         b"\nDeletionDate=" + time.strftime("%Y-%m-%dT%H:%M:%S").encode("ascii") + b"\n")
        try:
            os.rename(os.fsencode(path), os.path.join(os.fsencode(home_trash / "files"), name))
        except OSError as error:
            os.unlink(info)
            raise TrashError(f"the trash refused it ({error.strerror})") from None
        return
    raise TrashError("the trash holds too many files of that name")


def _home_trash() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)) / "Trash"


def _ensure_home_trash() -> None:
    """On a freedesktop.org system, create ``$XDG_DATA_HOME/Trash/{files,info}`` when missing, as the specification
    asks of whoever trashes first; Qt refuses to trash into a home trash that does not exist yet."""
    if sys.platform in ("win32", "darwin"):
        return
    home_trash = _home_trash()
    for folder in (home_trash / "files", home_trash / "info"):
        folder.mkdir(mode=TRASH_FOLDER_MODE, parents=True, exist_ok=True)
