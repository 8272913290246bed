"""A short, fully loaded list of tracks (similar results, a radio playlist) for a ``QTableView``."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from app import track_format
from app.library_model import DOUBTFUL_BRUSH, TRACK_ID_ROLE, TRACK_ROLE

# Shown through tr(), like the texts below.
HEADERS = ("#", QT_TRANSLATE_NOOP("TrackListModel", "Title"), QT_TRANSLATE_NOOP("TrackListModel", "Artist"),
           QT_TRANSLATE_NOOP("TrackListModel", "Key"), QT_TRANSLATE_NOOP("TrackListModel", "Score"))
TITLE_COLUMN, ARTIST_COLUMN, KEY_COLUMN, SCORE_COLUMN = 1, 2, 3, 4
SAME_RECORDING_TEXT = QT_TRANSLATE_NOOP("TrackListModel", "same")
SAME_RECORDING_TIP = QT_TRANSLATE_NOOP("TrackListModel", "The same recording as the query (their landmark hashes line "
                                                         "up): a copy, a re-encode or an excerpt")


class TrackListModel(QAbstractTableModel):
    """Rows are ``SimilarTrack`` results (with a score) or plain ``TrackRow`` playlist entries (without)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[Any] = []
        self.tracks: list[Any] = []
        self.scores: list[float | None] = []
        self.same_recordings: list[bool] = []  # results that are the query's recording (shown as "same")

    def set_entries(self, entries: list[Any]) -> None:
        self.beginResetModel()
        self.entries = list(entries)
        self.tracks = [entry_track(entry) for entry in self.entries]
        self.scores = [getattr(entry, "score", None) for entry in self.entries]
        self.same_recordings = [bool(getattr(entry, "same_recording", False)) for entry in self.entries]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.tr(HEADERS[section])
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        track = self.tracks[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == SCORE_COLUMN and self.same_recordings[index.row()]:
                return self.tr(SAME_RECORDING_TEXT)
            return self._text(track, self.scores[index.row()], index.row(), index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            if index.column() == KEY_COLUMN and track.key is not None:
                return track_format.key_confidence_tip(track.key)
            if index.column() == SCORE_COLUMN and self.same_recordings[index.row()]:
                return self.tr(SAME_RECORDING_TIP)
            return track.display_path or str(track.path)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == KEY_COLUMN:
            return DOUBTFUL_BRUSH if track_format.key_is_doubtful(track.key) else None
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in (0, SCORE_COLUMN):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == TRACK_ID_ROLE:
            return track.id
        if role == TRACK_ROLE:
            return track
        return None

    @staticmethod
    def _text(track: Any, score: float | None, row: int, column: int) -> str:
        if column == 0:
            return str(row + 1)
        if column == TITLE_COLUMN:
            return track_format.title_or_file_name(track.title, track.path)
        if column == ARTIST_COLUMN:
            return track.artist or ""
        if column == KEY_COLUMN:  # Camelot alone: a docked list is narrow; the tooltip names the key
            return track.key.camelot if track.key is not None and track.key.camelot else track_format.track_key_text(track)
        return track_format.score_text(score) if score is not None else ""


def entry_track(entry: Any) -> Any:
    """The ``TrackRow`` of a result: a ``SimilarTrack`` wraps one, a playlist entry is one."""
    return entry.track if hasattr(entry, "track") else entry
