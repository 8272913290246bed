"""Library folders and the scan: add/remove folders (remembered by the engine), scan with progress and cancel."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import show_error
from app.index_worker import IndexStatus, IndexThread
from app.tasks import TaskRunner
from engine.progress_text import found_text, progress_line
from engine.scan import display_path


LOOKING_TEXT = QT_TRANSLATE_NOOP("FoldersPanel", "Looking for music files…")  # shown through _tr()
CONTEXT = "FoldersPanel"
FOLDER_ROLE = Qt.ItemDataRole.UserRole  # a folder item's exact path, as bytes (its text is the printable form)


FOLDER_LIST_PREFERRED_HEIGHT = 64  # px: three folders' rows

# The summary's counts, in this order, each shown when not 0; ``excluded``: files the user removed from the library
REPORT_COUNTS = {
    "added": QT_TRANSLATE_NOOP("FoldersPanel", "{count} added"),
    "updated": QT_TRANSLATE_NOOP("FoldersPanel", "{count} updated"),
    "unchanged": QT_TRANSLATE_NOOP("FoldersPanel", "{count} unchanged"),
    "removed": QT_TRANSLATE_NOOP("FoldersPanel", "{count} removed"),
    "problems": QT_TRANSLATE_NOOP("FoldersPanel", "{count} problems"),
    "excluded": QT_TRANSLATE_NOOP("FoldersPanel", "{count} skipped (removed from the library)"),
}


class ScanState(Enum):
    """The one scan state every control reads: the panel's buttons, the toolbar and the status bar."""

    IDLE = "idle"
    LOOKING = "looking"  # listing the folders: no file count yet
    ANALYSING = "analysing"
    CANCELLING = "cancelling"


@dataclass(frozen=True)
class ScanControls:
    """Which scan controls are enabled in a state; the panel and the window's actions both follow it."""

    add: bool
    scan: bool
    cancel: bool
    remove: bool


def scan_controls(state: ScanState, has_folders: bool, has_selection: bool) -> ScanControls:
    idle = state is ScanState.IDLE
    return ScanControls(add=idle, scan=idle and has_folders, cancel=state in (ScanState.LOOKING, ScanState.ANALYSING),
                        remove=idle and has_selection)


def _tr(text: str) -> str:
    """A text marked with QT_TRANSLATE_NOOP in this panel's context, in the user's language (literal texts are
    written as ``QCoreApplication.translate("FoldersPanel", …)`` calls instead, so pyside6-lupdate finds them)."""
    return QCoreApplication.translate(CONTEXT, text)


def progress_text(status: IndexStatus) -> str:
    """The CLI's words (``engine.progress_text``): ``"2,400 found… · 120 / 480 analysed · 3.2 files/s · 1:52 left
    (so far)"``; while nothing is planned yet, that it is looking (and how many files it has found)."""
    if status.total == 0:
        return f"{_tr(LOOKING_TEXT)} {found_text(status.progress)}" if status.found else _tr(LOOKING_TEXT)
    return progress_line(status.progress)


def report_text(report: Any) -> str:
    """The one-line summary shown after a scan, from the engine's ``IndexReport``."""
    counts = [_tr(text).format(count=getattr(report, name)) for name, text in REPORT_COUNTS.items()
              if getattr(report, name, 0)]
    summary = ", ".join(counts) if counts else QCoreApplication.translate("FoldersPanel", "nothing changed")
    seconds = getattr(report, "seconds", None)
    timing = (QCoreApplication.translate("FoldersPanel", " in {seconds} s").format(seconds=f"{seconds:.1f}")
              if seconds else "")
    prefix = (QCoreApplication.translate("FoldersPanel", "Scan cancelled: ") if getattr(report, "cancelled", False)
              else QCoreApplication.translate("FoldersPanel", "Scan finished: "))
    missing = getattr(report, "missing_folders", [])
    away = (QCoreApplication.translate("FoldersPanel", " Not found, so not scanned (their tracks are kept): {folders}.")
            .format(folders=", ".join(missing)) if missing else "")
    empty = getattr(report, "empty_folders", [])
    emptied = (QCoreApplication.translate(
        "FoldersPanel", " Empty, so not taken for gone (their tracks are kept; a drive not mounted? Remove the "
        "folder here to forget them): {folders}.")
        .format(folders=", ".join(empty)) if empty else "")
    return f"{prefix}{summary}{timing}.{away}{emptied}"


