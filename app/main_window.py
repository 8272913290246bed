"""The main window: arranges the views and wires them together; no view knows another.

Library, Map and Training are tabs (Map and Training are built when first opened, so the window shows
sooner); folders, details, similar tracks and problems are dock panels whose layout is remembered, side
by side on a wide screen and tabbed on a laptop's. Dropping an audio file anywhere searches by its sound;
dropping a folder adds it to the library. The view follows changes another process makes to the database.
"""

from __future__ import annotations


from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QByteArray, QCoreApplication, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QToolBar,
    QWidget,
)

from app import settings, track_format
from app.database_watch import DatabaseWatcher
from app.details_panel import DetailsPanel
from app.folders_panel import LOOKING_TEXT, FoldersPanel, ScanState, progress_text
from app.crates_view import CratesView
from app.duplicates_view import DuplicatesView
from app.excluded_files import ExcludedFilesDialog, folders_holding
from app.folder_watch import FolderWatch
from app.key_write import KeyWriteFlow
from app.library_view import LibraryView
from app.map_view import MapView
from app.model_picker import ModelPicker, active_model_problem
from app.player import PlayerBar
from app.problems_panel import ProblemsPanel
from app.similarity_panel import SimilarityPanel
from app.suggestions_panel import SELECTED_TRACK, SuggestionsPanel
from app.track_details import DroppedFile, analyse_dropped_file
from app.track_removal import RemovalFlow
from app.tasks import TaskRunner
from app.training_view import TrainingView
from app.url_paths import local_path
from engine.audio import AUDIO_EXTENSIONS

WINDOW_TITLE = "SemiSup Music"
DEFAULT_SIZE = (1280, 800)  # shrunk to the screen's free area when that is smaller
# At least this wide, the first-run layout puts the panels side by side; narrower (a 1024-pixel laptop), the
# panels on each side share one tabbed dock, so the table keeps half the width and the similar list its height.
WIDE_LAYOUT_MIN_WIDTH = 1280
SIDE_DOCK_WIDTHS = {"folders": 260, "details": 340}  # the central table gets everything else (all of a 1920 screen's extra)
COMPACT_DOCK_WIDTHS = {"folders": 190, "details": 300}
NARROW_LAYOUT_MAX_WIDTH = 1000  # below it the folders and problems join the right-hand tabs (an 800 px window)
NARROW_DOCK_WIDTH = 320
DETAILS_HEIGHT_SHARE = 0.45  # of the right side, when details and similar tracks are stacked; the list gets the rest
LEFT_DOCK_HEIGHTS = {"folders": 230, "problems": 450}  # one or two folders, maybe many problems
LIVE_REFRESH_MS = 2000  # how often the table picks up tracks while a scan runs
LAYOUT_VERSION = 4  # bumped when the dock layout changes, so an old saved layout is not restored
MAP_TAB, TRAINING_TAB, CRATES_TAB, DUPLICATES_TAB = 1, 2, 3, 4
LEFT, RIGHT = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
DOCK_AREAS = {"folders": LEFT, "details": RIGHT, "similar": RIGHT, "problems": LEFT, "suggestions": RIGHT}
# The dock panels' titles (shown through tr(); the English title also names the dock in the saved layout).
DOCK_TITLES = {
    "folders": QT_TRANSLATE_NOOP("MainWindow", "Folders"),
    "details": QT_TRANSLATE_NOOP("MainWindow", "Track"),
    "similar": QT_TRANSLATE_NOOP("MainWindow", "Similar tracks"),
    "problems": QT_TRANSLATE_NOOP("MainWindow", "Problems"),
    "suggestions": QT_TRANSLATE_NOOP("MainWindow", "Suggested tags"),
}
TAB_TITLES = (QT_TRANSLATE_NOOP("MainWindow", "Library"), QT_TRANSLATE_NOOP("MainWindow", "Map"),
              QT_TRANSLATE_NOOP("MainWindow", "Training"), QT_TRANSLATE_NOOP("MainWindow", "Crates"),
              QT_TRANSLATE_NOOP("MainWindow", "Duplicates"))  # in tab order
