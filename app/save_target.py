"""The file a save dialog's answer names once its extension is added, asked about when it exists.

A save dialog asks before replacing only the name it returns: a user who types ``friday-set`` is asked nothing,
and the extension the app adds then named their existing ``friday-set.m3u8``, which was replaced unasked.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from app.confirm import confirm


def save_target(parent: QWidget | None, chosen: str, suffix: str, title: str) -> Path | None:
    """``chosen`` (a save dialog's answer) with ``suffix`` added unless it ends so in any case; None when that adds
    a name which exists and the user, asked, keeps the file."""
    if chosen.lower().endswith(suffix.lower()):
        return Path(chosen)
    target = Path(chosen + suffix)
    if not (target.exists() or target.is_symlink()):
        return target
    replace = confirm(parent, title,
                      QCoreApplication.translate("SaveTarget", "{name} already exists.").format(name=target.name),
                      QCoreApplication.translate("SaveTarget", "Replacing it overwrites what it holds now."),
                      QCoreApplication.translate("SaveTarget", "Replace"), [str(target)])
    return target if replace else None