class FolderList(QListWidget):
    """The folder list prefers a few rows' height: the panel's word-wrapped status line makes the dock's scroll area
    size the panel to its preferred height, and a list preferring its default 192 px pushed the scan's progress bar
    and status out of sight in a 230 px dock. It still takes all the height the dock gives."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        hint = super().sizeHint()
        return QSize(hint.width(), FOLDER_LIST_PREFERRED_HEIGHT)


class FoldersPanel(QWidget):
    """Shows the folders and the scan; emits ``scan_finished`` (report) so lists can refresh."""

    scan_started = Signal()
    scan_progressed = Signal(object)  # IndexStatus
    scan_finished = Signal(object)  # IndexReport
    folders_changed = Signal(list)
    tracks_removed = Signal()  # a folder was removed, and the tracks below it with it
    state_changed = Signal(object)  # ScanState

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library = library
        self.thread: IndexThread | None = None
        self.state = ScanState.IDLE
        self.folder_list = FolderList()
        self.folder_list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.folder_list.setToolTip(self.tr("Folders whose music is in the library"))
        self.folder_list.setMinimumWidth(160)
        self.folder_list.setTextElideMode(Qt.TextElideMode.ElideLeft)  # "…/Music/Jazz": the ends tell folders apart
        # Without a horizontal scroll bar a long path is elided instead of cut at the right, where folders in one
        # parent all read the same; its tooltip has the whole path.
        self.folder_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.add_button = QPushButton(self.tr("Add folder…"))
        self.add_button.setToolTip(self.tr("Add a folder of music and scan it (Ctrl+O)"))
        self.remove_button = QPushButton(self.tr("Remove"))
        self.remove_button.setToolTip(self.tr("Remove the selected folders from the library (the files stay on disk)"))
        self.scan_button = QPushButton(self.tr("Scan now"))
        self.scan_button.setToolTip(self.tr("Look for new, changed and removed files (F5)"))
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setToolTip(self.tr("Stop the scan; the next scan continues where it stopped (Esc)"))
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A library file this user may not change (read-only media): browsed and searched, never scanned.
        self.read_only = bool(getattr(getattr(library, "store", None), "file_read_only", False))
        if self.read_only:
            self.status_label.setText(self.tr("This library file is read-only: its tracks can be browsed and searched, "
                                              "but no folder can be added, removed or scanned."))

        buttons = QHBoxLayout()  # two rows of buttons: one row would make the panel wider than a laptop's side dock
        for button in (self.add_button, self.scan_button):
            buttons.addWidget(button)
        second_row = QHBoxLayout()
        second_row.addWidget(self.remove_button)
        second_row.addStretch(1)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Library folders")))
        layout.addWidget(self.folder_list, 1)
        layout.addLayout(buttons)
        layout.addLayout(second_row)
        layout.addLayout(progress_row)
        layout.addWidget(self.status_label)

        self.add_button.clicked.connect(self.choose_folder)
        self.remove_button.clicked.connect(self.remove_selected)
        self.scan_button.clicked.connect(lambda: self.start_scan())
        self.cancel_button.clicked.connect(self.cancel_scan)
        self.folder_list.itemSelectionChanged.connect(self._update_buttons)
        self._set_state(ScanState.IDLE)
        self.refresh()

    # ---- folders --------------------------------------------------------------------------
    def refresh(self) -> None:
        library = self.library
        self.tasks.run(lambda: [str(folder) for folder in library.folders()], self._show_folders, self._error)

    def _show_folders(self, folders: list[str]) -> None:
        """Each folder shown printable (a name that is not UTF-8 with U+FFFD) and kept exact in the item's data:
        removing it, watching it and scanning it need its real bytes, which the shown text has lost."""
        self.folder_list.clear()
        for folder in folders:
            item = QListWidgetItem(display_path(folder))
            item.setToolTip(display_path(folder))
            item.setData(FOLDER_ROLE, os.fsencode(folder))  # bytes: a QString would drop the undecodable ones
            self.folder_list.addItem(item)
        self._update_buttons()
        self.folders_changed.emit(folders)
        self.state_changed.emit(self.state)  # whether Scan is possible depends on having folders

    def folders(self) -> list[str]:
        return [_folder_of(self.folder_list.item(row)) for row in range(self.folder_list.count())]

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Add a music folder"), str(Path.home()))
        if folder:
            self.add_folder(Path(folder))

    def add_folder(self, folder: Path) -> None:
        """Remember the folder and scan it right away: a user who adds a folder wants to see its music."""
        library = self.library

        def add() -> list[str]:
            library.add_folder(folder)
            return [str(each) for each in library.folders()]

        def added(folders: list[str]) -> None:
            self._show_folders(folders)
            self.start_scan()

        self.tasks.run(add, added, self._error)

    def remove_selected(self) -> None:
        chosen = [_folder_of(item) for item in self.folder_list.selectedItems()]
        if not chosen:
            return
        library = self.library

        def remove() -> tuple[list[str], int]:
            gone = sum(library.remove_folder(Path(folder)) for folder in chosen)
            return [str(each) for each in library.folders()], gone

        def removed(result: tuple[list[str], int]) -> None:
            folders, gone = result
            self._show_folders(folders)
            self.status_label.setText(self.tr("Folder removed: 1 track left the library (its file stays).") if gone == 1
                                      else self.tr("Folder removed: {count:,} tracks left the library (their files "
                                                   "stay).").format(count=gone))
            self.tracks_removed.emit()  # their tracks left the library with them: no scan needed

        self.tasks.run(remove, removed, self._error)

    # ---- scanning -------------------------------------------------------------------------
    @property
    def scanning(self) -> bool:
        """A scan runs until it has reported (completed or failed), not until its thread has ended: a thread that
        has sent its report may still be returning when the next scan is asked for, which was then ignored."""
        return self.state is not ScanState.IDLE

    def start_scan(self, paths: list[Path] | None = None) -> None:
        if self.scanning or self.read_only:  # a read-only library is never scanned (a folder watch may still ask)
            return
        if self.thread is not None:
            self.thread.wait()  # the last scan has reported; its thread is only returning
        self.thread = IndexThread(self.library, paths, self)
        self.thread.progressed.connect(self._on_progress)
        self.thread.completed.connect(self._on_completed)
        self.thread.failed.connect(self._on_failed)
        self.progress_bar.setRange(0, 0)  # busy until the first file count arrives
        self.progress_bar.setFormat("")
        self.status_label.setText(_tr(LOOKING_TEXT))
        self._set_state(ScanState.LOOKING)
        self.scan_started.emit()
        self.thread.start()

    def cancel_scan(self) -> None:
        if self.scanning and self.state is not ScanState.CANCELLING:
            self.thread.cancel()
            self.status_label.setText(self.tr("Cancelling after the files in progress…"))
            self._set_state(ScanState.CANCELLING)

    def wait_for_scan(self, timeout_ms: int = 60000) -> bool:
        return self.thread is None or self.thread.wait(timeout_ms)

    def _on_progress(self, status: IndexStatus) -> None:
        if self.state is ScanState.CANCELLING:
            return  # the "Cancelling…" line stays until the scan has stopped
        if status.total:  # until the files are counted the bar stays busy: "0 / 0" would read as "nothing found"
            self.progress_bar.setRange(0, status.total)
            self.progress_bar.setValue(status.done)
            self.progress_bar.setFormat(f"{status.fraction:.0%}")
            self._set_state(ScanState.ANALYSING)
        self.status_label.setText(progress_text(status))
        self.scan_progressed.emit(status)

    def _on_completed(self, report: Any) -> None:
        self._set_state(ScanState.IDLE)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0 if getattr(report, "cancelled", False) else 1)
        self.progress_bar.setFormat("%p%")
        self.status_label.setText(report_text(report))
        self.scan_finished.emit(report)

    def _on_failed(self, message: str) -> None:
        self._set_state(ScanState.IDLE)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.status_label.setText(self.tr("Scan failed."))
        show_error(self, self.tr("Scan failed"), message)
        self.scan_finished.emit(None)

    def _set_state(self, state: ScanState) -> None:
        changed = state is not self.state
        self.state = state
        scanning = state is not ScanState.IDLE
        self.cancel_button.setVisible(scanning)
        self.progress_bar.setVisible(scanning)
        self._update_buttons()
        if changed:
            self.state_changed.emit(state)

    def controls(self) -> ScanControls:
        """What may be done now; the window's toolbar and menu actions follow the same answer."""
        if self.read_only:
            return ScanControls(add=False, scan=False, cancel=False, remove=False)
        return scan_controls(self.state, self.folder_list.count() > 0, bool(self.folder_list.selectedItems()))

    def _update_buttons(self) -> None:
        controls = self.controls()
        self.add_button.setEnabled(controls.add)
        self.scan_button.setEnabled(controls.scan)
        self.cancel_button.setEnabled(controls.cancel)
        self.remove_button.setEnabled(controls.remove)

    def _error(self, message: str) -> None:
        show_error(self, self.tr("Library folders"), message)


def _folder_of(item: QListWidgetItem) -> str:
    """The exact path a folder item stands for (``_show_folders``)."""
    return os.fsdecode(bytes(item.data(FOLDER_ROLE)))
