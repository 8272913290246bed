"""The library table's model: rows are paged in lazily from ``Library.tracks`` on worker threads.

Only the row count and the pages the view actually shows are ever fetched, so a 100k-track library
opens as fast as a 10-track one. A page that is not loaded yet shows empty cells and is requested;
when it arrives the rows repaint. Sorting and filtering are done by the engine (SQL), not here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from app import track_format
from app.tasks import run_task

PAGE_SIZE = 200
MAX_CACHED_PAGES = 64
TRACK_ID_ROLE = Qt.ItemDataRole.UserRole + 1
TRACK_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True)
class Column:
    """One table column: its header, the engine's ``order_by`` name, and how a row reads in it."""

    header: str
    order_by: str | None  # None: the engine cannot sort by this column
    text: Callable[[Any], str]
    align_right: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("Title", "title", lambda row: track_format.title_or_file_name(row.title, row.path)),
    Column("Artist", "artist", lambda row: row.artist or ""),
    Column("Album", "album", lambda row: row.album or ""),
    Column("Genre", "genre", lambda row: row.genre or ""),
    Column("Time", "duration", lambda row: track_format.duration_text(row.duration), align_right=True),
    Column("Key", "key", track_format.track_key_text),  # sorted around the Camelot wheel: 1A, 1B, 2A …
    Column("BPM", "bpm", lambda row: track_format.bpm_text(row.bpm), align_right=True),
    Column("Tags", "top_tag", lambda row: track_format.tags_text(row.top_tags)),  # sorted by the first tag, A-Z
)


PageEntry = tuple[Any, tuple[str, ...]]  # a TrackRow and its cell texts


def fetch_page(library: Any, page_number: int, query: dict[str, Any]) -> list[PageEntry]:
    """One page of rows with every cell's text already formatted (on the worker, so painting stays cheap)."""
    rows = library.tracks(page_number * PAGE_SIZE, PAGE_SIZE, **query)
    return [(row, tuple(column.text(row) for column in COLUMNS)) for row in rows]


