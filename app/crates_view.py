"""The Crates tab: crates saved in the library (``Library.crates``), each a named, ordered list of tracks made from
a selection, the similar list or a radio walk, and exported for DJ software.

Exports: M3U8 with #EXTINF lines (Mixxx imports it under Playlists → Import Playlist, as do Traktor, VLC and
most players; Mixxx reads keys and tempi from the files' tags, so write them first with Write key / BPM), and
rekordbox XML (File → Import Collection in rekordbox), which carries the analysed key and BPM itself.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.confirm import confirm
from app.crate_track_model import CrateTrackModel
from app.errors import show_error
from app.library_view import ROW_HEIGHT
from app.save_target import save_target
from app.tasks import TaskRunner
from app.track_list_model import SCORE_COLUMN, TITLE_COLUMN
from engine.playlist import fits_one_line

CRATE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
M3U8, REKORDBOX = "m3u8", "rekordbox"
EXPORT_FILTERS = {M3U8: QT_TRANSLATE_NOOP("CratesView", "M3U8 playlists (*.m3u8)"),
                  REKORDBOX: QT_TRANSLATE_NOOP("CratesView", "rekordbox XML (*.xml)")}  # shown through tr()
EXPORT_SUFFIXES = {M3U8: ".m3u8", REKORDBOX: ".xml"}
CRATE_LIST_WIDTH = 220


def ask_crate_name(parent: QWidget, names: list[str], suggested: str) -> str | None:
    """The crate to add to: an existing one picked from ``names`` or a new name typed in; None when cancelled."""
    choices = [suggested] + [name for name in names if name != suggested]
    name, accepted = QInputDialog.getItem(
        parent, QCoreApplication.translate("CratesView", "Add to crate"),
        QCoreApplication.translate("CratesView", "Crate (pick one, or type a new name):"), choices, 0, True)
    return name.strip() if accepted and name.strip() else None


def ask_new_crate_name(parent: QWidget, current: str) -> str | None:
    """The crate's new name; None when cancelled or left empty or unchanged."""
    name, accepted = QInputDialog.getText(parent, QCoreApplication.translate("CratesView", "Rename crate"),
                                          QCoreApplication.translate("CratesView", "New name:"), text=current)
    name = name.strip()
    return name if accepted and name and name != current else None


def add_to_named_crate(library: Any, name: str, track_ids: list[int]) -> tuple[str, int]:
    """Append the tracks to the crate called ``name``, made when there is none; (name, tracks added). Worker side."""
    existing = {crate.name: crate.id for crate in library.crates()}
    crate_id = existing[name] if name in existing else library.create_crate(name)
    return name, library.add_to_crate(crate_id, track_ids)


