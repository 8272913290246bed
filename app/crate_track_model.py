"""A crate's tracks as a table whose rows can be dragged to a new place: a drop does not move rows itself, it asks
(``move_requested``) and the view stores the new order in the library, then shows the crate as stored."""

from __future__ import annotations

import json

from PySide6.QtCore import QByteArray, QMimeData, QModelIndex, QPersistentModelIndex, Qt, Signal

from app.track_list_model import TrackListModel

CRATE_ROWS_MIME = "application/x-semisup-crate-rows"  # JSON list of row numbers; only this table reads it


def position_without(rows: list[int], target_row: int) -> int:
    """Where ``target_row`` (a drop between rows, counted with the moving ``rows`` still in place) lies in the list
    once those rows are taken out: the position ``Library.move_in_crate`` expects."""
    return target_row - sum(1 for row in set(rows) if row < target_row)


class CrateTrackModel(TrackListModel):
    """``move_requested(rows, to_position)``: rows dragged to ``to_position`` of the list without them."""

    move_requested = Signal(list, int)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid():
            return flags | Qt.ItemFlag.ItemIsDragEnabled
        return flags | Qt.ItemFlag.ItemIsDropEnabled  # between rows, not onto one

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [CRATE_ROWS_MIME]

    def mimeData(self, indexes) -> QMimeData:
        data = QMimeData()
        rows = sorted({index.row() for index in indexes if index.isValid()})
        data.setData(CRATE_ROWS_MIME, QByteArray(json.dumps(rows).encode("ascii")))
        return data

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: QModelIndex | QPersistentModelIndex) -> bool:
        if action != Qt.DropAction.MoveAction or not data.hasFormat(CRATE_ROWS_MIME):
            return False
        try:
            rows = [int(value) for value in json.loads(bytes(data.data(CRATE_ROWS_MIME).data()).decode("ascii"))]
        except (ValueError, TypeError):
            return False
        rows = [value for value in rows if 0 <= value < len(self.tracks)]
        if not rows:
            return False
        target = row if row >= 0 else (parent.row() if parent.isValid() else len(self.tracks))
        self.move_requested.emit(rows, position_without(rows, target))
        return False  # the rows move when the stored order is shown again, not here
