"""Notice when another process (``engine index``, ``engine key --write``) changes the library database.

SQLite in WAL mode writes every commit to ``FILE-wal`` and checkpoints it into ``FILE``, so a change of
either file's size or modification time means another writer (or this app) committed something. Two
``stat`` calls a few times a minute cost microseconds on the GUI thread and need no engine call.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

POLL_INTERVAL_MS = 3000  # a CLI change shows within a few seconds; the two stat calls are negligible
WAL_SUFFIX = "-wal"

Stamp = tuple[tuple[int, int], ...]


def database_stamp(database: Path) -> Stamp:
    """(mtime_ns, size) of the database and its WAL file; (0, 0) for a file that does not exist."""
    stamps = []
    for path in (database, Path(str(database) + WAL_SUFFIX)):
        try:
            status = os.stat(path)
        except OSError:
            stamps.append((0, 0))
        else:
            stamps.append((status.st_mtime_ns, status.st_size))
    return tuple(stamps)


class DatabaseWatcher(QObject):
    """Emits ``changed`` after the database files change; ``pause``/``resume`` around the app's own scans."""

    changed = Signal()

    def __init__(self, database: Path, parent: QObject | None = None, interval_ms: int = POLL_INTERVAL_MS) -> None:
        super().__init__(parent)
        self.database = Path(database)
        self._stamp = database_stamp(self.database)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> bool:
        """Compare with the last stamp; True (and ``changed``) when the files differ."""
        stamp = database_stamp(self.database)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        self.changed.emit()
        return True

    def forget_changes(self) -> None:
        """The app itself changed the database and has refreshed: only later changes count."""
        self._stamp = database_stamp(self.database)

    def stop(self) -> None:
        self._timer.stop()