KEYBOARD_HELP = (  # (keys, what they do: shown through tr())
    ("Ctrl+F", QT_TRANSLATE_NOOP("MainWindow", "search the library; Down moves into the results, Esc clears the search")),
    ("Enter", QT_TRANSLATE_NOOP("MainWindow", "play the selected track")),
    ("Space", QT_TRANSLATE_NOOP("MainWindow", "play the selected track, or pause / resume")),
    ("Ctrl+K", QT_TRANSLATE_NOOP("MainWindow", "write the analysed key into the selected or shown tracks' files")),
    ("Ctrl+G", QT_TRANSLATE_NOOP("MainWindow", "suggest tags")),
    ("Ctrl+H", QT_TRANSLATE_NOOP("MainWindow", "harmonic matches only")),
    ("Ctrl+R", QT_TRANSLATE_NOOP("MainWindow", "radio playlist from the track")),
    ("Ctrl+S", QT_TRANSLATE_NOOP("MainWindow", "save the similar list as M3U8")),
    ("Delete", QT_TRANSLATE_NOOP("MainWindow", "remove the selected tracks from the library (asks; later scans skip "
                                               "them: Library → Excluded files…)")),
    ("Ctrl+1 … 5", QT_TRANSLATE_NOOP("MainWindow", "Library / Map / Training / Crates / Duplicates")),
    ("Ctrl+O", QT_TRANSLATE_NOOP("MainWindow", "add a folder")), ("F5", QT_TRANSLATE_NOOP("MainWindow", "scan")),
    ("Esc", QT_TRANSLATE_NOOP("MainWindow", "cancel the scan")), ("F1", QT_TRANSLATE_NOOP("MainWindow", "this help")),
)
ABOUT_TEXT = QT_TRANSLATE_NOOP(
    "MainWindow",
    "<b>SemiSup Music</b><p>Finds the tracks in your music library that sound like a track or any dropped audio "
    "file, estimates keys and tags, and trains custom models from your own tags. Everything runs offline on this "
    "computer; your files are only read, unless you ask for a key or tag to be written.</p>"
)  # shown through tr()


def dropped_paths(event: QDragEnterEvent | QDropEvent) -> tuple[list[Path], list[Path]]:
    """(audio files, folders) among the dropped URLs; anything else is ignored."""
    files, folders = [], []
    for url in event.mimeData().urls() if event.mimeData().hasUrls() else []:
        if not url.isLocalFile():
            continue
        path = local_path(url)
        if path.is_dir():
            folders.append(path)
        elif path.suffix.lower() in AUDIO_EXTENSIONS:
            files.append(path)
    return files, folders


