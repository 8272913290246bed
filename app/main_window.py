"""The main window: arranges the views and wires them together; no view knows another.

Library, Map and Training are tabs; folders, details, similar tracks and problems are dock panels
whose layout is remembered. Dropping an audio file anywhere searches by its sound; dropping a folder
adds it to the library.
"""

from __future__ import annotations

import gc

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QToolBar,
    QWidget,
)

from app import settings, tasks
from app.details_panel import DetailsPanel
from app.folders_panel import FoldersPanel
from app.key_write import KeyWriteFlow
from app.library_view import LibraryView
from app.map_view import MapView
from app.model_picker import ModelPicker
from app.player import PlayerBar
from app.problems_panel import ProblemsPanel
from app.similarity_panel import SimilarityPanel
from app.suggestions_panel import SELECTED_TRACK, SuggestionsPanel
from app.tasks import run_task
from app.training_view import TrainingView
from engine.audio import AUDIO_EXTENSIONS

WINDOW_TITLE = "SemiSup Music"
DEFAULT_SIZE = (1280, 800)  # shrunk to the screen's free area when that is smaller
SIDE_DOCK_WIDTHS = {"folders": 280, "details": 330}  # the central table keeps the rest of a 1280-pixel screen
RIGHT_DOCK_HEIGHTS = {"details": 440, "similar": 240}
LEFT_DOCK_HEIGHTS = {"folders": 230, "problems": 450}  # one or two folders, maybe many problems
LIVE_REFRESH_MS = 2000  # how often the table picks up tracks while a scan runs
LAYOUT_VERSION = 3  # bumped when the dock layout changes, so an old saved layout is not restored


def dropped_paths(event: QDragEnterEvent | QDropEvent) -> tuple[list[Path], list[Path]]:
    """(audio files, folders) among the dropped URLs; anything else is ignored."""
    files, folders = [], []
    for url in event.mimeData().urls() if event.mimeData().hasUrls() else []:
        if not url.isLocalFile():
            continue
        path = Path(url.toLocalFile())
        if path.is_dir():
            folders.append(path)
        elif path.suffix.lower() in AUDIO_EXTENSIONS:
            files.append(path)
    return files, folders


