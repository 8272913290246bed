"""Moving files to the platform's trash (the freedesktop.org Trash on Linux, the Recycle Bin, the macOS Trash)
through Qt's ``QFile.moveToTrash``, so a file the app lets go of can always be restored by the user."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QFile, QStandardPaths

TRASH_FOLDER_MODE = 0o700  # the freedesktop.org Trash specification: the home trash is private to its user


class TrashError(OSError):
    """The platform refused to move a file to its trash (no trash on that volume, no permission, gone)."""


def move_to_trash(path: str) -> None:
    """Move ``path`` to the trash, or raise ``TrashError`` naming it; never deletes."""
    if not os.path.lexists(path):
        raise TrashError(f"{path}: no such file")
    _ensure_home_trash()
    if not QFile.moveToTrash(path):
        raise TrashError(f"{path}: the system's trash refused it (no trash on that drive, or no permission)")


def _ensure_home_trash() -> None:
    """On a freedesktop.org system, create ``$XDG_DATA_HOME/Trash/{files,info}`` when missing, as the specification
    asks of whoever trashes first; Qt refuses to trash into a home trash that does not exist yet."""
    if sys.platform in ("win32", "darwin"):
        return
    home_trash = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)) / "Trash"
    for folder in (home_trash / "files", home_trash / "info"):
        folder.mkdir(mode=TRASH_FOLDER_MODE, parents=True, exist_ok=True)
