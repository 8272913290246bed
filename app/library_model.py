"""The library table's model: rows are paged in lazily from ``Library.tracks`` on worker threads.

Only the row count and the pages the view actually shows are ever fetched, so a 100k-track library
opens as fast as a 10-track one. A page that is not loaded yet shows empty cells and is requested;
when it arrives the rows repaint. Sorting and filtering are done by the engine (SQL), not here.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from app import theme, track_format
from app.tag_display import active_calibration
from app.tasks import TaskRunner
from engine.tag_calibration import informative_tags

PAGE_SIZE = 200
MAX_CACHED_PAGES = 64
PAGES_ON_SCREEN = 2  # a screen of rows spans at most two pages
FIND_ROWS_PER_QUERY = 5000  # looking a track's row up (a dot chosen on the map): few, large reads
REPAINT_CHUNK_ROWS = 6  # visible rows that take their new text per frame after a refresh
FRAME_MS = 16
TRACK_ID_ROLE = Qt.ItemDataRole.UserRole + 1
TRACK_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True)
class Column:
    """One table column: its header, the engine's ``order_by`` name, and how a row reads in it."""

    header: str  # English: the column's name in the code and the settings; shown as ``header_text``
    order_by: str | None  # None: the engine cannot sort by this column
    text: Callable[[Any], str]
    align_right: bool = False
    shown_by_default: bool = True  # the others are offered in the header's column chooser

    @property
    def header_text(self) -> str:
        """The header as shown, in the user's language."""
        return QCoreApplication.translate("LibraryTableModel", self.header)


# Headers are marked for translation here and shown through ``Column.header_text``.
COLUMNS: tuple[Column, ...] = (
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "Title"), "title",
           lambda row: track_format.title_or_file_name(row.title, row.path)),
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "Artist"), "artist", lambda row: row.artist or ""),
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "Album"), "album", lambda row: row.album or ""),
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "Genre"), "genre", lambda row: row.genre or ""),
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "Time"), "duration",
           lambda row: track_format.duration_text(row.duration), align_right=True),
    # Sorted around the Camelot wheel: 1A, 1B, 2A …
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "Key"), "key", track_format.track_key_text),
    # The tempo estimated from the audio (the file's BPM tag when there is none); the tag is in the tooltip.
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "BPM"), "bpm",
           lambda row: track_format.bpm_text(row.mixing_bpm), align_right=True),
    # Sorted by the first tag, A-Z.
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "Tags"), "top_tag", lambda row: track_format.tags_text(row.top_tags)),
    # Tracks that read alike (a copy, a re-encode) are told apart by where and how they are stored.
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "File"), "path",
           lambda row: track_format.file_name(row.display_path or row.path), shown_by_default=False),
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "Folder"), "path",
           lambda row: track_format.folder_name(row.display_path or row.path), shown_by_default=False),
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "Format"), None,
           lambda row: track_format.format_text(row.codec, row.path), shown_by_default=False),
    Column(QT_TRANSLATE_NOOP("LibraryTableModel", "Bitrate"), None, lambda row: track_format.bitrate_text(row.bitrate),
           align_right=True, shown_by_default=False),
)
DOUBTFUL_BRUSH = theme.doubtful_brush()
KEY_COLUMN = next(position for position, column in enumerate(COLUMNS) if column.header == "Key")
BPM_COLUMN = next(position for position, column in enumerate(COLUMNS) if column.header == "BPM")


PageEntry = tuple[Any, tuple[str, ...]]  # a TrackRow and its cell texts
# Plain ints, worked out once: ``data`` runs for every cell and role at each repaint.
DISPLAY_ROLE, TOOLTIP_ROLE = int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.ToolTipRole)
ALIGNMENT_ROLE = int(Qt.ItemDataRole.TextAlignmentRole)
FOREGROUND_ROLE = int(Qt.ItemDataRole.ForegroundRole)
SERVED_ROLES = frozenset({DISPLAY_ROLE, TOOLTIP_ROLE, ALIGNMENT_ROLE, FOREGROUND_ROLE, int(TRACK_ID_ROLE),
                          int(TRACK_ROLE)})
HELD_ROLES = frozenset({DISPLAY_ROLE, TOOLTIP_ROLE})  # what a held row shows from before a refresh
COLUMN_ALIGNMENTS = tuple(
    int((Qt.AlignmentFlag.AlignRight if column.align_right else Qt.AlignmentFlag.AlignLeft) | Qt.AlignmentFlag.AlignVCenter)
    for column in COLUMNS
)


