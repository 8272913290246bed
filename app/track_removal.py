"""Remove from library: the selected tracks leave the library database (rows, analyses, crate entries) after the
user confirms; their files are never touched, and go on the exclusion list so that later scans skip them (Library →
Excluded files… brings them back). Runs the engine's ``Library.remove_tracks`` on a worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app.confirm import confirm
from app.errors import show_error
from app.tasks import TaskRunner


class RemovalFlow(QObject):
    """Asks, then removes; ``removed(track ids)`` when the library has changed."""

    removed = Signal(list)

    def __init__(self, library: Any, tasks: TaskRunner, parent: QWidget) -> None:
        super().__init__(parent)
        self.library, self.tasks, self.parent_widget = library, tasks, parent

    def ask(self, count: int, resolve_ids: Callable[[], list[int]]) -> None:
        """``count`` tracks, whose ids ``resolve_ids`` reads (on a worker: rows of the table may not be loaded)."""
        question = (self.tr("Remove this track from the library?") if count == 1
                    else self.tr("Remove these {count} tracks from the library?").format(count=count))
        note = self.tr("The files stay on disk, and later scans skip them. Library → Excluded files… lists them and "
                       "brings them back.")
        title = self.tr("Remove from library")
        if not confirm(self.parent_widget, title, question, note, title):
            return
        library = self.library
        self.tasks.run(lambda: library.remove_tracks(resolve_ids()).removed, self.removed.emit,
                       lambda message: show_error(self.parent_widget, title, message))
