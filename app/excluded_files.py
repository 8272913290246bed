"""Library → Excluded files…: the files the user removed from the library that scans now skip, and a way to bring
chosen ones back (``Library.restore_excluded``); the window then rescans the library folders holding them.

The list is read and changed on a worker; the dialog only shows and asks.
"""

from __future__ import annotations

import os
import time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import show_error
from app.tasks import TaskRunner
from engine.scan import display_path

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
DIALOG_SIZE = (640, 420)
DATE_FORMAT = "%Y-%m-%d %H:%M"


def folders_holding(paths: list[str], folders: list[str]) -> list[str]:
    """The library folders that hold any of ``paths`` (a rescan of them adds the files again), in folder order."""
    def holds(folder: str, path: str) -> bool:
        return path.startswith(folder.rstrip(os.sep) + os.sep)

    return [folder for folder in folders if any(holds(folder, path) for path in paths)]


class ExcludedFilesDialog(QDialog):
    """Lists the excluded files (a file no longer on disk says so); ``restored(paths)`` after some came off the
    list."""

    restored = Signal(list)

    def __init__(self, library: Any, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library, self.tasks = library, tasks
        self.setWindowTitle(self.tr("Excluded files"))
        self.resize(*DIALOG_SIZE)
        self.explanation = QLabel(self.tr(
            "Files you removed from the library. They stay on disk, and scans skip them. Restore brings the chosen "
            "files back: their folders are scanned again."))
        self.explanation.setWordWrap(True)
        self.file_list = QListWidget()
        self.file_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.restore_button = QPushButton(self.tr("Restore"))
        self.restore_button.setToolTip(self.tr("Take the selected files off the list and scan their folders"))
        self.restore_button.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.explanation)
        layout.addWidget(self.file_list, 1)
        layout.addWidget(buttons)
        self.restore_button.clicked.connect(self.restore_selected)
        self.file_list.itemSelectionChanged.connect(
            lambda: self.restore_button.setEnabled(bool(self.file_list.selectedItems())))

    def refresh(self) -> None:
        library = self.library

        def read() -> list[tuple[str, float, bool]]:
            return [(entry.path, entry.excluded_at, os.path.lexists(entry.path)) for entry in library.excluded_files()]

        self.tasks.run(read, self._show, lambda message: show_error(self, self.tr("Excluded files"), message))

    def _show(self, entries: list[tuple[str, float, bool]]) -> None:
        self.file_list.clear()
        for path, excluded_at, exists in entries:
            when = time.strftime(DATE_FORMAT, time.localtime(excluded_at))
            gone = "" if exists else self.tr("  (no longer on disk)")
            item = QListWidgetItem(f"{display_path(path)}{gone}")
            item.setToolTip(self.tr("Removed from the library on {when}").format(when=when))
            item.setData(PATH_ROLE, path)
            self.file_list.addItem(item)
        if not entries:
            placeholder = QListWidgetItem(self.tr("No files are excluded."))
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.file_list.addItem(placeholder)

    def restore_selected(self) -> None:
        paths = [item.data(PATH_ROLE) for item in self.file_list.selectedItems() if item.data(PATH_ROLE)]
        if not paths:
            return
        library = self.library
        self.tasks.run(lambda: library.restore_excluded(paths), self._restored,
                       lambda message: show_error(self, self.tr("Excluded files"), message))

    def _restored(self, paths: list[str]) -> None:
        self.restored.emit(paths)
        self.refresh()
