"""The Library tab: a search box over the lazily paged track table, or the empty state for a new user."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QItemSelection, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.empty_state import EmptyState
from app.errors import show_error
from app.library_model import COLUMNS, TRACK_ID_ROLE, TRACK_ROLE, LibraryTableModel

SEARCH_DELAY_MS = 200  # wait for a pause in typing before asking the engine
ROW_HEIGHT = 24
# Columns share the table's width until the user drags one: fixed columns fit a sample value, the
# others split the rest by weight (never narrower than MINIMUM_COLUMN_WIDTH; the table scrolls instead).
FIXED_COLUMN_SAMPLES = {"Time": "88:88", "Key": "F# minor (12A)", "BPM": "188.8"}
COLUMN_WEIGHTS = {"Title": 3.0, "Artist": 2.0, "Album": 2.0, "Genre": 1.0, "Tags": 2.0}
MINIMUM_COLUMN_WIDTH = 60
CELL_PADDING = 18  # cell margins plus the header's sort arrow


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
    play_requested = Signal(object)  # a path str; object keeps non-UTF-8 names (surrogate escapes) intact
    count_changed = Signal(int)

    def __init__(self, library: Any, parent=None) -> None:
        super().__init__(parent)
        self.model = LibraryTableModel(library, self)
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search title, artist, album, genre or file name  (Ctrl+F)")
        self.search_box.setClearButtonEnabled(True)
        self.count_label = QLabel("")
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
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
        self._columns_sized_by_user = False
        self._rows_expected = False  # a scan is running: keep the table shown even while it is empty
        self._fitting_columns = False
        header.sectionResized.connect(self._on_section_resized)
        self.table.viewport().installEventFilter(self)
        self.table.verticalScrollBar().valueChanged.connect(lambda _value: self._tell_model_visible_rows())
        header.setSortIndicator(self.model.sorted_column(), Qt.SortOrder.AscendingOrder)
        self.empty_state = EmptyState()
        self.no_match = QLabel("No track matches this search.")
        self.no_match.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.no_match)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search_box, 1)
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
        self.model.loaded.connect(self._on_loaded)
        self.model.failed.connect(lambda message: show_error(self, "Library", message))
        self.model.sort_refused.connect(self._restore_sort_indicator)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.table.doubleClicked.connect(self._on_double_clicked)

    def reload(self) -> None:
        self.model.reload()

    # ---- column widths --------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._tell_model_visible_rows()
            if not self._columns_sized_by_user:
                self.fit_columns()
        return super().eventFilter(watched, event)

    def _tell_model_visible_rows(self) -> None:
        first = max(0, self.table.rowAt(0))
        self.model.set_visible_rows(first, first + self.table.viewport().height() // ROW_HEIGHT + 1)

    def fit_columns(self) -> None:
        """Share the visible width between the columns, so a narrow window shows every column."""
        metrics = self.table.fontMetrics()
        header_metrics = self.table.horizontalHeader().fontMetrics()
        fixed = {name: max(metrics.horizontalAdvance(sample), header_metrics.horizontalAdvance(name)) + CELL_PADDING
                 for name, sample in FIXED_COLUMN_SAMPLES.items()}
        headers = [column.header for column in COLUMNS]
        self._fitting_columns = True
        for position, width in enumerate(fitted_column_widths(self.table.viewport().width(), fixed, headers)):
            self.table.horizontalHeader().resizeSection(position, width)
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
        filtered = bool(self.model.filter_text)
        if count or (self._rows_expected and not filtered):
            self.stack.setCurrentWidget(self.table)
        else:
            self.stack.setCurrentWidget(self.no_match if filtered else self.empty_state)
        noun = "track" if count == 1 else "tracks"
        self.count_label.setText(f"{count:,} {noun}" + (" found" if filtered else ""))
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
        row = indexes[0].data(TRACK_ROLE)
        if row is not None:
            self.track_selected.emit(int(row.id), row.title or row.display_path)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        row = index.data(TRACK_ROLE)
        if row is not None:
            self.play_requested.emit(str(row.path))

    def selected_track_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return int(rows[0].data(TRACK_ID_ROLE)) if rows else None

    def selected_rows(self) -> list[int]:
        """The selected row numbers, top to bottom (the tracks may not all be loaded yet)."""
        return sorted(index.row() for index in self.table.selectionModel().selectedRows())