def fetch_page(library: Any, page_number: int, query: dict[str, Any]) -> list[PageEntry]:
    """One page of rows with every cell's text already formatted (on the worker, so painting stays cheap).

    Each row's tags are cut to those the active model's calibration calls informative."""
    rows = library.tracks(page_number * PAGE_SIZE, PAGE_SIZE, **query)
    calibrations = active_calibration(library)
    if calibrations is not None:
        rows = [replace(row, top_tags=informative_tags(row.top_tags, calibrations)) for row in rows]
    return [(row, tuple(column.text(row) for column in COLUMNS)) for row in rows]


def changed_row_ranges(shown: list[PageEntry] | None, fresh: list[PageEntry], chunk_rows: int) -> list[tuple[int, int]]:
    """(first, last) offsets within a page of the rows whose cell texts differ between ``shown`` (None: the
    page showed nothing) and ``fresh``, as runs of at most ``chunk_rows`` rows."""
    changed = [offset for offset, entry in enumerate(fresh)
               if shown is None or offset >= len(shown) or shown[offset][1] != entry[1]]
    ranges: list[tuple[int, int]] = []
    for offset in changed:
        if ranges and offset == ranges[-1][1] + 1 and offset - ranges[-1][0] < chunk_rows:
            ranges[-1] = (ranges[-1][0], offset)
        else:
            ranges.append((offset, offset))
    return ranges


