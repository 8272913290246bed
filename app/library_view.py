"""The Library tab: a search box over the lazily paged track table, or the empty state for a new user.

Keyboard: Down in the search box moves into the results, Esc clears the search, Enter on a row plays it.
The header's context menu chooses the columns shown (remembered); columns can be dragged into any order.
"""

from __future__ import annotations

from typing import Any

from collections.abc import Callable

from PySide6.QtCore import QByteArray, QEvent, QItemSelection, QModelIndex, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app import settings, track_format
from app.bpm_range_filter import BpmRangeFilter
from app.empty_state import EmptyState
from app.errors import show_error
from app.library_model import COLUMNS, TRACK_ID_ROLE, TRACK_ROLE, LibraryTableModel
from app.tasks import TaskRunner

SEARCH_DELAY_MS = 200  # wait for a pause in typing before asking the engine
ROW_HEIGHT = 24
# Columns share the table's width until the user drags one: fixed columns fit a sample value, the
# others split the rest by weight (never narrower than MINIMUM_COLUMN_WIDTH; the table scrolls instead).
FIXED_COLUMN_SAMPLES = {"Time": "88:88", "Key": "F# minor (12A)", "BPM": "188.8"}
COLUMN_WEIGHTS = {"Title": 3.0, "Artist": 2.0, "Album": 2.0, "Genre": 1.0, "Tags": 2.0}
MINIMUM_COLUMN_WIDTH = 60
CELL_PADDING = 18  # cell margins plus the header's sort arrow
HIDDEN_COLUMNS_SETTING = "library/hidden_columns"
HEADER_STATE_SETTING = "library/header_state"  # column order (the user may drag columns)
PLAY_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def fitted_column_widths(available: int, fixed_widths: dict[str, int], headers: list[str]) -> list[int]:
    """Pixel widths for ``headers`` filling ``available``: fixed columns as given, the rest by COLUMN_WEIGHTS.

    A flexible column whose share is below MINIMUM_COLUMN_WIDTH gets the minimum and the others share
    what is left; when even the minimums do not fit, every flexible column gets its minimum.
    """
    widths = {header: fixed_widths[header] for header in headers if header in fixed_widths}
    flexible = [header for header in headers if header not in fixed_widths]
    room = available - sum(widths.values())
    while flexible:
        total_weight = sum(COLUMN_WEIGHTS.get(header, 1.0) for header in flexible)
        shares = {header: room * COLUMN_WEIGHTS.get(header, 1.0) / total_weight for header in flexible}
        too_narrow = [header for header in flexible if shares[header] < MINIMUM_COLUMN_WIDTH]
        if not too_narrow:
            widths.update({header: int(share) for header, share in shares.items()})
            break
        for header in too_narrow:
            widths[header] = MINIMUM_COLUMN_WIDTH
            room -= MINIMUM_COLUMN_WIDTH
            flexible.remove(header)
    return [widths[header] for header in headers]