class CratesView(QWidget):
    """Lists the crates and the shown crate's tracks; emits ``message`` for the status bar."""

    message = Signal(str)
    track_activated = Signal(int)

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.library, self.tasks = library, tasks
        self.crate_list = QListWidget()
        self.crate_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.model = CrateTrackModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)  # drag rows to reorder the crate
        self.table.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.table.setDragDropOverwriteMode(False)
        self.table.setDropIndicatorShown(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TITLE_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnHidden(SCORE_COLUMN, True)  # a crate's tracks have no score
        self.heading = QLabel(self.tr("Make a crate from selected tracks (right-click → Add to crate…), the similar "
                                      "list or a radio playlist."))
        self.heading.setWordWrap(True)
        self.m3u8_button = QPushButton(self.tr("Export M3U8 (Mixxx)…"))
        self.m3u8_button.setToolTip(self.tr("An M3U8 playlist: Mixxx (Playlists → Import Playlist), Traktor and most "
                                            "players read it; Mixxx takes keys and BPMs from the files' tags (Write "
                                            "key first)"))
        self.rekordbox_button = QPushButton(self.tr("Export rekordbox XML…"))
        self.rekordbox_button.setToolTip(self.tr("A rekordbox collection with this crate as a playlist, carrying each "
                                                 "track's analysed key and BPM (rekordbox: File → Import Collection)"))
        self.rename_button = QPushButton(self.tr("Rename…"))
        self.rename_button.setToolTip(self.tr("Give the crate another name"))
        self.delete_button = QPushButton(self.tr("Delete crate…"))
        self.delete_button.setToolTip(self.tr("Forget the crate; its tracks stay in the library"))
        # Two rows of two: in one row the four buttons made the tab 591 px wide at least, which squeezed the side
        # docks of a 1024 px window below their widths once the tab had been shown.
        buttons = QGridLayout()
        for number, button in enumerate((self.m3u8_button, self.rekordbox_button, self.rename_button,
                                         self.delete_button)):
            buttons.addWidget(button, number // 2, number % 2)
        buttons.setColumnStretch(2, 1)
        self.up_button = QPushButton(self.tr("Move up"))
        self.down_button = QPushButton(self.tr("Move down"))
        self.take_out_button = QPushButton(self.tr("Remove from crate"))
        self.take_out_button.setToolTip(self.tr("Take the selected tracks out of this crate; they stay in the library "
                                                "(Delete)"))
        self.track_actions = {
            self.up_button: QAction(self.tr("Move up"), self, shortcut=QKeySequence("Alt+Up"),
                                    triggered=lambda: self.move_selected(-1)),
            self.down_button: QAction(self.tr("Move down"), self, shortcut=QKeySequence("Alt+Down"),
                                      triggered=lambda: self.move_selected(+1)),
            self.take_out_button: QAction(self.tr("Remove from crate"), self,
                                          shortcut=QKeySequence(QKeySequence.StandardKey.Delete),
                                          triggered=self.remove_selected_from_crate),
        }
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        track_buttons = QHBoxLayout()
        for button, action in self.track_actions.items():
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # the table's keys only
            self.table.addAction(action)
            button.clicked.connect(action.trigger)
            if action.shortcut().toString():
                button.setToolTip(button.toolTip() or f"{action.text()} ({action.shortcut().toString()})")
            track_buttons.addWidget(button)
        drag_hint = QLabel(self.tr("or drag tracks to reorder"))  # takes the rest of the row, wraps only when short
        drag_hint.setWordWrap(True)
        track_buttons.addWidget(drag_hint, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.heading)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.table, 1)
        right_layout.addLayout(track_buttons)
        splitter = QSplitter()
        splitter.addWidget(self.crate_list)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([CRATE_LIST_WIDTH, 4 * CRATE_LIST_WIDTH])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.crate_list.currentItemChanged.connect(lambda *_: self._load_tracks())
        self.m3u8_button.clicked.connect(lambda: self.choose_export_file(M3U8))
        self.rekordbox_button.clicked.connect(lambda: self.choose_export_file(REKORDBOX))
        self.rename_button.clicked.connect(self.rename_current)
        self.delete_button.clicked.connect(self.delete_current)
        self.table.clicked.connect(lambda index: self.track_activated.emit(self.model.tracks[index.row()].id))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.move_requested.connect(self._move_rows)
        self._update_buttons()

    # ---- the list of crates ----------------------------------------------------------------------
    def refresh(self, select_name: str | None = None) -> None:
        library = self.library
        self.tasks.run(library.crates, lambda crates: self._show_crates(crates, select_name),
                       lambda message: show_error(self, self.tr("Crates"), message))

    def _show_crates(self, crates: list[Any], select_name: str | None) -> None:
        current = select_name or (self.current_crate()[1] if self.current_crate() else None)
        self.crate_list.blockSignals(True)
        self.crate_list.clear()
        for crate in crates:
            item = QListWidgetItem(f"{crate.name}  ({crate.track_count})")
            item.setData(CRATE_ID_ROLE, (crate.id, crate.name))
            self.crate_list.addItem(item)
            if crate.name == current:
                self.crate_list.setCurrentItem(item)
        self.crate_list.blockSignals(False)
        if self.crate_list.currentItem() is None and self.crate_list.count():
            self.crate_list.setCurrentRow(0)
        else:
            self._load_tracks()

    def current_crate(self) -> tuple[int, str] | None:
        item = self.crate_list.currentItem()
        return None if item is None else item.data(CRATE_ID_ROLE)

    def _load_tracks(self, select_ids: list[int] | None = None) -> None:
        """Show the current crate's tracks as stored; ``select_ids`` are selected again (tracks just moved)."""
        crate = self.current_crate()
        if crate is None:
            self.model.set_entries([])
            self._update_buttons()
            return
        crate_id, name = crate
        library = self.library
        self.tasks.run(lambda: library.crate_tracks(crate_id),
                       lambda tracks: self._show_tracks(crate_id, name, tracks, select_ids or []),
                       lambda message: show_error(self, self.tr("Crates"), message))

    def _show_tracks(self, crate_id: int, name: str, tracks: list[Any], select_ids: list[int]) -> None:
        if self.current_crate() != (crate_id, name):
            return  # another crate was chosen meanwhile
        self.model.set_entries(tracks)
        count_text = self.tr("1 track") if len(tracks) == 1 else self.tr("{count} tracks").format(count=len(tracks))
        self.heading.setText(f"<b>{escape(name)}</b> — {escape(count_text)}")  # a crate's name is text, not markup
        selection = self.table.selectionModel()
        for row, track in enumerate(tracks):
            if track.id in select_ids:
                selection.select(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select
                                 | QItemSelectionModel.SelectionFlag.Rows)
        self._update_buttons()

    # ---- editing the crate's list ----------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        return sorted({index.row() for index in self.table.selectionModel().selectedRows()})

    def move_selected(self, step: int) -> None:
        """Move the selected tracks one place up (``step`` -1) or down (+1), as one block."""
        rows = self.selected_rows()
        if not rows:
            return
        if step < 0:
            self._move_rows(rows, max(0, rows[0] - 1))
        else:
            self._move_rows(rows, rows[0] + 1)  # in the list without them: one further than the block's start

    def _move_rows(self, rows: list[int], to_position: int) -> None:
        """Store the new order (``Library.move_in_crate``) and show it with the moved tracks still selected."""
        crate = self.current_crate()
        if crate is None or not rows:
            return
        track_ids = [self.model.tracks[row].id for row in rows if 0 <= row < len(self.model.tracks)]
        library, crate_id = self.library, crate[0]
        self.tasks.run(lambda: library.move_in_crate(crate_id, track_ids, to_position),
                       lambda _order: self._load_tracks(select_ids=track_ids),
                       lambda message: show_error(self, self.tr("Crates"), message))

    def remove_selected_from_crate(self) -> None:
        crate = self.current_crate()
        rows = self.selected_rows()
        if crate is None or not rows:
            return
        track_ids = [self.model.tracks[row].id for row in rows]
        library, crate_id, name = self.library, crate[0], crate[1]

        def removed(count: int) -> None:
            self.message.emit(self.tr("Took {count} track(s) out of the crate {name}; they stay in the library.")
                              .format(count=count, name=name))
            self.refresh(select_name=name)

        self.tasks.run(lambda: library.remove_from_crate(crate_id, track_ids), removed,
                       lambda message: show_error(self, self.tr("Crates"), message))

    def rename_current(self) -> None:
        crate = self.current_crate()
        if crate is None:
            return
        name = ask_new_crate_name(self, crate[1])
        if name is None:
            return
        library, crate_id = self.library, crate[0]
        self.tasks.run(lambda: library.rename_crate(crate_id, name), lambda _: self.refresh(select_name=name),
                       lambda message: show_error(self, self.tr("Rename crate"), message))

    # ---- adding tracks ---------------------------------------------------------------------------
    def add_tracks(self, count: int, resolve_ids: Callable[[], list[int]], suggested: str = "") -> None:
        """Ask which crate (or a new one), then add the ``count`` tracks ``resolve_ids`` reads (on a worker)."""
        if count == 0:
            return
        names = [self.crate_list.item(row).data(CRATE_ID_ROLE)[1] for row in range(self.crate_list.count())]
        name = ask_crate_name(self, names, suggested or self.tr("Crate {number}").format(number=len(names) + 1))
        if name is None:
            return
        library = self.library
        self.tasks.run(lambda: add_to_named_crate(library, name, resolve_ids()), self._added,
                       lambda message: show_error(self, self.tr("Add to crate"), message))

    def _added(self, result: tuple[str, int]) -> None:
        name, added = result
        self.message.emit(self.tr("Added {count} track(s) to the crate {name}.").format(count=added, name=name))
        self.refresh(select_name=name)

    # ---- export and delete -----------------------------------------------------------------------
    def choose_export_file(self, kind: str) -> None:
        crate = self.current_crate()
        if crate is None or not self.model.tracks:
            return
        suggested = str(Path.home() / f"{_file_stem(crate[1])}{EXPORT_SUFFIXES[kind]}")
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export crate"), suggested, self.tr(EXPORT_FILTERS[kind]))
        target = save_target(self, path, EXPORT_SUFFIXES[kind], self.tr("Export crate")) if path else None
        if target is not None:  # the save dialog, or save_target, asked before replacing a file
            self.export(kind, target, overwrite=True)

    def export(self, kind: str, path: Path, overwrite: bool = False) -> None:
        """Write the shown crate's tracks to ``path`` as ``kind`` (M3U8 or REKORDBOX) on a worker."""
        crate = self.current_crate()
        if crate is None:
            return
        tracks, name, library = list(self.model.tracks), crate[1], self.library
        if kind == REKORDBOX:
            write = lambda: library.write_rekordbox_xml(tracks, name, path, overwrite)  # noqa: E731
        else:
            write = lambda: library.write_m3u8(tracks, path, overwrite)  # noqa: E731
        left_out = 0 if kind == REKORDBOX else sum(not fits_one_line(track) for track in tracks)
        done = self.tr("Exported {name} to {path}.")
        if left_out:  # an M3U8 entry is one line: a path holding a line break cannot be one (the CLI warns too)
            done += " " + self.tr("{count} track(s) left out: a line break in the path.").format(count=left_out)
        self.tasks.run(write, lambda written: self.message.emit(done.format(name=name, path=written)),
                       lambda message: show_error(self, self.tr("Export crate"), message))

    def delete_current(self) -> None:
        crate = self.current_crate()
        title = self.tr("Delete crate")
        if crate is None or not confirm(self, title, self.tr("Delete the crate {name}?").format(name=crate[1]),
                                        self.tr("The tracks stay in the library and their files on disk."), title):
            return
        library, crate_id = self.library, crate[0]
        self.tasks.run(lambda: library.delete_crate(crate_id), lambda _: self.refresh(),
                       lambda message: show_error(self, self.tr("Crates"), message))

    def _update_buttons(self) -> None:
        has_crate = self.current_crate() is not None
        has_tracks = has_crate and bool(self.model.tracks)
        self.m3u8_button.setEnabled(has_tracks)
        self.rekordbox_button.setEnabled(has_tracks)
        self.rename_button.setEnabled(has_crate)
        self.delete_button.setEnabled(has_crate)
        rows = self.selected_rows() if has_tracks else []
        enabled = {self.up_button: bool(rows) and rows[0] > 0,
                   self.down_button: bool(rows) and rows[-1] < len(self.model.tracks) - 1,
                   self.take_out_button: bool(rows)}
        for button, on in enabled.items():
            button.setEnabled(on)
            self.track_actions[button].setEnabled(on)


def _file_stem(name: str) -> str:
    kept = "".join(char if char.isalnum() or char in " -_" else "_" for char in name)
    return kept.strip() or "crate"
