"""Tracks that sound like a seed (a library track or a dropped file), a radio playlist, and M3U8 export.

Every query runs in a worker, and the window stays responsive meanwhile. A dropped file is decoded and embedded
once, by the main window's task for every panel (``track_details.analyse_dropped_file``); the list searches
with that resolved query, again on every filter change, without decoding the file again.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QModelIndex, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app import track_format
from app.errors import show_error
from app.library_model import TRACK_ID_ROLE
from app.library_view import ROW_HEIGHT
from app.save_target import save_target
from app.tasks import TaskRunner
from app.track_list_model import ARTIST_COLUMN, TITLE_COLUMN, TrackListModel
from engine.search import ResolvedQuery

SIMILAR_COUNT = 25
RADIO_LENGTH = 30
ARTIST_COLUMN_WIDTH = 90  # px
# The tempo filter's choices: (label, shown through tr(); percent or None). ±6 % is a DJ's pitch fader at its usual
# range.
BPM_RANGES = ((QT_TRANSLATE_NOOP("SimilarityPanel", "Any tempo"), None),
              (QT_TRANSLATE_NOOP("SimilarityPanel", "BPM ±2 %"), 2.0), (QT_TRANSLATE_NOOP("SimilarityPanel", "BPM ±4 %"), 4.0),
              (QT_TRANSLATE_NOOP("SimilarityPanel", "BPM ±6 %"), 6.0), (QT_TRANSLATE_NOOP("SimilarityPanel", "BPM ±10 %"), 10.0))
# Cosine similarity below zero means "less alike than two unrelated tracks": never offered as "similar",
# not even when it is all the harmonic filter leaves.
MIN_SIMILAR_SCORE = 0.0


def similar_enough(entries: list[Any]) -> list[Any]:
    """The results worth listing: same recordings and tracks with a score of at least MIN_SIMILAR_SCORE."""
    return [entry for entry in entries
            if getattr(entry, "same_recording", False) or getattr(entry, "score", MIN_SIMILAR_SCORE) >= MIN_SIMILAR_SCORE]


@dataclass(frozen=True)
class Seed:
    """What the list is about: a library track (``track_id``) or a file from outside (``path``), which the engine
    resolves once (``resolved``: its analysis and landmarks) for every search from it."""

    label: str
    track_id: int | None = None
    path: str | None = None
    resolved: ResolvedQuery | None = None

    @property
    def query(self) -> int | str | ResolvedQuery:
        if self.resolved is not None:
            return self.resolved
        return self.track_id if self.track_id is not None else str(self.path)

    @property
    def waiting(self) -> bool:
        """A file whose analysis has not arrived yet: nothing to search with."""
        return self.path is not None and self.resolved is None


class SimilarityPanel(QWidget):
    """Shows similar tracks or a radio playlist; emits what the map and the player need."""

    track_activated = Signal(int)  # a result was clicked: show it
    play_requested = Signal(object, str)  # a path str (object keeps non-UTF-8 names intact) and its title
    results_shown = Signal(object, list)  # seed track id (or None), result track ids
    # After a file's search: its path and the library track that is the same recording (id, title), or (None, "").
    file_recording_checked = Signal(object, object, str)
    crate_requested = Signal(list, str)  # the listed track ids and the list's heading, to keep as a crate

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library = library
        self.seed: Seed | None = None
        self.mode = "similar"  # or "radio"
        self._generation = 0
        self._unsaved_heading: str | None = None  # the heading before a "saved to" note was added
        self.heading = QLabel(self.tr("Select a track, or drop an audio file on the window, to find tracks that sound "
                                      "like it."))
        self.heading.setWordWrap(True)
        self.harmonic_box = QCheckBox(self.tr("Harmonic only"))
        self.harmonic_box.setToolTip(self.tr("Keep only tracks whose keys mix well (same Camelot number, ±1, or "
                                             "relative key)"))
        self.bpm_range_box = QComboBox()
        for label, percent in BPM_RANGES:
            self.bpm_range_box.addItem(self.tr(label), percent)
        self.bpm_range_box.setToolTip(self.tr("Keep only tracks whose tempo is within this range of the seed's "
                                              "(half and double tempo count); the radio keeps to it too"))
        self.radio_button = QPushButton(self.tr("Radio"))
        self.radio_button.setToolTip(self.tr("A playlist that walks from this track through its neighbours"))
        self.save_button = QPushButton(self.tr("Save M3U8…"))
        self.save_button.setToolTip(self.tr("Save this list as an M3U8 playlist (Ctrl+S)"))
        self.crate_button = QPushButton(self.tr("Add to crate…"))
        self.crate_button.setToolTip(self.tr("Keep this list (similar tracks or radio) in a crate, to export for DJ "
                                             "software"))
        self.model = TrackListModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TITLE_COLUMN, QHeaderView.ResizeMode.Stretch)
        # Artists are elided at a fixed width (the user can drag it), so one long name cannot push the scores out.
        header.setSectionResizeMode(ARTIST_COLUMN, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(ARTIST_COLUMN, ARTIST_COLUMN_WIDTH)

        # Filters and actions on two rows: one row would make the panel wider than a laptop's side dock.
        controls = QHBoxLayout()
        controls.addWidget(self.harmonic_box)
        controls.addWidget(self.bpm_range_box)
        controls.addStretch(1)
        actions = QHBoxLayout()
        actions.addWidget(self.radio_button)
        actions.addWidget(self.save_button)
        actions.addWidget(self.crate_button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(controls)
        layout.addLayout(actions)
        layout.addWidget(self.table, 1)

        self.harmonic_box.toggled.connect(self._rerun)
        self.bpm_range_box.currentIndexChanged.connect(self._rerun)
        self.radio_button.clicked.connect(self.make_radio)
        self.save_button.clicked.connect(self.choose_playlist_file)
        self.crate_button.clicked.connect(self.request_crate)
        self.table.clicked.connect(self._on_clicked)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self._update_buttons()

    # ---- queries --------------------------------------------------------------------------
    def query_track(self, track_id: int, label: str) -> None:
        self.seed, self.mode = Seed(label=label, track_id=track_id), "similar"
        self._run_similar()

    def query_file(self, path: Path | str) -> tuple[Callable[[ResolvedQuery], None], Callable[[str], None]]:
        """A file from outside the library, analysed once for every panel by the main window
        (``track_details.analyse_dropped_file``): says so, and returns what to call with the resolved query (the
        search starts then, and every filter change searches with it again) or with why it failed. Both are
        ignored once the list is about another seed."""
        seed = Seed(label=track_format.file_name(path), path=str(path))
        self.seed, self.mode = seed, "similar"
        self._generation += 1  # a search still running for the last seed is not shown
        self._set_heading(self.tr("Analysing {seed}…").format(seed=seed.label))
        self._update_buttons()

        def resolved(query: ResolvedQuery) -> None:
            if self.seed is seed:
                self.seed = replace(seed, resolved=query)
                if self.mode == "similar":  # else a radio walk from the file is on its way
                    self._run_similar()

        def failed(message: str) -> None:
            if self.seed is seed and self.mode == "similar":
                self.seed = None  # a file that cannot be analysed is nothing to search from (Radio, filters)
                self._fail(self._generation, message)

        return resolved, failed

    def make_radio(self) -> None:
        if self.seed is None:
            return
        self.mode = "radio"
        self._generation += 1
        generation, library, seed = self._generation, self.library, self.seed
        bpm_range = self.bpm_range_box.currentData()
        self._set_heading(self.tr("Building a radio playlist from {seed}…").format(seed=seed.label))
        self.tasks.run(
            lambda: library.playlist(seed.query, RADIO_LENGTH, bpm_range=bpm_range),
            lambda tracks: self._show(generation, tracks, self.tr("Radio from {seed}").format(seed=seed.label)),
            lambda message: self._fail(generation, message),
            kind="background",
        )

    def refresh(self) -> None:
        """The library changed: the similar list is searched again (a radio walk stays as it was made)."""
        self._rerun()

    def _rerun(self) -> None:
        if self.seed is not None and self.mode == "similar" and not self.seed.waiting:  # else: when it arrives
            self._run_similar()

    def _run_similar(self) -> None:
        self._generation += 1
        generation, library, seed = self._generation, self.library, self.seed
        harmonic = self.harmonic_box.isChecked()
        bpm_range = self.bpm_range_box.currentData()
        self._set_heading(self.tr("Searching for tracks like {seed}…").format(seed=seed.label))
        self._update_buttons()

        def search() -> list[Any]:
            return similar_enough(list(library.similar(seed.query, k=SIMILAR_COUNT, harmonic=harmonic,
                                                                bpm_range=bpm_range)))

        heading = (self.tr("Harmonic matches for {seed}") if harmonic else self.tr("Sounds like {seed}")).format(
            seed=seed.label)
        self.tasks.run(
            search,
            lambda results: self._show(generation, results, heading),
            lambda message: self._fail(generation, message),
            kind="background",
        )

    def _show(self, generation: int, entries: list[Any], heading: str) -> None:
        if generation != self._generation:
            return
        self.model.set_entries(entries)
        count = len(entries)
        self._set_heading((self.tr("<b>{heading}</b> — 1 track") if count == 1 else
                           self.tr("<b>{heading}</b> — {count} tracks")).format(heading=escape(heading), count=count))
        self._update_buttons()
        self.results_shown.emit(self.seed.track_id if self.seed else None, self.result_ids())
        if self.seed is not None and self.seed.path is not None and self.mode == "similar":
            same = next((track for track, same in zip(self.model.tracks, self.model.same_recordings) if same), None)
            self.file_recording_checked.emit(
                self.seed.path, None if same is None else same.id,
                "" if same is None else track_format.title_or_file_name(same.title, same.path))

    def _fail(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.clear(self.tr("No results."))
        show_error(self, self.tr("Similar tracks"), message)

    def clear(self, heading: str) -> None:
        """An empty list under ``heading``: the results of an earlier seed must not stay under a heading that is
        about another one (or be saved, or kept in a crate, as its list)."""
        self._generation += 1  # a search still running is not shown
        self.model.set_entries([])
        self._set_heading(heading)
        self._update_buttons()
        self.results_shown.emit(self.seed.track_id if self.seed else None, [])

    def forget_track(self, track_id: int, heading: str) -> None:
        """The library track the list is about has left the library: nothing to search from any more."""
        if self.seed is not None and self.seed.track_id == track_id:
            self.seed = None
            self.clear(heading)

    # ---- playlist export ------------------------------------------------------------------
    def choose_playlist_file(self) -> None:
        if not self.model.tracks:
            return
        suggested = str(Path.home() / f"{_safe_file_name(self.seed.label if self.seed else 'playlist')}.m3u8")
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Save playlist"), suggested, self.tr("M3U8 playlists (*.m3u8)"))
        target = save_target(self, path, ".m3u8", self.tr("Save playlist")) if path else None
        if target is not None:
            self.save_playlist(target)

    def save_playlist(self, path: Path) -> None:
        """Write the list to ``path`` (replacing a file there: the save dialog, or ``save_target``, asked)."""
        tracks, library = list(self.model.tracks), self.library
        self.tasks.run(
            lambda: library.write_m3u8(tracks, path, overwrite=True),
            lambda _: self._show_saved(path),
            lambda message: show_error(self, self.tr("Save playlist"), message),
        )

    def _set_heading(self, text: str) -> None:
        self._unsaved_heading = None
        self.heading.setText(text)

    def _show_saved(self, path: Path) -> None:
        """The heading with where the list was saved last (one note, however often it is saved)."""
        if self._unsaved_heading is None:
            self._unsaved_heading = self.heading.text()
        self.heading.setText(self.tr("{heading} — saved to {name}").format(
            heading=self._unsaved_heading, name=escape(track_format.file_name(path))))

    # ---- interaction ----------------------------------------------------------------------
    def _on_clicked(self, index: QModelIndex) -> None:
        self.track_activated.emit(int(index.data(TRACK_ID_ROLE)))

    def _on_double_clicked(self, index: QModelIndex) -> None:
        track = self.model.tracks[index.row()]
        self.play_requested.emit(str(track.path), track_format.title_or_file_name(track.title, track.path))

    def request_crate(self) -> None:
        """The list as shown goes to a crate, its seed track first (a radio walk starts with it already)."""
        if self.model.tracks:
            label = self.seed.label if self.seed is not None else ""
            seed_first = [self.seed.track_id] if self.mode == "similar" and self.seed and self.seed.track_id else []
            name = self.tr("Radio {seed}") if self.mode == "radio" else self.tr("Like {seed}")
            self.crate_requested.emit(seed_first + self.result_ids(), name.format(seed=label).strip())

    def _update_buttons(self) -> None:
        self.save_button.setEnabled(bool(self.model.tracks))
        self.crate_button.setEnabled(bool(self.model.tracks))
        self.radio_button.setEnabled(self.seed is not None)
        self.harmonic_box.setEnabled(self.mode == "similar")  # a radio walk goes by sound only

    def result_ids(self) -> list[int]:
        return [track.id for track in self.model.tracks]


def _safe_file_name(text: str) -> str:
    kept = "".join(char if char.isalnum() or char in " -_" else "_" for char in Path(text).stem or text)
    return kept.strip() or "playlist"


