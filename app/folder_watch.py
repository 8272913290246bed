"""Watch folders: a library folder the user chooses to watch is rescanned when files appear, change or go in it
(or in any folder below it), through Qt's ``QFileSystemWatcher`` (inotify, FSEvents, ReadDirectoryChangesW).

Changes are debounced: copying an album touches a folder many times, and one rescan after it has settled does
the work once. The rescan is the ordinary scan of those folders (the window starts it), so nothing here reads
audio or writes the library. Which folders are watched is remembered in the app's settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from app import settings
from app.tasks import BACKGROUND, TaskRunner
from engine.scan import is_skipped_name

WATCHED_SETTING = "folders/watched"  # the watched library folders, one per line
RESCAN_DELAY_MS = 3000  # quiet time after the last change before the rescan
# A directory watch is a per-user kernel resource (Linux: fs.inotify.max_user_watches, 8192 on older systems):
# past this many folders the deepest ones are left unwatched rather than starving other programs.
MAX_WATCHED_DIRECTORIES = 4000


def folder_tree(roots: Iterable[str], limit: int = MAX_WATCHED_DIRECTORIES) -> list[str]:
    """The folders at and below ``roots`` that a scan would enter (hidden and system folders skipped, each folder
    once), breadth first so that a limit leaves out the deepest; at most ``limit``."""
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    queue = list(roots)
    while queue and len(found) < limit:
        folder = queue.pop(0)
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as listing:
                queue.extend(sorted(entry.path for entry in listing
                                    if not is_skipped_name(entry.name) and entry.is_dir(follow_symlinks=True)))
        except OSError:
            continue
        found.append(folder)
    return found


class FolderWatch(QObject):
    """Emits ``rescan_requested(folders)``: the watched library folders in which something changed."""

    rescan_requested = Signal(list)

    def __init__(self, tasks: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.watcher = QFileSystemWatcher(self)
        saved = settings.value(WATCHED_SETTING, "", str) or ""
        self.watched: set[str] = {line for line in saved.splitlines() if line}
        self.library_folders: list[str] = []
        self._changed: set[str] = set()
        self._generation = 0
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(RESCAN_DELAY_MS)
        self.debounce.timeout.connect(self._flush)
        self.watcher.directoryChanged.connect(self._on_changed)

    def is_watched(self, folder: str) -> bool:
        return folder in self.watched

    def set_watched(self, folder: str, watched: bool) -> None:
        """Watch a library folder (and the folders below it) or stop; remembered."""
        (self.watched.add if watched else self.watched.discard)(folder)
        settings.set_value(WATCHED_SETTING, "\n".join(sorted(self.watched)))
        self.set_library_folders(self.library_folders)

    def set_library_folders(self, folders: list[str]) -> None:
        """The library's folders now: those chosen to be watched are (re)listed on a worker and watched."""
        self.library_folders = list(folders)
        roots = [folder for folder in self.library_folders if folder in self.watched]
        self._generation += 1
        generation = self._generation
        self.tasks.run(lambda: folder_tree(roots), lambda found: self._watch(generation, found), lambda _message: None,
                       kind=BACKGROUND)

    def watched_directories(self) -> list[str]:
        return self.watcher.directories()

    def _watch(self, generation: int, directories: list[str]) -> None:
        if generation != self._generation:
            return  # a newer listing is on its way
        wanted, current = set(directories), set(self.watcher.directories())
        if current - wanted:
            self.watcher.removePaths(sorted(current - wanted))
        if wanted - current:
            self.watcher.addPaths(sorted(wanted - current))

    def _on_changed(self, directory: str) -> None:
        root = next((folder for folder in self.library_folders if folder in self.watched
                     and (directory == folder or directory.startswith(folder.rstrip(os.sep) + os.sep))), None)
        if root is not None:
            self._changed.add(root)
            self.debounce.start()

    def _flush(self) -> None:
        changed, self._changed = sorted(self._changed), set()
        if changed:
            self.rescan_requested.emit(changed)
            self.set_library_folders(self.library_folders)  # a new folder below a watched one is watched too