class LibraryTableModel(QAbstractTableModel):
    """Pages of ``TrackRow`` fetched on demand; emits ``loaded(row_count)`` after each reload."""

    loaded = Signal(int)
    failed = Signal(str)
    sort_refused = Signal(int, bool)  # the column and direction still in force, for the header indicator

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library = library
        self.filter_text = ""
        self.bpm_range: tuple[float, float] | None = None  # estimated tempo, low and high BPM; None: any tempo
        self.order_by = "artist"
        self.descending = False
        self._row_count = 0
        self._pages: OrderedDict[int, list[PageEntry]] = OrderedDict()
        self._stale_pages: dict[int, list[PageEntry]] = {}  # shown while their fresh copies load after a refresh
        self._requested: set[int] = set()
        self._generation = 0
        self._visible_rows: tuple[int, int] | None = None  # None: treat every row as visible
        self._held: dict[int, PageEntry | None] = {}  # row → what it showed before a refresh, until its turn
        self._held_chunks: deque[tuple[int, int]] = deque()  # (first row, last row) still to show
        self._change_timer = QTimer(self)
        self._change_timer.setInterval(FRAME_MS)
        self._change_timer.timeout.connect(self._show_next_change)

    # ---- Qt model interface -------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._row_count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].header_text
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY_ROLE):
        """Called for every visible cell and role at each repaint: roles not served return at the first line."""
        if role not in SERVED_ROLES or not index.isValid():
            return None
        if role == ALIGNMENT_ROLE:
            return COLUMN_ALIGNMENTS[index.column()]
        if role == FOREGROUND_ROLE and index.column() != KEY_COLUMN:
            return None
        entry = self._entry_at(index.row())
        if self._held and role in HELD_ROLES and index.row() in self._held:
            entry = self._held[index.row()]
        if entry is None:
            return None
        row, texts = entry
        if role == DISPLAY_ROLE:
            return texts[index.column()]
        if role == FOREGROUND_ROLE:
            return DOUBTFUL_BRUSH if track_format.key_is_doubtful(row.key) else None
        if role == TOOLTIP_ROLE:
            if index.column() == KEY_COLUMN and row.key is not None:
                return track_format.key_confidence_tip(row.key)
            tag_differs = index.column() == BPM_COLUMN and track_format.bpm_tip(row.estimated_bpm, row.bpm)
            if tag_differs:
                return tag_differs
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

    def loaded_row_of(self, track_id: int) -> int | None:
        """The row of ``track_id`` among the pages loaded now (in the current order and filter), or None."""
        for page_number, page in self._pages.items():
            for offset, (row, _texts) in enumerate(page):
                if row.id == track_id:
                    return page_number * PAGE_SIZE + offset
        return None

    def row_finder(self, track_id: int) -> Callable[[], int | None]:
        """A function for a worker: the row of ``track_id`` in the current order and filter (None when the filter
        hides it), read from the engine a large page at a time."""
        library, query = self.library, self._query()

        def find() -> int | None:
            total = library.track_count(query["filter_text"], query["bpm_range"])
            for offset in range(0, total, FIND_ROWS_PER_QUERY):
                for position, row in enumerate(library.tracks(offset, FIND_ROWS_PER_QUERY, **query)):
                    if row.id == track_id:
                        return offset + position
            return None

        return find

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

    def set_bpm_range(self, bpm_range: tuple[float, float] | None) -> None:
        """Show only tracks whose estimated tempo lies in (low, high) BPM, inclusive; None shows every tempo."""
        if bpm_range != self.bpm_range:
            self.bpm_range = bpm_range
            self.reload()

    @property
    def filtered(self) -> bool:
        """Whether a search or a tempo range hides some tracks."""
        return bool(self.filter_text) or self.bpm_range is not None

    def reload(self) -> None:
        """Re-read the count and the first page (after indexing, a new filter or sort order)."""
        self._generation += 1
        generation = self._generation
        self._requested.clear()
        library, query = self.library, self._query()

        def fetch() -> tuple[int, list[PageEntry]]:
            count = library.track_count(query["filter_text"], query["bpm_range"])
            return count, (fetch_page(library, 0, query) if count else [])

        self.tasks.run(fetch, lambda result: self._on_reloaded(generation, result), self.failed.emit)

    def refresh(self) -> None:
        """Pick up tracks added, removed or re-analysed by a running scan without resetting the view's scroll or
        selection. The count and the pages on screen are re-read together on a worker; the view then gets the
        changes a few rows per frame (see below)."""
        self._generation += 1
        generation = self._generation
        library, query = self.library, self._query()
        first_visible = self._visible_rows[0] if self._visible_rows else 0
        on_screen = list(self._pages)[-PAGES_ON_SCREEN:] or [first_visible // PAGE_SIZE]  # the pages drawn last

        def fetch() -> tuple[int, dict[int, list[PageEntry]]]:
            count = library.track_count(query["filter_text"], query["bpm_range"])
            return count, {page: fetch_page(library, page, query) for page in on_screen if page * PAGE_SIZE < count}

        self.tasks.run(fetch, lambda result: self._on_refreshed(generation, *result), self.failed.emit)

    def _on_refreshed(self, generation: int, count: int, fresh_pages: dict[int, list[PageEntry]]) -> None:
        if generation != self._generation:
            return
        shown_before = self._pages
        for page, rows in fresh_pages.items():  # visible rows keep what they showed until their turn (below)
            self._hold_changed_rows(page, shown_before.get(page), rows)
        old_count = self._row_count
        if count > old_count:
            self.beginInsertRows(QModelIndex(), old_count, count - 1)
            self._row_count = count
            self.endInsertRows()
        elif count < old_count:
            self.beginRemoveRows(QModelIndex(), count, old_count - 1)
            self._row_count = count
            self.endRemoveRows()
        # Rows may have moved in the sort order: other cached pages are shown as they were until re-read.
        self._stale_pages = {page: rows for page, rows in shown_before.items() if page not in fresh_pages}
        self._pages = OrderedDict(fresh_pages)
        self._requested.clear()
        if self._held_chunks and not self._change_timer.isActive():
            self._change_timer.start()
        self.loaded.emit(count)

    def _query(self) -> dict[str, Any]:
        return {"order_by": self.order_by, "descending": self.descending, "filter_text": self.filter_text,
                "bpm_range": self.bpm_range}

    def _on_reloaded(self, generation: int, result: tuple[int, list[PageEntry]]) -> None:
        if generation != self._generation:
            return
        count, first_page = result
        self._held.clear()  # the reset repaints everything
        self._held_chunks.clear()
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
        self.tasks.run(
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
        first = page_number * PAGE_SIZE  # a page the view asked for (scrolling): drawn at once
        last = min(self._row_count, first + len(rows)) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))

    # ---- showing changes a few rows per frame --------------------------------------------------
    # Drawing a screenful of rows costs ~20 ms of GUI time (more on a busy machine), and a scan changes the
    # rows every few seconds. So after a refresh the visible rows that changed keep showing what they showed
    # (``_held``; nothing for new rows) and take their new text a few rows per frame; changed rows that are not
    # on screen are not repainted at all (they are read when scrolled to).
    def set_visible_rows(self, first: int, last: int) -> None:
        """The view's visible row range (the library view keeps it current on scrolling and resizing)."""
        self._visible_rows = (first, last)

    def _hold_changed_rows(self, page_number: int, shown: list[PageEntry] | None, fresh: list[PageEntry]) -> None:
        first_row = page_number * PAGE_SIZE
        visible_first, visible_last = self._visible_rows or (0, first_row + len(fresh))
        for first, last in changed_row_ranges(shown, fresh, REPAINT_CHUNK_ROWS):
            first, last = max(first_row + first, visible_first), min(first_row + last, visible_last)
            if first > last:
                continue
            for row in range(first, last + 1):
                offset = row - first_row
                self._held[row] = shown[offset] if shown is not None and offset < len(shown) else None
            self._held_chunks.append((first, last))

    def _show_next_change(self) -> None:
        """One step: a few held rows take their new text."""
        while self._held_chunks:
            first, last = self._held_chunks.popleft()
            for row in range(first, last + 1):
                self._held.pop(row, None)
            last = min(last, self._row_count - 1)
            if first <= last:
                self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
                return
        self._change_timer.stop()