class MainWindow(QMainWindow):
    """Owns the views; the ``Library`` is shared and only ever called from worker threads, through ``tasks``
    (the application's ``TaskRunner``, handed to every view)."""

    def __init__(self, library: Any, tasks: TaskRunner) -> None:
        super().__init__()
        self.tasks = tasks
        self.library = library
        self.setWindowTitle(f"{WINDOW_TITLE} — {Path(str(library.db_path)).name}")
        self.setAcceptDrops(True)
        self._resize_to_screen()

        self.library_view = LibraryView(library, tasks)
        self.library_view.reload()  # the first page loads on a worker while the other views are built
        self._map_view: MapView | None = None  # built when first shown (see the properties below)
        self._training_view: TrainingView | None = None
        self._highlighted: tuple[int | None, list[int]] = (None, [])  # the last similar list, for the map
        self._details_target: int | str | None = None  # the track id or dropped file the panels were asked to show
        self._lists_stale = False  # the library changed under the similar list: search again after the table reads
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for position, title in enumerate(TAB_TITLES):  # the tabs after Library are built when first shown
            self.tabs.addTab(self.library_view if position == 0 else QWidget(), self.tr(title))
        self._crates_view: CratesView | None = None
        self._duplicates_view: DuplicatesView | None = None
        self.setCentralWidget(self.tabs)

        self.folders_panel = FoldersPanel(library, tasks)
        self.details_panel = DetailsPanel(library, tasks)
        self.similarity_panel = SimilarityPanel(library, tasks)
        self.problems_panel = ProblemsPanel(library, tasks)
        self.suggestions_panel = SuggestionsPanel(library, tasks)
        panels = {"folders": self.folders_panel, "details": self.details_panel, "similar": self.similarity_panel,
                  "problems": self.problems_panel, "suggestions": self.suggestions_panel}
        self.docks = {name: self._dock(DOCK_TITLES[name], panel, DOCK_AREAS[name], wraps=name == "details")
                      for name, panel in panels.items()}
        self.key_write = KeyWriteFlow(library, tasks, self)
        self.removal = RemovalFlow(library, tasks, self)
        self.folder_watch = FolderWatch(tasks, self)
        self._changed_folders: set[str] = set()  # watched folders that changed during a scan: rescanned after it
        self.player = PlayerBar()
        self.model_picker = ModelPicker(library, tasks)
        self._build_toolbars()
        self._build_shortcuts()
        self.scan_label = QLabel("")
        self.statusBar().addPermanentWidget(self.scan_label)
        self.statusBar().showMessage(self.tr("Drop an audio file on the window to find tracks that sound like it."))

        self.live_refresh = QTimer(self)
        self.live_refresh.setInterval(LIVE_REFRESH_MS)
        self.live_refresh.timeout.connect(self.library_view.model.refresh)
        self.map_stale = True
        self.scan_running = False
        self.database_watch = DatabaseWatcher(Path(str(library.db_path)), self)
        self._connect()
        self._restore_settings()
        self._check_model()

    # ---- construction ---------------------------------------------------------------------
    def _resize_to_screen(self) -> None:
        width, height = DEFAULT_SIZE
        screen = self.screen()
        if screen is not None:
            available = screen.availableGeometry()
            width, height = min(width, available.width()), min(height, available.height())
        self.resize(width, height)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, wraps: bool = False) -> QDockWidget:
        """A dock whose panel scrolls when the dock is smaller than it, so no panel sets the window's minimum size
        (``wraps``: the panel's text wraps to the dock's width, so it only scrolls vertically). ``title`` is the
        English title: it names the dock in the saved layout in every language and is shown translated."""
        dock = QDockWidget(self.tr(title), self)
        dock.setObjectName(f"dock-{title.lower().replace(' ', '-')}")
        dock.setWidget(scrolling(widget, horizontal=not wraps))
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    @property
    def map_view(self) -> MapView:
        """The Map tab, built the first time anything needs it (its plot is not needed to show the window)."""
        if self._map_view is None:
            self._map_view = MapView(self.library, self.tasks)
            self._place_tab(MAP_TAB, self._map_view)
            self._map_view.set_colour_mode(settings.value("map/colour_by", self._map_view.colour_mode(), str))
            self._map_view.track_selected.connect(self._select_from_map)
            self._map_view.highlight(*self._highlighted)
        return self._map_view

    @property
    def training_view(self) -> TrainingView:
        """The Training tab, built the first time anything needs it."""
        if self._training_view is None:
            self._training_view = TrainingView(self.library, self.tasks)
            self._place_tab(TRAINING_TAB, scrolling(self._training_view, horizontal=True))
            self._training_view.model_ready.connect(self.model_picker.register_folder)
        return self._training_view

    @property
    def crates_view(self) -> CratesView:
        """The Crates tab, built the first time anything needs it (a crate made from a selection, or the tab)."""
        if self._crates_view is None:
            self._crates_view = CratesView(self.library, self.tasks)
            self._place_tab(CRATES_TAB, self._crates_view)
            self._crates_view.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
            self._crates_view.track_activated.connect(lambda track_id: self.select_in_library(track_id))
            self._crates_view.refresh()
        return self._crates_view

    @property
    def duplicates_view(self) -> DuplicatesView:
        """The Duplicates tab, built when first shown; it looks for duplicates when asked (a pass over every track)."""
        if self._duplicates_view is None:
            self._duplicates_view = DuplicatesView(self.library, self.tasks)
            self._place_tab(DUPLICATES_TAB, self._duplicates_view)
            self._duplicates_view.library_changed.connect(self._on_tracks_removed)
        return self._duplicates_view

    def _place_tab(self, position: int, widget: QWidget) -> None:
        current = self.tabs.currentIndex()
        title = self.tabs.tabText(position)
        self.tabs.blockSignals(True)
        placeholder = self.tabs.widget(position)
        self.tabs.removeTab(position)
        self.tabs.insertTab(position, widget, title)
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        placeholder.deleteLater()

    def _build_toolbars(self) -> None:
        top = QToolBar(self.tr("Main"))
        top.setObjectName("toolbar-main")
        top.setMovable(False)
        self.add_action = QAction(self.tr("Add folder…"), self, shortcut=QKeySequence("Ctrl+O"), triggered=self.folders_panel.choose_folder)
        self.scan_action = QAction(self.tr("Scan"), self, shortcut=QKeySequence("F5"), triggered=lambda: self.folders_panel.start_scan())
        self.cancel_action = QAction(self.tr("Cancel scan"), self, shortcut=QKeySequence("Escape"), triggered=self.folders_panel.cancel_scan)
        self.cancel_action.setEnabled(False)
        for action in (self.add_action, self.scan_action, self.cancel_action):
            action.setToolTip(f"{action.text()} ({action.shortcut().toString()})")
            top.addAction(action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        top.addWidget(spacer)
        top.addWidget(self.model_picker)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, top)
        bottom = QToolBar(self.tr("Player"))
        bottom.setObjectName("toolbar-player")
        bottom.setMovable(False)
        bottom.addWidget(self.player)
        self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, bottom)
        view_menu = self.menuBar().addMenu(self.tr("&View"))
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        library_menu = self.menuBar().addMenu(self.tr("&Library"))
        for action in (self.add_action, self.scan_action, self.cancel_action):
            library_menu.addAction(action)
        self.watch_menu = library_menu.addMenu(self.tr("Watch folders"))
        self.watch_menu.setToolTipsVisible(True)
        self.watch_menu.aboutToShow.connect(self._fill_watch_menu)
        self.excluded_action = QAction(self.tr("Excluded files…"), self, triggered=self.show_excluded_files)
        self.excluded_action.setToolTip(self.tr("Files removed from the library, which scans skip; restore them here"))
        library_menu.addAction(self.excluded_action)
        library_menu.addSeparator()
        library_menu.addAction(QAction(self.tr("Quit"), self, shortcut=QKeySequence("Ctrl+Q"), triggered=self.close))
        help_menu = self.menuBar().addMenu(self.tr("&Help"))
        self.help_action = QAction(self.tr("Keyboard shortcuts"), self, shortcut=QKeySequence("F1"), triggered=self.show_help)
        self.about_action = QAction(self.tr("About SemiSup Music"), self, triggered=self.show_about)
        help_menu.addAction(self.help_action)
        help_menu.addAction(self.about_action)
        self.help_box: QMessageBox | None = None
        self.write_key_action = QAction(self.tr("Write key to file…"), self, shortcut=QKeySequence("Ctrl+K"),
                                        triggered=self.write_key_to_selected)
        self.write_key_action.setToolTip(self.tr("Write the analysed key into the selected tracks' key tags (asks first)"))
        self.suggest_tags_action = QAction(self.tr("Suggest tags…"), self, shortcut=QKeySequence("Ctrl+G"),
                                           triggered=self.show_tag_suggestions)
        self.suggest_tags_action.setToolTip(self.tr("Tags the active model suggests for the selected track's empty fields"))
        # The tracks' context menu (right-click on the table) and the Tracks menu hold the same actions.
        self.play_action = QAction(self.tr("Play"), self, triggered=self.library_view.play_current)
        self.find_similar_action = QAction(self.tr("Find similar"), self, triggered=self._find_similar_to_current)
        self.show_in_folder_action = QAction(self.tr("Show in file manager"), self, triggered=self._show_current_in_folder)
        self.copy_path_action = QAction(self.tr("Copy path"), self, shortcut=QKeySequence("Ctrl+Shift+C"),
                                        triggered=self.copy_selected_paths)
        self.copy_path_action.setToolTip(self.tr("Copy the selected tracks' file paths, one a line"))
        self.add_to_crate_action = QAction(self.tr("Add to crate…"), self, triggered=self.add_selected_to_crate)
        self.add_to_crate_action.setToolTip(self.tr("Put the selected tracks in a crate (a saved playlist to export for "
                                                    "DJ software)"))
        self.remove_action = QAction(self.tr("Remove from library…"), self, shortcut=QKeySequence(QKeySequence.StandardKey.Delete),
                                     triggered=self.remove_selected)
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)  # the table's Delete only
        self.remove_action.setToolTip(self.tr("Take the selected tracks out of the library (asks first; the files stay "
                                              "on disk and later scans skip them)"))
        separator = QAction(self)
        separator.setSeparator(True)
        tracks_menu = self.menuBar().addMenu(self.tr("&Tracks"))
        last_separator = QAction(self)
        last_separator.setSeparator(True)
        for action in (self.play_action, self.find_similar_action, self.show_in_folder_action, self.copy_path_action,
                       self.add_to_crate_action, separator, self.write_key_action, self.suggest_tags_action,
                       last_separator, self.remove_action):
            action.setEnabled(action.isSeparator())  # until tracks are selected
            tracks_menu.addAction(action)
            self.library_view.table.addAction(action)

    def _space(self) -> None:
        """Space plays or pauses, but a focused button, check box or drop-down takes it as its own key (the
        window's shortcut comes first, so without this Space could not tick "Harmonic only")."""
        focused = QApplication.focusWidget()
        if isinstance(focused, QAbstractButton):
            focused.animateClick()
        elif isinstance(focused, QComboBox):
            focused.showPopup()
        else:
            self.play_or_pause()

    def _build_shortcuts(self) -> None:
        bindings = {
            "Ctrl+F": self._focus_search,
            "Space": self._space,
            "Ctrl+S": self.similarity_panel.choose_playlist_file,
            "Ctrl+H": self.similarity_panel.harmonic_box.toggle,
            "Ctrl+R": self.similarity_panel.make_radio,
            "Ctrl+1": lambda: self.tabs.setCurrentIndex(0),
            "Ctrl+2": lambda: self.tabs.setCurrentIndex(1),
            "Ctrl+3": lambda: self.tabs.setCurrentIndex(2),
            "Ctrl+4": lambda: self.tabs.setCurrentIndex(CRATES_TAB),
            "Ctrl+5": lambda: self.tabs.setCurrentIndex(DUPLICATES_TAB),
        }
        for keys, slot in bindings.items():
            QShortcut(QKeySequence(keys), self, activated=slot)

    def _connect(self) -> None:
        self.library_view.track_selected.connect(self.select_track)
        self.library_view.model.loaded.connect(lambda _count: self._check_shown_track())
        self.library_view.play_requested.connect(self.player.play)
        self.library_view.empty_state.add_folder_requested.connect(self.folders_panel.choose_folder)
        self.library_view.empty_state.choose_model_requested.connect(self.model_picker.choose_folder_to_use)
        self.similarity_panel.track_activated.connect(self._show_details_of)
        self.similarity_panel.play_requested.connect(self.player.play)
        self.similarity_panel.results_shown.connect(self._on_results_shown)
        self.similarity_panel.file_recording_checked.connect(self.details_panel.show_same_recording)
        self.similarity_panel.crate_requested.connect(
            lambda track_ids, label: self.crates_view.add_tracks(len(track_ids), lambda: list(track_ids), label))
        self.removal.removed.connect(lambda _track_ids: self._on_tracks_removed())
        self.details_panel.play_requested.connect(self.player.play)
        self.details_panel.seek_requested.connect(self._play_from)
        self.details_panel.select_requested.connect(self.select_in_library)
        self.details_panel.add_requested.connect(self.add_file_to_library)
        self.player.position_changed.connect(self.details_panel.set_playhead)
        self.player.failed.connect(self.statusBar().showMessage)
        self.database_watch.changed.connect(self._on_database_changed)
        self.folders_panel.scan_started.connect(self._on_scan_started)
        self.folders_panel.scan_progressed.connect(lambda status: self.scan_label.setText(self._scanning_text(progress_text(status))))
        self.folders_panel.scan_finished.connect(self._on_scan_finished)
        self.folders_panel.folders_changed.connect(self.folder_watch.set_library_folders)
        self.folders_panel.tracks_removed.connect(self._on_tracks_removed)
        self.folder_watch.rescan_requested.connect(self.rescan_changed_folders)
        self.folders_panel.state_changed.connect(lambda _state: self._apply_scan_controls())
        self.problems_panel.counted.connect(self._show_problem_count)
        self.model_picker.model_changed.connect(self._on_model_changed)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.library_view.table.selectionModel().selectionChanged.connect(lambda *_: self._update_track_actions())
        self.key_write.done.connect(lambda _summary: self.library_view.model.refresh())
        self.suggestions_panel.written.connect(lambda _summary: self.library_view.model.refresh())
        self.docks["suggestions"].visibilityChanged.connect(self.suggestions_panel.set_shown)
        self._apply_scan_controls()

    # ---- selection and search -------------------------------------------------------------
    def select_track(self, track_id: int, label: str) -> None:
        """A track chosen in any view: show it and what sounds like it (unless the panels already do)."""
        seed = self.similarity_panel.seed
        if (self._details_target == track_id and seed is not None and seed.track_id == track_id
                and self.similarity_panel.mode == "similar"):
            return
        self._show_details_of(track_id)
        self.similarity_panel.query_track(track_id, label or self.tr("track {number}").format(number=track_id))
        self.suggestions_panel.show_track(track_id)

    def _library_changed_under_lists(self) -> None:
        """A scan ended or another process changed the library: the similar list and an open crate may list
        tracks that left it (and Save would write their paths). The crate is read again now, the similar list
        once the table has re-read the library (``_check_shown_track``), unless its seed itself is gone."""
        self._lists_stale = True
        if self._crates_view is not None:
            self._crates_view.refresh()

    def _check_shown_track(self) -> None:
        """After the table re-reads the library: a track the panels show that has left it (a rescan found its file
        gone, another program removed it) is shown no longer, so that no filter, Radio or key write acts on it;
        after a scan or an outside change, the similar list is searched again."""
        track_id, library = self._details_target, self.library
        stale, self._lists_stale = self._lists_stale, False
        if isinstance(track_id, int):
            self.tasks.run(lambda: library.track(track_id) is None,
                           lambda gone: self._forget_shown_track(track_id) if gone else
                           (self.similarity_panel.refresh() if stale else None),
                           lambda _message: None, kind="background")
        elif stale:
            self.similarity_panel.refresh()

    def _forget_shown_track(self, track_id: int) -> None:
        if self._details_target != track_id:
            return
        self._details_target = None
        gone = self.tr("That track is no longer in the library (its file was removed, moved or renamed).")
        self.details_panel.clear(gone)
        self.similarity_panel.forget_track(track_id, gone)
        self._update_track_actions()

    def _show_details_of(self, track_id: int) -> None:
        self._details_target = track_id
        self.details_panel.show_track_id(track_id)
        self._update_track_actions()

    def search_file(self, path: Path) -> None:
        """An audio file from outside: analyse it (details) and search the library by its sound. The table's
        highlight is cleared: the panels no longer show that track, and Ctrl+K must not act on it."""
        self.docks["similar"].show()
        self.docks["details"].show()
        self.library_view.table.clearSelection()
        self._details_target = str(path)
        show_details, details_failed = self.details_panel.show_file(path)
        search, search_failed = self.similarity_panel.query_file(path)
        library = self.library

        def analysed(dropped: DroppedFile) -> None:
            show_details(dropped.details)
            search(dropped.resolved)

        def failed(message: str) -> None:
            details_failed(message)
            search_failed(message)

        # One decode of the file for both panels (and for every later filter change of the similar list).
        self.tasks.run(lambda: analyse_dropped_file(library, path), analysed, failed, kind="background")
        self._update_track_actions()
        self.statusBar().showMessage(self.tr("Analysing {name}…").format(name=track_format.file_name(path)), 5000)

    def select_in_library(self, track_id: int, title: str = "") -> None:
        """Select a track's row in the library table (which shows it in the panels); when the search hides
        it, show it in the panels all the same."""
        self.library_view.select_track_id(track_id, on_missing=lambda: self.select_track(track_id, title))

    def _select_from_map(self, track_id: int, title: str) -> None:
        self.select_in_library(track_id, title)

    def add_file_to_library(self, path: object) -> None:
        """A dropped file the user wants to keep: analysed and stored like `engine index FILE` (it stays in the
        library even when it lies outside the library folders)."""
        if self.folders_panel.scanning:
            self.statusBar().showMessage(self.tr("A scan is running: add the file when it has finished."), 5000)
            return
        self.statusBar().showMessage(self.tr("Adding {name} to the library…").format(name=track_format.file_name(str(path))), 5000)
        self.folders_panel.start_scan([Path(str(path))])

    def _target_track_ids(self) -> tuple[int, Any] | None:
        """(count, resolve ids) for the track actions: several selected rows, else the library track the panels
        show (which a click in the similar list may have changed), else None."""
        rows = self.library_view.selected_rows()
        if len(rows) > 1:
            return len(rows), self.library_view.model.track_ids_at(rows)
        if isinstance(self._details_target, int):
            track_id = self._details_target
            return 1, lambda: [track_id]
        return None

    def write_key_to_selected(self) -> None:
        """Ask how to write the analysed key into the shown or selected tracks' files, then write it (never
        silently)."""
        target = self._target_track_ids()
        if target is None:
            self.statusBar().showMessage(self.tr("Select the tracks whose key should be written into their files."), 5000)
            return
        self.key_write.ask(*target)

    def remove_selected(self) -> None:
        """Ask, then take the selected (or shown) tracks out of the library; their files stay."""
        target = self._target_track_ids()
        if target is not None and not self.scan_running:
            self.removal.ask(*target)

    def add_selected_to_crate(self) -> None:
        target = self._target_track_ids()
        if target is not None:
            self.crates_view.add_tracks(*target)

    def _on_tracks_removed(self) -> None:
        """Tracks left the library (removed, or duplicates trashed): every view shows the library as it is now."""
        self.database_watch.forget_changes()
        self.library_view.model.refresh()
        self.library_view.table.clearSelection()
        self.problems_panel.refresh()  # a removed folder takes its problems with it
        self.map_stale = True
        if self._crates_view is not None:
            self._crates_view.refresh()
        self.statusBar().showMessage(self.tr("The library changed: tracks were taken out (their files stay unless "
                                             "trashed)."), 8000)

    def play_or_pause(self) -> None:
        """Space: play the track shown (or selected) when it is not the one loaded in the player; else pause or
        resume."""
        details = self.details_panel.details
        if details is not None and details.path != self.player.current_path:
            self.player.play(details.path, self.details_panel.title())
        elif details is None and self.player.current_path is None:
            self.library_view.play_current()
        else:
            self.player.toggle()

    def _play_from(self, path: object, title: str, fraction: float) -> None:
        """A click on the waveform: play that track from there."""
        if path != self.player.current_path:
            self.player.play(str(path), title, start_fraction=fraction)
        else:
            self.player.seek_fraction(fraction)

    def _on_results_shown(self, seed_id: int | None, result_ids: list[int]) -> None:
        self._highlighted = (seed_id, list(result_ids))
        if self._map_view is not None:
            self._map_view.highlight(seed_id, result_ids)

    def show_help(self) -> None:
        rows = "".join(f"<tr><td><b>{keys}</b>&nbsp;&nbsp;</td><td>{self.tr(what)}</td></tr>"
                       for keys, what in KEYBOARD_HELP)
        self.help_box = QMessageBox(QMessageBox.Icon.Information, self.tr("Keyboard shortcuts"),
                                    self.tr("<p>Drop an audio file on the window to find the tracks that sound like "
                                            "it; drop a folder to add it.</p>") + f"<table>{rows}</table>",
                                    QMessageBox.StandardButton.Close, self)
        self.help_box.setModal(False)
        self.help_box.show()

    def show_about(self) -> None:
        QMessageBox.about(self, self.tr("About SemiSup Music"), self.tr(ABOUT_TEXT))

    def show_tag_suggestions(self) -> None:
        dock = self.docks["suggestions"]
        dock.show()
        dock.raise_()
        self.suggestions_panel.set_scope(SELECTED_TRACK)

    def _update_track_actions(self) -> None:
        target = self._target_track_ids() is not None
        self.write_key_action.setEnabled(target and not self.scan_running)
        self.remove_action.setEnabled(target and not self.scan_running)  # a running scan would write them back
        self.suggest_tags_action.setEnabled(target)
        self.add_to_crate_action.setEnabled(target)
        selected = self.library_view.table.selectionModel().hasSelection()
        for action in (self.play_action, self.find_similar_action, self.show_in_folder_action, self.copy_path_action):
            action.setEnabled(selected)

    def _find_similar_to_current(self) -> None:
        row = self.library_view.selected_track()
        if row is not None:
            self.docks["similar"].show()
            self.docks["similar"].raise_()
            self.select_track(int(row.id), track_format.title_or_file_name(row.title, row.path))

    def _show_current_in_folder(self) -> None:
        """Open the folder holding the track in the platform's file manager."""
        row = self.library_view.selected_track()
        if row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(row.path).parent)))

    def copy_selected_paths(self) -> None:
        """The selected tracks' paths to the clipboard, one a line (read on a worker: not every row is loaded)."""
        rows = self.library_view.selected_rows()
        if not rows:
            return
        resolve_ids, library = self.library_view.model.track_ids_at(rows), self.library

        def paths() -> list[str]:
            tracks = (library.track(track_id) for track_id in resolve_ids())
            return [track.display_path or str(track.path) for track in tracks if track is not None]

        def copy(found: list[str]) -> None:
            QApplication.clipboard().setText("\n".join(found))
            self.statusBar().showMessage(self.tr("Copied 1 path.") if len(found) == 1 else
                                         self.tr("Copied {count} paths.").format(count=len(found)), 3000)

        self.tasks.run(paths, copy, lambda message: self.statusBar().showMessage(message, 5000))

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
    def _apply_scan_controls(self) -> None:
        """The toolbar and menu follow the folders panel's scan state, so both always agree."""
        controls = self.folders_panel.controls()
        self.add_action.setEnabled(controls.add)
        self.scan_action.setEnabled(controls.scan)
        self.cancel_action.setEnabled(controls.cancel)
        self.scan_running = self.folders_panel.state is not ScanState.IDLE
        self.model_picker.set_scanning(self.scan_running)  # a running scan analyses with the model it started with
        self._update_track_actions()  # files are not rewritten while the scan reads them
        if self.folders_panel.state is ScanState.CANCELLING:
            self.scan_label.setText(self.tr("Cancelling the scan…"))

    def _scanning_text(self, progress: str) -> str:
        return self.tr("Scanning: {progress}").format(progress=progress)

    def _on_scan_started(self) -> None:
        self.statusBar().clearMessage()  # the last scan's outcome is not this scan's
        self.scan_label.setText(self._scanning_text(QCoreApplication.translate("FoldersPanel", LOOKING_TEXT)))
        self.library_view.expect_rows()
        self.live_refresh.start()

    def _on_scan_finished(self, report: Any) -> None:
        self.live_refresh.stop()
        self.database_watch.forget_changes()  # the refresh below covers what the scan wrote
        self.scan_label.setText("")
        self.library_view.scan_ended()
        self._library_changed_under_lists()
        self.library_view.model.refresh()
        self.problems_panel.refresh()
        self.model_picker.refresh()
        self.suggestions_panel.refresh()
        self.map_stale = True
        if self.tabs.currentIndex() == MAP_TAB:
            self._refresh_map()
        if report is not None:
            self.statusBar().showMessage(self.folders_panel.status_label.text(), 10000)
        if self._changed_folders:
            QTimer.singleShot(0, lambda: self.rescan_changed_folders([]))

    def _fill_watch_menu(self) -> None:
        """One checkable entry per library folder: checked folders are rescanned when their files change."""
        self.watch_menu.clear()
        folders = self.folders_panel.folders()
        if not folders:
            self.watch_menu.addAction(self.tr("No library folders yet")).setEnabled(False)
        for folder in folders:
            action = self.watch_menu.addAction(folder)
            action.setCheckable(True)
            action.setChecked(self.folder_watch.is_watched(folder))
            action.setToolTip(self.tr("Rescan this folder by itself when files are added, changed or removed in it"))
            action.toggled.connect(lambda watched, folder=folder: self.folder_watch.set_watched(folder, watched))

    def show_excluded_files(self) -> ExcludedFilesDialog:
        """Library → Excluded files…: restoring files rescans the library folders that hold them."""
        dialog = ExcludedFilesDialog(self.library, self.tasks, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.restored.connect(self._on_files_restored)
        dialog.refresh()
        dialog.show()
        return dialog

    def _on_files_restored(self, paths: list[str]) -> None:
        folders = folders_holding(paths, self.folders_panel.folders())
        if folders:
            self.rescan_changed_folders(folders)
        count = len(paths)
        self.statusBar().showMessage(
            self.tr("Restored {count} file(s): scanning their folders.").format(count=count) if folders else
            self.tr("Restored {count} file(s); they are outside the library's folders now.").format(count=count), 8000)

    def rescan_changed_folders(self, folders: list[str]) -> None:
        """Watched folders changed: rescan them now, or as soon as the running scan has finished."""
        self._changed_folders.update(folders)
        if not self.folders_panel.scanning:
            changed, self._changed_folders = sorted(self._changed_folders), set()
            self.statusBar().showMessage(self.tr("Files changed in {folders}: rescanning.").format(
                folders=", ".join(Path(folder).name for folder in changed)), 5000)
            self.folders_panel.start_scan([Path(folder) for folder in changed])

    def _on_model_changed(self, model_id: str) -> None:
        """A new model: its analyses are separate, so re-analyse the library with it and redraw everything."""
        self.statusBar().showMessage(self.tr("Using model {model}.").format(model=model_id), 10000)
        self.library_view.reload()
        self.suggestions_panel.refresh()
        self.map_stale = True
        self._check_model()
        if self.folders_panel.folders():
            self.folders_panel.start_scan()

    def _on_database_changed(self) -> None:
        """Another process (the engine command, a second window) changed the library: show it as it is now."""
        if self.scan_running:
            return  # the live refresh of the running scan already follows the database
        self._library_changed_under_lists()
        self.library_view.model.refresh()
        self.problems_panel.refresh()
        self.map_stale = True
        if self._map_view is not None and self.tabs.currentWidget() is self._map_view:
            self._refresh_map()

    def _check_model(self) -> None:
        library = self.library
        self.tasks.run(lambda: (library.info().model is None, active_model_problem(library)),
                       lambda found: self.library_view.empty_state.set_model_missing(*found), lambda message: None)

    def _on_tab_changed(self, index: int) -> None:
        if index == MAP_TAB:
            self.map_view  # noqa: B018 (built on first view)
            if self.map_stale:
                self._refresh_map()
        elif index == TRAINING_TAB:
            self.training_view  # noqa: B018
        elif index == CRATES_TAB:
            self.crates_view.refresh()
        elif index == DUPLICATES_TAB:
            self.duplicates_view  # noqa: B018

    def _refresh_map(self) -> None:
        self.map_stale = False
        self.map_view.refresh()

    def _show_problem_count(self, count: int) -> None:
        self.docks["problems"].setWindowTitle(self.tr("Problems ({count})").format(count=count) if count
                                              else self.tr(DOCK_TITLES["problems"]))

    # ---- settings -------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = settings.bytes_value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = settings.bytes_value("window/state")
        if state is None or not self.restoreState(state, LAYOUT_VERSION):  # first run, or a layout from an older version
            self.arrange_docks()
        self.similarity_panel.harmonic_box.setChecked(settings.value("similar/harmonic", False, bool))
        self.tabs.setCurrentIndex(settings.value("window/tab", 0, int))

    def arrange_docks(self) -> None:
        """The first-run layout for the window's width: on a wide screen, folders over problems on the left and
        the track over its similar tracks on the right; on a smaller one each side is one tabbed dock, and below
        ``NARROW_LAYOUT_MAX_WIDTH`` every panel is a tab of one dock on the right. The side docks keep a fixed
        width, so a larger screen's extra space goes to the library table."""
        docks = self.docks
        narrow = self.width() < NARROW_LAYOUT_MAX_WIDTH  # one side dock, all panels tabbed: the table keeps 60 %
        for name, dock in docks.items():  # start from every dock on its own in its area, then group
            hidden = dock.isHidden()
            self.removeDockWidget(dock)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea if narrow else DOCK_AREAS[name], dock)
            dock.setFloating(False)
            dock.setHidden(hidden)
        wide = self.width() >= WIDE_LAYOUT_MIN_WIDTH
        if narrow:
            for before, after in (("details", "similar"), ("similar", "suggestions"), ("suggestions", "folders"),
                                  ("folders", "problems")):
                self.tabifyDockWidget(docks[before], docks[after])
            docks["similar"].raise_()
            self.resizeDocks([docks["details"]], [NARROW_DOCK_WIDTH], Qt.Orientation.Horizontal)
            return
        if wide:
            self.splitDockWidget(docks["details"], docks["similar"], Qt.Orientation.Vertical)
            self.tabifyDockWidget(docks["similar"], docks["suggestions"])
            self.splitDockWidget(docks["folders"], docks["problems"], Qt.Orientation.Vertical)
        else:
            self.tabifyDockWidget(docks["details"], docks["similar"])
            self.tabifyDockWidget(docks["similar"], docks["suggestions"])
            self.tabifyDockWidget(docks["folders"], docks["problems"])
            docks["folders"].raise_()
        docks["similar"].raise_()
        widths = SIDE_DOCK_WIDTHS if wide else COMPACT_DOCK_WIDTHS
        self.resizeDocks([docks[name] for name in widths], list(widths.values()), Qt.Orientation.Horizontal)
        if wide:
            side_height = max(1, self.centralWidget().height())
            details_height = int(side_height * DETAILS_HEIGHT_SHARE)
            self.resizeDocks([docks["details"], docks["similar"]], [details_height, side_height - details_height],
                             Qt.Orientation.Vertical)
            self.resizeDocks([docks[name] for name in LEFT_DOCK_HEIGHTS], list(LEFT_DOCK_HEIGHTS.values()),
                             Qt.Orientation.Vertical)

    def save_settings(self) -> None:
        settings.set_value("window/geometry", QByteArray(self.saveGeometry()))
        settings.set_value("window/state", QByteArray(self.saveState(LAYOUT_VERSION)))
        settings.set_value("window/tab", self.tabs.currentIndex())
        settings.set_value("similar/harmonic", self.similarity_panel.harmonic_box.isChecked())
        self.library_view.save_columns()
        if self._map_view is not None:
            settings.set_value("map/colour_by", self._map_view.colour_mode())

    def shutdown(self) -> None:
        """Stop everything that runs on another thread or process, so the library can close safely."""
        self.live_refresh.stop()
        self.database_watch.stop()
        self.player.stop()
        if self.folders_panel.scanning:
            self.folders_panel.cancel_scan()
        self.folders_panel.wait_for_scan()
        if self.key_write.running:
            self.key_write.job.cancel()  # stops after the file being written; that file is whole either way
        if self._training_view is not None and self._training_view.running:
            self._training_view.stop()
            self._training_view.wait_for_finished(10000)
        self.tasks.wait_for_all()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.shutdown()
        event.accept()



def scrolling(widget: QWidget, horizontal: bool) -> QScrollArea:
    """``widget`` in a frameless scroll area: it scrolls instead of setting the window's minimum size
    (``horizontal`` False: it is kept to the area's width, and its text wraps)."""
    scroller = QScrollArea()
    scroller.setWidgetResizable(True)
    scroller.setFrameShape(QFrame.Shape.NoFrame)
    if not horizontal:
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroller.setWidget(widget)
    return scroller