class LibraryTableModel(QAbstractTableModel):
    """Pages of ``TrackRow`` fetched on demand; emits ``loaded(row_count)`` after each reload."""

    loaded = Signal(int)
    failed = Signal(str)
    sort_refused = Signal(int, bool)  # the column and direction still in force, for the header indicator

    def __init__(self, library: Any, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self.filter_text = ""
        self.order_by = "artist"
        self.descending = False
        self._row_count = 0
        self._pages: OrderedDict[int, list[PageEntry]] = OrderedDict()
        self._stale_pages: dict[int, list[PageEntry]] = {}  # shown while their fresh copies load after a refresh
        self._requested: set[int] = set()
        self._generation = 0

    # ---- Qt model interface -------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._row_count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].header
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if column.align_right else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, TRACK_ID_ROLE, TRACK_ROLE):
            return None
        entry = self._entry_at(index.row())
        if entry is None:
            return None
        row, texts = entry
        if role == Qt.ItemDataRole.DisplayRole:
            return texts[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.display_path or str(row.path)
        if role == TRACK_ID_ROLE:
            return row.id
        return row

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column the engine can order by; other columns keep the current order."""
        order_by = COLUMNS[column].order_by
        if order_by is None:
            self.sort_refused.emit(self.sorted_column(), self.descending)
            return
        self.order_by = order_by
        self.descending = order == Qt.SortOrder.DescendingOrder
        self.reload()

    def sorted_column(self) -> int:
        return next(number for number, column in enumerate(COLUMNS) if column.order_by == self.order_by)

    # ---- paging -------------------------------------------------------------------------
    def track_at(self, row: int) -> Any | None:
        """The loaded ``TrackRow`` at ``row``, or None (and a page request) when not loaded yet."""
        entry = self._entry_at(row)
        return None if entry is None else entry[0]

    def track_ids_at(self, rows: Sequence[int]) -> Callable[[], list[int]]:
        """A function for a worker: the track ids at ``rows`` (in this order and filter), reading the pages not
        loaded yet from the engine, so a selection of a whole large library works."""
        loaded: dict[int, int] = {}
        for row in rows:
            page = self._pages.get(row // PAGE_SIZE)  # fresh pages only: stale ones may be in an older order
            if page is not None and row % PAGE_SIZE < len(page):
                loaded[row] = page[row % PAGE_SIZE][0].id
        missing_pages = sorted({row // PAGE_SIZE for row in rows if row not in loaded})
        library, query = self.library, self._query()

        def resolve() -> list[int]:
            ids = dict(loaded)
            for page_number in missing_pages:
                first = page_number * PAGE_SIZE
                ids.update({first + offset: row.id for offset, row in enumerate(library.tracks(first, PAGE_SIZE, **query))})
            return [ids[row] for row in rows if row in ids]

        return resolve

    def _entry_at(self, row: int) -> PageEntry | None:
        page_number, offset = divmod(row, PAGE_SIZE)
        page = self._pages.get(page_number)
        if page is None:
            self._request_page(page_number)
            page = self._stale_pages.get(page_number)
            return page[offset] if page is not None and offset < len(page) else None
        self._pages.move_to_end(page_number)
        return page[offset] if offset < len(page) else None

    def set_filter(self, text: str) -> None:
        if text != self.filter_text:
            self.filter_text = text
            self.reload()

    def reload(self) -> None:
        """Re-read the count and the first page (after indexing, a new filter or sort order)."""
        self._generation += 1
        generation = self._generation
        self._requested.clear()
        library, query = self.library, self._query()

        def fetch() -> tuple[int, list[PageEntry]]:
            count = library.track_count(filter_text=query["filter_text"])
            return count, (fetch_page(library, 0, query) if count else [])

        run_task(fetch, lambda result: self._on_reloaded(generation, result), self.failed.emit)

    def refresh(self) -> None:
        """Pick up tracks added or removed by a running scan without resetting the view's scroll or selection."""
        self._generation += 1
        generation = self._generation
        library, query = self.library, self._query()
        run_task(lambda: library.track_count(filter_text=query["filter_text"]),
                 lambda count: self._on_refreshed(generation, count), self.failed.emit)

    def _on_refreshed(self, generation: int, count: int) -> None:
        if generation != self._generation:
            return
        old_count = self._row_count
        if count > old_count:
            self.beginInsertRows(QModelIndex(), old_count, count - 1)
            self._row_count = count
            self.endInsertRows()
        elif count < old_count:
            self.beginRemoveRows(QModelIndex(), count, old_count - 1)
            self._row_count = count
            self.endRemoveRows()
        # Rows may have moved in the sort order: re-read what is on screen, showing the old rows meanwhile.
        self._stale_pages = dict(self._pages)
        self._pages.clear()
        self._requested.clear()
        if count:
            self.dataChanged.emit(self.index(0, 0), self.index(count - 1, len(COLUMNS) - 1))
        self.loaded.emit(count)

    def _query(self) -> dict[str, Any]:
        return {"order_by": self.order_by, "descending": self.descending, "filter_text": self.filter_text}

    def _on_reloaded(self, generation: int, result: tuple[int, list[PageEntry]]) -> None:
        if generation != self._generation:
            return
        count, first_page = result
        self.beginResetModel()
        self._row_count = count
        self._pages.clear()
        self._stale_pages.clear()
        if first_page:
            self._pages[0] = list(first_page)
        self.endResetModel()
        self.loaded.emit(count)

    def _request_page(self, page_number: int) -> None:
        if page_number in self._requested or page_number * PAGE_SIZE >= self._row_count:
            return
        self._requested.add(page_number)
        generation, library, query = self._generation, self.library, self._query()
        run_task(
            lambda: fetch_page(library, page_number, query),
            lambda rows: self._on_page(generation, page_number, rows),
            self.failed.emit,
        )

    def _on_page(self, generation: int, page_number: int, rows: list[PageEntry]) -> None:
        if generation != self._generation:
            return
        self._requested.discard(page_number)
        self._stale_pages.pop(page_number, None)
        self._pages[page_number] = list(rows)
        while len(self._pages) > MAX_CACHED_PAGES:
            self._pages.popitem(last=False)
        first = page_number * PAGE_SIZE
        last = min(self._row_count, first + len(rows)) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
