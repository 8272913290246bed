"""Questions the app asks before it changes anything the user cannot simply redo (removing tracks, trashing files).

One modal box: what will happen, the items it happens to (listed in the details), and a button that names the
action; the safe choice (Cancel) is the default, so Enter never removes or trashes anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMessageBox, QWidget

LISTED_ITEMS = 12  # named in the box itself; the details list them all


def confirm(parent: QWidget | None, title: str, text: str, informative: str, action_text: str,
            items: Sequence[str] = ()) -> bool:
    """True when the user pressed the ``action_text`` button; Cancel, Esc or closing the box is False."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent)
    more = QCoreApplication.translate("Confirm", "… and {count} more").format(count=len(items) - LISTED_ITEMS)
    shown = list(items[:LISTED_ITEMS]) + ([more] if len(items) > LISTED_ITEMS else [])
    box.setInformativeText("\n".join([informative, "", *shown]) if shown else informative)
    if len(items) > LISTED_ITEMS:
        box.setDetailedText("\n".join(items))
    accept = box.addButton(action_text, QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    box.exec()
    return box.clickedButton() is accept