class MainWindow(QMainWindow):
    """Owns the views; the ``Library`` is shared and only ever called from worker threads."""

    def __init__(self, library: Any) -> None:
        super().__init__()
        self.library = library
        self.setWindowTitle(f"{WINDOW_TITLE} — {Path(str(library.db_path)).name}")
        self.setAcceptDrops(True)
        self._resize_to_screen()

        self.library_view = LibraryView(library)
        self.library_view.reload()  # the first page loads on a worker while the other views are built
        self.map_view = MapView(library)
        self.training_view = TrainingView(library)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.library_view, "Library")
        self.tabs.addTab(self.map_view, "Map")
        self.tabs.addTab(self.training_view, "Training")
        self.setCentralWidget(self.tabs)

        self.folders_panel = FoldersPanel(library)
        self.details_panel = DetailsPanel(library)
        self.similarity_panel = SimilarityPanel(library)
        self.problems_panel = ProblemsPanel(library)
        self.suggestions_panel = SuggestionsPanel(library)
        self.docks = {
            "folders": self._dock("Folders", self.folders_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            "details": self._dock("Track", self.details_panel, Qt.DockWidgetArea.RightDockWidgetArea, scrollable=True),
            "similar": self._dock("Similar tracks", self.similarity_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            "problems": self._dock("Problems", self.problems_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            "suggestions": self._dock("Suggested tags", self.suggestions_panel, Qt.DockWidgetArea.RightDockWidgetArea),
        }
        self.key_write = KeyWriteFlow(library, self)
        self.player = PlayerBar()
        self.model_picker = ModelPicker(library)
        self._build_toolbars()
        self._build_shortcuts()
        self.scan_label = QLabel("")
        self.statusBar().addPermanentWidget(self.scan_label)
        self.statusBar().showMessage("Drop an audio file on the window to find tracks that sound like it.")

        self.live_refresh = QTimer(self)
        self.live_refresh.setInterval(LIVE_REFRESH_MS)
        self.live_refresh.timeout.connect(self.library_view.model.refresh)
        self.map_stale = True
        self.scan_running = False
        self._connect()
        self._restore_settings()
        self._check_model()
        # Everything alive now (modules, torch, Qt wrappers) lives as long as the app: keep it out of the cyclic
        # collector, whose full passes over it took 70-130 ms here and stalled the event loop mid-scan.
        gc.freeze()

    # ---- construction ---------------------------------------------------------------------
    def _resize_to_screen(self) -> None:
        width, height = DEFAULT_SIZE
        screen = self.screen()
        if screen is not None:
            available = screen.availableGeometry()
            width, height = min(width, available.width()), min(height, available.height())
        self.resize(width, height)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, scrollable: bool = False) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower().replace(' ', '-')}")
        if scrollable:  # a tall panel scrolls instead of making the window taller than the screen
            scroller = QScrollArea()
            scroller.setWidgetResizable(True)
            scroller.setFrameShape(QFrame.Shape.NoFrame)
            scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroller.setWidget(widget)
            widget = scroller
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _build_toolbars(self) -> None:
        top = QToolBar("Main")
        top.setObjectName("toolbar-main")
        top.setMovable(False)
        self.add_action = QAction("Add folder…", self, shortcut=QKeySequence("Ctrl+O"), triggered=self.folders_panel.choose_folder)
        self.scan_action = QAction("Scan", self, shortcut=QKeySequence("F5"), triggered=lambda: self.folders_panel.start_scan())
        self.cancel_action = QAction("Cancel scan", self, shortcut=QKeySequence("Escape"), triggered=self.folders_panel.cancel_scan)
        self.cancel_action.setEnabled(False)
        for action in (self.add_action, self.scan_action, self.cancel_action):
            action.setToolTip(f"{action.text()} ({action.shortcut().toString()})")
            top.addAction(action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        top.addWidget(spacer)
        top.addWidget(self.model_picker)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, top)
        bottom = QToolBar("Player")
        bottom.setObjectName("toolbar-player")
        bottom.setMovable(False)
        bottom.addWidget(self.player)
        self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, bottom)
        view_menu = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        library_menu = self.menuBar().addMenu("&Library")
        for action in (self.add_action, self.scan_action, self.cancel_action):
            library_menu.addAction(action)
        library_menu.addSeparator()
        library_menu.addAction(QAction("Quit", self, shortcut=QKeySequence("Ctrl+Q"), triggered=self.close))
        self.write_key_action = QAction("Write key to file…", self, shortcut=QKeySequence("Ctrl+K"),
                                        triggered=self.write_key_to_selected)
        self.write_key_action.setToolTip("Write the analysed key into the selected tracks' key tags (asks first)")
        self.suggest_tags_action = QAction("Suggest tags…", self, shortcut=QKeySequence("Ctrl+G"),
                                           triggered=self.show_tag_suggestions)
        self.suggest_tags_action.setToolTip("Tags the active model suggests for the selected track's empty fields")
        tracks_menu = self.menuBar().addMenu("&Tracks")
        for action in (self.write_key_action, self.suggest_tags_action):
            action.setEnabled(False)  # until tracks are selected
            tracks_menu.addAction(action)
            self.library_view.table.addAction(action)

    def _build_shortcuts(self) -> None:
        bindings = {
            "Ctrl+F": self._focus_search,
            "Space": self.player.toggle,
            "Ctrl+S": self.similarity_panel.choose_playlist_file,
            "Ctrl+H": self.similarity_panel.harmonic_box.toggle,
            "Ctrl+R": self.similarity_panel.make_radio,
            "Ctrl+1": lambda: self.tabs.setCurrentIndex(0),
            "Ctrl+2": lambda: self.tabs.setCurrentIndex(1),
            "Ctrl+3": lambda: self.tabs.setCurrentIndex(2),
        }
        for keys, slot in bindings.items():
            QShortcut(QKeySequence(keys), self, activated=slot)

    def _connect(self) -> None:
        self.library_view.track_selected.connect(self.select_track)
        self.library_view.play_requested.connect(self.player.play)
        self.library_view.empty_state.add_folder_requested.connect(self.folders_panel.choose_folder)
        self.library_view.empty_state.choose_model_requested.connect(self.model_picker.choose_folder_to_use)
        self.map_view.track_selected.connect(lambda track_id: self.select_track(track_id, ""))
        self.similarity_panel.track_activated.connect(self.details_panel.show_track_id)
        self.similarity_panel.play_requested.connect(self.player.play)
        self.similarity_panel.results_shown.connect(self.map_view.highlight)
        self.details_panel.play_requested.connect(self.player.play)
        self.player.failed.connect(self.statusBar().showMessage)
        self.folders_panel.scan_started.connect(self._on_scan_started)
        self.folders_panel.scan_progressed.connect(lambda status: self.scan_label.setText(
            f"Scanning: {status.done} / {status.total}" if status.total else "Scanning…"))
        self.folders_panel.scan_finished.connect(self._on_scan_finished)
        self.problems_panel.counted.connect(self._show_problem_count)
        self.model_picker.model_changed.connect(self._on_model_changed)
        self.training_view.model_ready.connect(self.model_picker.register_folder)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.library_view.table.selectionModel().selectionChanged.connect(lambda *_: self._update_track_actions())
        self.key_write.done.connect(lambda _summary: self.library_view.model.refresh())
        self.suggestions_panel.written.connect(lambda _summary: self.library_view.model.refresh())
        self.docks["suggestions"].visibilityChanged.connect(self.suggestions_panel.set_shown)

    # ---- selection and search -------------------------------------------------------------
    def select_track(self, track_id: int, label: str) -> None:
        """A track chosen in any view: show it and what sounds like it."""
        self.details_panel.show_track_id(track_id)
        self.similarity_panel.query_track(track_id, label or f"track {track_id}")
        self.suggestions_panel.show_track(track_id)

    def search_file(self, path: Path) -> None:
        """An audio file from outside: analyse it (details) and search the library by its sound."""
        self.docks["similar"].show()
        self.docks["details"].show()
        self.details_panel.show_file(path)
        self.similarity_panel.query_file(path)
        self.statusBar().showMessage(f"Analysing {path.name}…", 5000)

    def write_key_to_selected(self) -> None:
        """Ask how to write the analysed key into the selected tracks' files, then write it (never silently)."""
        rows = self.library_view.selected_rows()
        if not rows:
            self.statusBar().showMessage("Select the tracks whose key should be written into their files.", 5000)
            return
        self.key_write.ask(len(rows), self.library_view.model.track_ids_at(rows))

    def show_tag_suggestions(self) -> None:
        dock = self.docks["suggestions"]
        dock.show()
        dock.raise_()
        self.suggestions_panel.scope_box.setCurrentText(SELECTED_TRACK)

    def _update_track_actions(self) -> None:
        selected = self.library_view.table.selectionModel().hasSelection()
        self.write_key_action.setEnabled(selected and not self.scan_running)
        self.suggest_tags_action.setEnabled(selected)

    def _focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.library_view)
        self.library_view.search_box.setFocus()
        self.library_view.search_box.selectAll()

    # ---- drag and drop --------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        files, folders = dropped_paths(event)
        if files or folders:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        files, folders = dropped_paths(event)
        for folder in folders:
            self.folders_panel.add_folder(folder)
        if files:
            self.search_file(files[0])
        event.acceptProposedAction()

    # ---- scanning and models --------------------------------------------------------------
    def _on_scan_started(self) -> None:
        self.add_action.setEnabled(False)
        self.scan_action.setEnabled(False)
        self.cancel_action.setEnabled(True)
        self.model_picker.setEnabled(False)  # the running scan analyses with the model it started with
        self.scan_running = True
        self.write_key_action.setEnabled(False)  # files are not rewritten while the scan reads them
        self.scan_label.setText("Scanning…")
        self.library_view.expect_rows()
        self.live_refresh.start()

    def _on_scan_finished(self, report: Any) -> None:
        self.live_refresh.stop()
        self.add_action.setEnabled(True)
        self.scan_action.setEnabled(True)
        self.cancel_action.setEnabled(False)
        self.model_picker.setEnabled(True)
        self.scan_running = False
        self._update_track_actions()
        self.scan_label.setText("")
        self.library_view.scan_ended()
        self.library_view.model.refresh()
        self.problems_panel.refresh()
        self.model_picker.refresh()
        self.suggestions_panel.refresh()
        self.map_stale = True
        if self.tabs.currentWidget() is self.map_view:
            self._refresh_map()
        if report is not None:
            self.statusBar().showMessage(self.folders_panel.status_label.text(), 10000)

    def _on_model_changed(self, model_id: str) -> None:
        """A new model: its analyses are separate, so re-analyse the library with it and redraw everything."""
        self.statusBar().showMessage(f"Using model {model_id}.", 10000)
        self.library_view.reload()
        self.suggestions_panel.refresh()
        self.map_stale = True
        self._check_model()
        if self.folders_panel.folders():
            self.folders_panel.start_scan()

    def _check_model(self) -> None:
        library = self.library
        run_task(lambda: library.info().model is None,
                 self.library_view.empty_state.set_model_missing, lambda message: None)

    def _on_tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.map_view and self.map_stale:
            self._refresh_map()

    def _refresh_map(self) -> None:
        self.map_stale = False
        self.map_view.refresh()

    def _show_problem_count(self, count: int) -> None:
        self.docks["problems"].setWindowTitle(f"Problems ({count})" if count else "Problems")

    # ---- settings -------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = settings.bytes_value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = settings.bytes_value("window/state")
        if state is None or not self.restoreState(state, LAYOUT_VERSION):  # first run, or a layout from an older version
            self.splitDockWidget(self.docks["details"], self.docks["similar"], Qt.Orientation.Vertical)
            self.tabifyDockWidget(self.docks["similar"], self.docks["suggestions"])
            self.docks["similar"].raise_()
            self.splitDockWidget(self.docks["folders"], self.docks["problems"], Qt.Orientation.Vertical)
            self._size_docks()
        self.similarity_panel.harmonic_box.setChecked(settings.value("similar/harmonic", False, bool))
        self.map_view.colour_box.setCurrentText(settings.value("map/colour_by", self.map_view.colour_box.currentText(), str))
        self.tabs.setCurrentIndex(settings.value("window/tab", 0, int))

    def _size_docks(self) -> None:
        """The first-run layout: narrow side panels, the library table gets the middle."""
        for sizes, orientation in ((SIDE_DOCK_WIDTHS, Qt.Orientation.Horizontal),
                                   (RIGHT_DOCK_HEIGHTS, Qt.Orientation.Vertical),
                                   (LEFT_DOCK_HEIGHTS, Qt.Orientation.Vertical)):
            self.resizeDocks([self.docks[name] for name in sizes], list(sizes.values()), orientation)

    def save_settings(self) -> None:
        settings.set_value("window/geometry", QByteArray(self.saveGeometry()))
        settings.set_value("window/state", QByteArray(self.saveState(LAYOUT_VERSION)))
        settings.set_value("window/tab", self.tabs.currentIndex())
        settings.set_value("similar/harmonic", self.similarity_panel.harmonic_box.isChecked())
        settings.set_value("map/colour_by", self.map_view.colour_box.currentText())

    def shutdown(self) -> None:
        """Stop everything that runs on another thread or process, so the library can close safely."""
        self.live_refresh.stop()
        self.player.stop()
        if self.folders_panel.scanning:
            self.folders_panel.cancel_scan()
        self.folders_panel.wait_for_scan()
        if self.key_write.running:
            self.key_write.job.cancel()  # stops after the file being written; that file is whole either way
        if self.training_view.running:
            self.training_view.stop()
            self.training_view.wait_for_finished(10000)
        tasks.wait_for_all()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.shutdown()
        event.accept()