class LibraryView(QWidget):
    """Emits ``track_selected(track_id, label)`` and ``play_requested(path)``."""

    track_selected = Signal(int, str)
    play_requested = Signal(object, str)  # a path str (object keeps non-UTF-8 names intact) and its title
    count_changed = Signal(int)

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.model = LibraryTableModel(library, tasks, self)
        self._selected_id: int | None = None  # the track of the single selected row, followed across refreshes
        self._waiting_row: int | None = None  # a row selected before its page arrived: shown when it does
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText(self.tr("Search title, artist, album, genre or file name  (Ctrl+F)"))
        self.search_box.setClearButtonEnabled(True)
        self.bpm_filter = BpmRangeFilter()
        self.count_label = QLabel("")
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table for the next control, not the next cell
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)  # several tracks for tag writes
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)  # the window adds the track actions
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row size hints: 100k rows stay cheap
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._show_column_menu)
        self._restore_columns()
        self._columns_sized_by_user = False
        self._rows_expected = False  # a scan is running: keep the table shown even while it is empty
        self._fitting_columns = False
        header.sectionResized.connect(self._on_section_resized)
        self.table.viewport().installEventFilter(self)
        self.table.installEventFilter(self)
        self.table.verticalScrollBar().valueChanged.connect(lambda _value: self._tell_model_visible_rows())
        self._restore_order(header)
        self.empty_state = EmptyState()
        self.no_match = QLabel(self.tr("No track matches this search or tempo range."))
        self.no_match.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.no_match)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search_box, 1)
        search_row.addWidget(self.bpm_filter)
        search_row.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(search_row)
        layout.addWidget(self.stack, 1)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(lambda: self.model.set_filter(self.search_box.text().strip()))
        self.search_box.textChanged.connect(lambda _: self._search_timer.start())
        self.search_box.installEventFilter(self)
        self.bpm_filter.range_changed.connect(self.model.set_bpm_range)
        self.model.loaded.connect(self._on_loaded)
        self.model.loaded.connect(lambda _count: self._follow_selected_track())
        self.model.dataChanged.connect(self._on_rows_loaded)
        self.model.failed.connect(lambda message: show_error(self, self.tr("Library"), message))
        self.model.sort_refused.connect(self._restore_sort_indicator)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.table.clicked.connect(self._on_clicked)

    def reload(self) -> None:
        self.model.reload()

    # ---- column widths --------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._tell_model_visible_rows()
            if not self._columns_sized_by_user:
                self.fit_columns()
        elif watched is self.search_box and self._search_key(event):
            return True
        elif watched is self.table and event.type() == QEvent.Type.KeyPress and event.key() in PLAY_KEYS:
            self.play_current()
            return True
        return super().eventFilter(watched, event)

    def _search_key(self, event: QEvent) -> bool:
        """Down enters the results; Esc clears a search (before the window's Esc shortcut sees it)."""
        if event.type() == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Escape and self.search_box.text():
            event.accept()  # the key comes to the search box as a key press, not to the window's shortcut
            return False
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        if event.key() == Qt.Key.Key_Escape and self.search_box.text():
            self.search_box.clear()
            return True
        if event.key() == Qt.Key.Key_Down and self.stack.currentWidget() is self.table and self.model.rowCount():
            self.table.setFocus()
            if not self.table.selectionModel().hasSelection():
                self.table.selectRow(0)
            return True
        return False

    def play_current(self) -> None:
        """Play the selected (current) track: Enter on a row, or Space."""
        row = self.selected_track()
        if row is not None:
            self.play_requested.emit(str(row.path), track_format.title_or_file_name(row.title, row.path))

    def selected_track(self) -> Any | None:
        """The ``TrackRow`` of the current selected row, when loaded."""
        rows = self.table.selectionModel().selectedRows()
        current = self.table.currentIndex()
        index = current if current.isValid() and self.table.selectionModel().isRowSelected(current.row()) else (
            rows[0] if rows else None)
        return None if index is None else self.model.index(index.row(), 0).data(TRACK_ROLE)

    # ---- columns: which are shown, in what order -------------------------------------------------
    def _restore_columns(self) -> None:
        header = self.table.horizontalHeader()
        state = settings.bytes_value(HEADER_STATE_SETTING)
        if state is not None:
            header.restoreState(state)
        hidden = settings.value(HIDDEN_COLUMNS_SETTING, None, str)  # comma-separated headers; "" hides none
        hidden_headers = (set(filter(None, hidden.split(","))) if hidden is not None
                          else {column.header for column in COLUMNS if not column.shown_by_default})
        for position, column in enumerate(COLUMNS):
            header.setSectionHidden(position, column.header in hidden_headers)

    def _restore_order(self, header: QHeaderView) -> None:
        """The sort the saved header state holds (column and direction), when it is one the engine can order by;
        else the model's default. Set on the header, it sorts the model (sorting is on)."""
        column, order = header.sortIndicatorSection(), header.sortIndicatorOrder()
        if settings.bytes_value(HEADER_STATE_SETTING) is not None and 0 <= column < len(COLUMNS) \
                and COLUMNS[column].order_by is not None:
            self.model.order_by = COLUMNS[column].order_by
            self.model.descending = order == Qt.SortOrder.DescendingOrder
        header.setSortIndicator(self.model.sorted_column(), Qt.SortOrder.DescendingOrder if self.model.descending
                                else Qt.SortOrder.AscendingOrder)

    def save_columns(self) -> None:
        settings.set_value(HEADER_STATE_SETTING, QByteArray(self.table.horizontalHeader().saveState()))
        settings.set_value(HIDDEN_COLUMNS_SETTING, ",".join(self.hidden_column_headers()))

    def hidden_column_headers(self) -> list[str]:
        header = self.table.horizontalHeader()
        return [column.header for position, column in enumerate(COLUMNS) if header.isSectionHidden(position)]

    def column_menu(self) -> QMenu:
        """One checkable entry per column; the last shown column cannot be hidden."""
        menu = QMenu(self)
        header = self.table.horizontalHeader()
        shown = [position for position in range(len(COLUMNS)) if not header.isSectionHidden(position)]
        for position, column in enumerate(COLUMNS):
            action = menu.addAction(column.header_text)
            action.setCheckable(True)
            action.setChecked(position in shown)
            action.setEnabled(not (position in shown and len(shown) == 1))
            action.toggled.connect(lambda checked, position=position: self.set_column_shown(position, checked))
        return menu

    def set_column_shown(self, position: int, shown: bool) -> None:
        self.table.horizontalHeader().setSectionHidden(position, not shown)
        if not self._columns_sized_by_user:
            self.fit_columns()
        self.save_columns()

    def _show_column_menu(self, point: QPoint) -> None:
        self.column_menu().exec(self.table.horizontalHeader().mapToGlobal(point))

    def _tell_model_visible_rows(self) -> None:
        first = max(0, self.table.rowAt(0))
        self.model.set_visible_rows(first, first + self.table.viewport().height() // ROW_HEIGHT + 1)

    def fit_columns(self) -> None:
        """Share the visible width between the columns, so a narrow window shows every column."""
        metrics = self.table.fontMetrics()
        header_metrics = self.table.horizontalHeader().fontMetrics()
        shown_headers = {column.header: column.header_text for column in COLUMNS}
        fixed = {name: max(metrics.horizontalAdvance(sample), header_metrics.horizontalAdvance(shown_headers[name]))
                 + CELL_PADDING for name, sample in FIXED_COLUMN_SAMPLES.items()}
        header = self.table.horizontalHeader()
        shown = [position for position in range(len(COLUMNS)) if not header.isSectionHidden(position)]
        headers = [COLUMNS[position].header for position in shown]
        self._fitting_columns = True
        for position, width in zip(shown, fitted_column_widths(self.table.viewport().width(), fixed, headers)):
            header.resizeSection(position, width)
        self._fitting_columns = False

    def _on_section_resized(self, _position: int, _old: int, _new: int) -> None:
        if not self._fitting_columns and QApplication.mouseButtons() & Qt.MouseButton.LeftButton:
            self._columns_sized_by_user = True  # the user dragged a column edge: keep their widths from now on

    def expect_rows(self) -> None:
        """A scan has started: show the (still empty) table now, while it is cheap to draw, rather than when the
        first rows arrive (showing a table full of rows at once is a ~30 ms stall of the GUI)."""
        self._rows_expected = True
        if self.stack.currentWidget() is self.empty_state:
            self.stack.setCurrentWidget(self.table)

    def scan_ended(self) -> None:
        self._rows_expected = False
        self._on_loaded(self.model.rowCount())

    def _on_loaded(self, count: int) -> None:
        filtered = self.model.filtered
        if count or (self._rows_expected and not filtered):
            self.stack.setCurrentWidget(self.table)
        else:
            self.stack.setCurrentWidget(self.no_match if filtered else self.empty_state)
        if filtered:
            text = self.tr("1 track found") if count == 1 else self.tr("{count:,} tracks found")
        else:
            text = self.tr("1 track") if count == 1 else self.tr("{count:,} tracks")
        self.count_label.setText(text.format(count=count))
        self.count_changed.emit(count)

    def _restore_sort_indicator(self, column: int, descending: bool) -> None:
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(column, order)
        header.blockSignals(False)

    def _on_selection(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        if not indexes:
            return
        row = indexes[0].data(TRACK_ROLE)  # a row not loaded yet asks for its page here
        self._waiting_row = None if row is not None else indexes[0].row()
        if row is not None:
            self._show_selected(row)

    def _show_selected(self, row: Any) -> None:
        """The selected row's track goes to the panels, and is the one the selection follows."""
        self._selected_id = int(row.id)
        self.track_selected.emit(int(row.id), row.title or row.display_path)

    def _on_rows_loaded(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        """A row selected before its page was loaded (a far jump from the map, a crate, "Select it") is shown
        when the page arrives."""
        waiting = self._waiting_row
        if waiting is None or not top_left.row() <= waiting <= bottom_right.row() or self.selected_rows() != [waiting]:
            return
        row = self.model.index(waiting, 0).data(TRACK_ROLE)
        if row is not None:
            self._waiting_row = None
            self._show_selected(row)

    def _follow_selected_track(self) -> None:
        """After a refresh: the selection is a row, and tracks added or removed above it move the track it held.
        The selection follows its track to its new row, or goes when the track has left the library (or the
        search)."""
        rows, track_id = self.selected_rows(), self._selected_id
        if len(rows) != 1 or track_id is None:
            return
        row = self.model.loaded_row_of(track_id)
        if row == rows[0]:
            return
        if row is not None:
            self._select_row(row)
            return

        def place(found: int | None) -> None:
            if self.selected_rows() == rows and self._selected_id == track_id:  # nothing chosen meanwhile
                if found is None:
                    self.table.clearSelection()
                else:
                    self._select_row(found)

        self.tasks.run(self.model.row_finder(track_id), place, lambda _message: None)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        row = index.data(TRACK_ROLE)
        if row is not None:
            self.play_requested.emit(str(row.path), track_format.title_or_file_name(row.title, row.path))

    def _on_clicked(self, index: QModelIndex) -> None:
        """A click on the row already selected (no selection change) still shows that track again: after a
        dropped file or a click in the similar list, the highlighted row is not what the panels show."""
        row = index.data(TRACK_ROLE)
        if row is not None and len(self.table.selectionModel().selectedRows()) == 1:
            self.track_selected.emit(int(row.id), row.title or row.display_path)

    def select_track_id(self, track_id: int, on_missing: Callable[[], None] | None = None) -> None:
        """Select (and scroll to) the row of ``track_id`` in the current sort and search; a row not loaded yet is
        looked up on a worker. ``on_missing`` runs when the search hides the track."""
        row = self.model.loaded_row_of(track_id)
        if row is not None:
            self._select_row(row)
            return
        self.tasks.run(self.model.row_finder(track_id),
                       lambda found: self._select_row(found) if found is not None else on_missing and on_missing(),
                       lambda message: show_error(self, self.tr("Library"), message))

    def _select_row(self, row: int) -> None:
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtCenter)

    def selected_track_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return int(rows[0].data(TRACK_ID_ROLE)) if rows else None

    def selected_rows(self) -> list[int]:
        """The selected row numbers, top to bottom (the tracks may not all be loaded yet)."""
        return sorted(index.row() for index in self.table.selectionModel().selectedRows())
