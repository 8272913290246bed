"""The Duplicates tab: groups of library tracks that are one recording (copies, re-encodes), found by the engine's
landmark matching (``Library.duplicate_groups``), with format, bitrate, length, size and path per copy.

"Keep this one" moves the group's other copies to the platform's trash, only after a confirmation that lists them,
and takes them out of the library. A copy is left alone when its file changed since the scan or is the very file
kept (a second path to it), so the kept recording can never be trashed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import track_format, trash
from app.confirm import confirm
from app.errors import show_error
from app.tasks import BACKGROUND, TaskRunner
from engine.scan import display_path

# A group's heading names the recording; its copies are told apart by file name first (the column seen at any
# width), then format, bitrate, length, size and the folder they are in.
HEADERS = tuple(QT_TRANSLATE_NOOP("DuplicatesView", name) for name in ("File", "Format", "Bitrate", "Length", "Size",
                                                                          "Folder"))  # shown through tr()
TRACK_COLUMN, FOLDER_COLUMN = 0, 5
TRACK_COLUMN_WIDTH = 220  # px; the format, bitrate, length and size columns fit their text
COPY_ROLE = Qt.ItemDataRole.UserRole + 1  # a copy's ``DuplicateCopy``; groups carry their index in the list
SUGGESTED_MARK = "★"
SUGGESTED_TIP = QT_TRANSLATE_NOOP("DuplicatesView", "Suggested to keep: lossless first, then the highest bitrate, "
                                                    "the longest, the largest")
TRASH_NOTE = QT_TRANSLATE_NOOP("DuplicatesView", "They go to the system's trash, where they can be restored, and leave "
                                                 "the library. The copy you keep is not touched.")


@dataclass
class TrashOutcome:
    """What a keep-one action did: the track ids moved to the trash (and out of the library), and the copies
    left where they are with the reason."""

    trashed: list[int] = field(default_factory=list)
    kept_back: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def trash_other_copies(library: Any, kept: Any, others: list[Any]) -> TrashOutcome:
    """Move ``others`` (``DuplicateCopy``) to the trash and out of the library, except a copy whose file is the
    kept one or changed size since the scan; runs on a worker."""
    outcome = TrashOutcome()
    for copy in others:
        path = copy.track.path
        try:
            if os.path.samefile(path, kept.track.path):
                outcome.kept_back.append((path, QCoreApplication.translate("DuplicatesView",
                                                                           "it is the same file as the copy kept")))
                continue
            if os.path.getsize(path) != copy.size:
                outcome.kept_back.append((path, QCoreApplication.translate(
                    "DuplicatesView", "it changed since the library read it; scan again first")))
                continue
            trash.move_to_trash(path)
        except OSError as error:
            outcome.kept_back.append((path, str(error.strerror or error)))
            continue
        outcome.trashed.append(copy.track.id)
    library.remove_tracks(outcome.trashed, exclude=False)  # in the trash: a file restored from it may come back
    return outcome


class DuplicatesView(QWidget):
    """Emits ``library_changed`` after copies left the library."""

    library_changed = Signal()

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.library, self.tasks = library, tasks
        self.groups: list[Any] = []
        self.searching = False
        self.find_button = QPushButton(self.tr("Find duplicates"))
        self.find_button.setToolTip(self.tr("Look for tracks that are the same recording (copies, re-encodes) by "
                                            "their sound"))
        self.keep_button = QPushButton(self.tr("Keep this one, move the others to the trash…"))
        self.keep_button.setToolTip(self.tr("Asks first; the other copies can be restored from the system's trash"))
        self.status = QLabel(self.tr("Find copies and re-encodes of one recording among the library's tracks."))
        self.status.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(HEADERS))
        self.tree.setHeaderLabels([self.tr(name) for name in HEADERS])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.tree.header()
        header.setStretchLastSection(True)  # the folder gets the rest (elided mid-way)
        header.setSectionResizeMode(TRACK_COLUMN, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(TRACK_COLUMN, TRACK_COLUMN_WIDTH)
        for column in range(TRACK_COLUMN + 1, FOLDER_COLUMN):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QHBoxLayout()
        buttons.addWidget(self.find_button)
        buttons.addWidget(self.keep_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.tree, 1)
        self.find_button.clicked.connect(self.find)
        self.keep_button.clicked.connect(self.keep_selected)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self._update_buttons()

    # ---- finding ---------------------------------------------------------------------------------
    def find(self) -> None:
        if self.searching:
            return
        self.searching = True
        self.status.setText(self.tr("Comparing every track's landmarks…"))
        self._update_buttons()
        library = self.library
        self.tasks.run(library.duplicate_groups, self._show, self._fail, kind=BACKGROUND)

    def _show(self, groups: list[Any]) -> None:
        self.searching = False
        self.groups = list(groups)
        self.tree.clear()
        for number, group in enumerate(self.groups):
            self.tree.addTopLevelItem(self._group_item(number, group))
        self.tree.expandAll()
        extra = [copy for group in self.groups for copy in group.copies[1:]]
        if self.groups:
            recordings = (self.tr("1 recording") if len(self.groups) == 1
                          else self.tr("{count} recordings").format(count=len(self.groups)))
            copies = self._copies_text(len(extra), self.tr("1 extra copy"), self.tr("{count} extra copies"))
            size = track_format.size_text(sum(copy.size for copy in extra))
            self.status.setText(self.tr("{recordings} with more than one copy: {copies}, {size}. Select the copy to "
                                        "keep ({mark} marks the one suggested).").format(
                recordings=recordings, copies=copies, size=size, mark=SUGGESTED_MARK))
        else:
            self.status.setText(self.tr("No duplicates: no two tracks in the library are the same recording."))
        self._update_buttons()

    def _fail(self, message: str) -> None:
        self.searching = False
        self.status.setText(self.tr("Duplicates could not be looked for."))
        self._update_buttons()
        show_error(self, self.tr("Duplicates"), message)

    @staticmethod
    def _copies_text(count: int, one: str, many: str) -> str:
        """``one`` or ``many`` (translated, with a ``{count}`` field) for ``count`` copies."""
        return one if count == 1 else many.format(count=count)

    def _group_item(self, number: int, group: Any) -> QTreeWidgetItem:
        first = group.copies[0].track
        title = track_format.artist_title(first.artist, first.title, first.path)
        item = QTreeWidgetItem([self.tr("{title} — {count} copies").format(title=title, count=len(group.copies))])
        item.setData(TRACK_COLUMN, COPY_ROLE, number)
        item.setFirstColumnSpanned(True)
        font = item.font(TRACK_COLUMN)
        font.setBold(True)
        item.setFont(TRACK_COLUMN, font)
        for position, copy in enumerate(group.copies):
            track = copy.track
            shown_path = track.display_path or str(track.path)
            name = track_format.file_name(shown_path)
            child = QTreeWidgetItem([
                f"{SUGGESTED_MARK} {name}" if position == 0 else name,  # a mark, not words: it survives eliding
                track_format.format_text(track.codec, track.path), track_format.bitrate_text(track.bitrate),
                track_format.duration_text(track.duration), track_format.size_text(copy.size),
                str(Path(shown_path).parent),
            ])
            child.setData(TRACK_COLUMN, COPY_ROLE, copy)
            for column in range(len(HEADERS)):
                child.setToolTip(column, shown_path)
            if position == 0:
                child.setToolTip(TRACK_COLUMN, f"{shown_path}\n{self.tr(SUGGESTED_TIP)}")
            item.addChild(child)
        return item

    # ---- keeping one -----------------------------------------------------------------------------
    def selected_copy(self) -> tuple[Any, Any] | None:
        """(the group, the copy) of the selected copy row; None when a group row or nothing is selected."""
        items = self.tree.selectedItems()
        if not items or items[0].parent() is None:
            return None
        child = items[0]
        return self.groups[child.parent().data(TRACK_COLUMN, COPY_ROLE)], child.data(TRACK_COLUMN, COPY_ROLE)

    def select_copy(self, group_number: int, position: int) -> None:
        self.tree.setCurrentItem(self.tree.topLevelItem(group_number).child(position))

    def keep_selected(self) -> None:
        """Ask, then move the selected copy's group siblings to the trash and out of the library."""
        chosen = self.selected_copy()
        if chosen is None:
            return
        group, kept = chosen
        others = [copy for copy in group.copies if copy.track.id != kept.track.id]
        count = len(others)
        question = self.tr("Keep {name} and move {copies} to the trash?").format(
            name=track_format.file_name(kept.track.path),
            copies=self._copies_text(count, self.tr("1 other copy"), self.tr("{count} other copies")))
        if not confirm(self, self.tr("Move duplicates to the trash"), question, self.tr(TRASH_NOTE),
                       self.tr("Move to trash"), [copy.track.display_path or str(copy.track.path) for copy in others]):
            return
        library = self.library
        self.keep_button.setEnabled(False)
        self.tasks.run(lambda: trash_other_copies(library, kept, others), self._trashed,
                       lambda message: show_error(self, self.tr("Duplicates"), message), kind=BACKGROUND)

    def _trashed(self, outcome: TrashOutcome) -> None:
        if outcome.trashed:
            self.library_changed.emit()
        moved = self._copies_text(len(outcome.trashed), self.tr("Moved 1 copy to the trash."),
                                  self.tr("Moved {count} copies to the trash."))
        self.status.setText(moved)
        if outcome.kept_back:
            show_error(self, self.tr("Duplicates"), moved + self.tr(" Left in place:") + "\n" + "\n".join(
                f"{display_path(path)}: {reason}" for path, reason in outcome.kept_back))
        self.find()  # the groups as they are now

    def _update_buttons(self) -> None:
        self.find_button.setEnabled(not self.searching)
        self.keep_button.setEnabled(not self.searching and self.selected_copy() is not None)
