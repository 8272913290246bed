"""Files that could not be analysed, with the engine's reason, so a user can fix or remove them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app import track_format
from app.errors import show_error
from app.tasks import TaskRunner

FILE_COLUMN_WIDTH = 130  # px: a file name of ~18 characters; the reason takes the rest and wraps
PATH_ROLE = Qt.ItemDataRole.UserRole  # a row's whole path as shown (the cell shows the file name)


def problem_fields(problem: Any) -> tuple[str, str]:
    """(path as shown, reason) from the engine's ``Problem`` (non-UTF-8 names come with a readable form)."""
    return str(problem.display_path or problem.path), str(problem.reason)


class ProblemsPanel(QWidget):
    """A sortable path/reason table; ``counted(n)`` lets the window show the number in the dock title."""

    counted = Signal(int)

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library = library
        self.summary = QLabel(self.tr("No problems: every file could be analysed."))
        self.summary.setWordWrap(True)
        # The panel is a side dock, a third of a laptop's width: a whole path and a reason side by side were each
        # cut to a few letters. So the file column shows the file's name (its folder and whole path in the tooltip)
        # and the reason wraps onto as many lines as it needs.
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels([self.tr("File"), self.tr("Reason")])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a name too long for its column: both ends kept
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().resizeSection(0, FILE_COLUMN_WIDTH)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.refresh()

    def refresh(self) -> None:
        library = self.library
        self.tasks.run(
            lambda: [problem_fields(problem) for problem in library.problems()],
            self.show_problems,
            lambda message: show_error(self, self.tr("Problems"), message),
        )

    def show_problems(self, problems: list[tuple[str, str]]) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(problems))
        for row, (path, reason) in enumerate(problems):
            path_item = QTableWidgetItem(track_format.file_name(path) or path)
            path_item.setData(PATH_ROLE, path)
            path_item.setToolTip(self.tr("{name}\nin {folder}").format(name=track_format.file_name(path),
                                                                        folder=str(Path(path).parent)))
            reason_item = QTableWidgetItem(reason)
            reason_item.setToolTip(reason)
            self.table.setItem(row, 0, path_item)
            self.table.setItem(row, 1, reason_item)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        if problems:
            self.summary.setText(
                self.tr("1 file could not be analysed. Fix or remove it, then scan again.") if len(problems) == 1 else
                self.tr("{count} files could not be analysed. Fix or remove them, then scan again.").format(
                    count=len(problems)))
        else:
            self.summary.setText(self.tr("No problems: every file could be analysed."))
        self.counted.emit(len(problems))

    def rows(self) -> list[tuple[str, str]]:
        """(path as shown, reason) of each row, in the table's order."""
        return [(self.table.item(row, 0).data(PATH_ROLE), self.table.item(row, 1).text())
                for row in range(self.table.rowCount())]
