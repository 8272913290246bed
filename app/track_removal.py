"""Remove from library: the selected tracks leave the library database (rows, analyses, crate entries) after the
user confirms; their files are never touched. Runs the engine's ``Library.remove_tracks`` on a worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app.confirm import confirm
from app.errors import show_error
from app.tasks import TaskRunner

REMOVAL_NOTE = ("The files stay on disk. A file inside one of the library's folders comes back at the next scan; "
                "move or delete it yourself to keep it out.")


class RemovalFlow(QObject):
    """Asks, then removes; ``removed(track ids)`` when the library has changed."""

    removed = Signal(list)

    def __init__(self, library: Any, tasks: TaskRunner, parent: QWidget) -> None:
        super().__init__(parent)
        self.library, self.tasks, self.parent_widget = library, tasks, parent

    def ask(self, count: int, resolve_ids: Callable[[], list[int]]) -> None:
        """``count`` tracks, whose ids ``resolve_ids`` reads (on a worker: rows of the table may not be loaded)."""
        noun = "track" if count == 1 else f"{count} tracks"
        if not confirm(self.parent_widget, "Remove from library", f"Remove {'this' if count == 1 else 'these'} "
                       f"{noun} from the library?", REMOVAL_NOTE, "Remove from library"):
            return
        library = self.library
        self.tasks.run(lambda: library.remove_tracks(resolve_ids()), self.removed.emit,
                       lambda message: show_error(self.parent_widget, "Remove from library", message))
