"""The Crates tab: crates saved in the library (``Library.crates``), each a named, ordered list of tracks made from
a selection, the similar list or a radio walk, and exported for DJ software.

Exports: M3U8 with #EXTINF lines (Mixxx imports it under Playlists → Import Playlist, as do Traktor, VLC and
most players; Mixxx reads keys and tempi from the files' tags, so write them first with Write key / BPM), and
rekordbox XML (File → Import Collection in rekordbox), which carries the analysed key and BPM itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
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
from app.errors import show_error
from app.library_view import ROW_HEIGHT
from app.tasks import TaskRunner
from app.track_list_model import SCORE_COLUMN, TITLE_COLUMN, TrackListModel

CRATE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
M3U8, REKORDBOX = "m3u8", "rekordbox"
EXPORT_FILTERS = {M3U8: "M3U8 playlists (*.m3u8)", REKORDBOX: "rekordbox XML (*.xml)"}
EXPORT_SUFFIXES = {M3U8: ".m3u8", REKORDBOX: ".xml"}
CRATE_LIST_WIDTH = 220


def ask_crate_name(parent: QWidget, names: list[str], suggested: str) -> str | None:
    """The crate to add to: an existing one picked from ``names`` or a new name typed in; None when cancelled."""
    choices = [suggested] + [name for name in names if name != suggested]
    name, accepted = QInputDialog.getItem(parent, "Add to crate", "Crate (pick one, or type a new name):",
                                          choices, 0, True)
    return name.strip() if accepted and name.strip() else None


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
        self.model = TrackListModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TITLE_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnHidden(SCORE_COLUMN, True)  # a crate's tracks have no score
        self.heading = QLabel("Make a crate from selected tracks (right-click → Add to crate…), the similar list or a "
                              "radio playlist.")
        self.heading.setWordWrap(True)
        self.m3u8_button = QPushButton("Export M3U8 (Mixxx)…")
        self.m3u8_button.setToolTip("An M3U8 playlist: Mixxx (Playlists → Import Playlist), Traktor and most players "
                                    "read it; Mixxx takes keys and BPMs from the files' tags (Write key first)")
        self.rekordbox_button = QPushButton("Export rekordbox XML…")
        self.rekordbox_button.setToolTip("A rekordbox collection with this crate as a playlist, carrying each track's "
                                         "analysed key and BPM (rekordbox: File → Import Collection)")
        self.delete_button = QPushButton("Delete crate…")
        self.delete_button.setToolTip("Forget the crate; its tracks stay in the library")
        buttons = QHBoxLayout()
        for button in (self.m3u8_button, self.rekordbox_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.heading)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.table, 1)
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
        self.delete_button.clicked.connect(self.delete_current)
        self.table.clicked.connect(lambda index: self.track_activated.emit(self.model.tracks[index.row()].id))
        self._update_buttons()

    # ---- the list of crates ----------------------------------------------------------------------
    def refresh(self, select_name: str | None = None) -> None:
        library = self.library
        self.tasks.run(library.crates, lambda crates: self._show_crates(crates, select_name),
                       lambda message: show_error(self, "Crates", message))

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

    def _load_tracks(self) -> None:
        crate = self.current_crate()
        if crate is None:
            self.model.set_entries([])
            self._update_buttons()
            return
        crate_id, name = crate
        library = self.library
        self.tasks.run(lambda: library.crate_tracks(crate_id), lambda tracks: self._show_tracks(crate_id, name, tracks),
                       lambda message: show_error(self, "Crates", message))

    def _show_tracks(self, crate_id: int, name: str, tracks: list[Any]) -> None:
        if self.current_crate() != (crate_id, name):
            return  # another crate was chosen meanwhile
        self.model.set_entries(tracks)
        self.heading.setText(f"<b>{name}</b> — {len(tracks)} track{'s' if len(tracks) != 1 else ''}")
        self._update_buttons()

    # ---- adding tracks ---------------------------------------------------------------------------
    def add_tracks(self, count: int, resolve_ids: Callable[[], list[int]], suggested: str = "") -> None:
        """Ask which crate (or a new one), then add the ``count`` tracks ``resolve_ids`` reads (on a worker)."""
        if count == 0:
            return
        names = [self.crate_list.item(row).data(CRATE_ID_ROLE)[1] for row in range(self.crate_list.count())]
        name = ask_crate_name(self, names, suggested or f"Crate {len(names) + 1}")
        if name is None:
            return
        library = self.library
        self.tasks.run(lambda: add_to_named_crate(library, name, resolve_ids()), self._added,
                       lambda message: show_error(self, "Add to crate", message))

    def _added(self, result: tuple[str, int]) -> None:
        name, added = result
        self.message.emit(f"Added {added} track{'s' if added != 1 else ''} to the crate {name}.")
        self.refresh(select_name=name)

    # ---- export and delete -----------------------------------------------------------------------
    def choose_export_file(self, kind: str) -> None:
        crate = self.current_crate()
        if crate is None or not self.model.tracks:
            return
        suggested = str(Path.home() / f"{_file_stem(crate[1])}{EXPORT_SUFFIXES[kind]}")
        path, _ = QFileDialog.getSaveFileName(self, "Export crate", suggested, EXPORT_FILTERS[kind])
        if path:  # the save dialog has asked before replacing a file
            target = Path(path if path.lower().endswith(EXPORT_SUFFIXES[kind]) else path + EXPORT_SUFFIXES[kind])
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
        self.tasks.run(write, lambda written: self.message.emit(f"Exported {name} to {written}."),
                       lambda message: show_error(self, "Export crate", message))

    def delete_current(self) -> None:
        crate = self.current_crate()
        if crate is None or not confirm(self, "Delete crate", f"Delete the crate {crate[1]}?",
                                        "The tracks stay in the library and their files on disk.", "Delete crate"):
            return
        library, crate_id = self.library, crate[0]
        self.tasks.run(lambda: library.delete_crate(crate_id), lambda _: self.refresh(),
                       lambda message: show_error(self, "Crates", message))

    def _update_buttons(self) -> None:
        has_tracks = self.current_crate() is not None and bool(self.model.tracks)
        self.m3u8_button.setEnabled(has_tracks)
        self.rekordbox_button.setEnabled(has_tracks)
        self.delete_button.setEnabled(self.current_crate() is not None)


def _file_stem(name: str) -> str:
    kept = "".join(char if char.isalnum() or char in " -_" else "_" for char in name)
    return kept.strip() or "crate"
