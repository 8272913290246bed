"""Everything about one track: metadata, key in three notations with confidence, tag chart, waveform."""

from __future__ import annotations

from html import escape
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app import theme, track_format
from app.tasks import TaskRunner
from app.track_details import TrackDetails, track_details
from app.waveform import waveform_overview

TAGS_SHOWN = 10
WAVEFORM_HEIGHT = 56
TAG_CHART_MINIMUM_HEIGHT = 110
TAG_BAR_HEIGHT = 0.7
LOOKING_IN_LIBRARY_TEXT = QT_TRANSLATE_NOOP("DetailsPanel", "Looking for this recording in your library…")
NOT_IN_LIBRARY_TEXT = QT_TRANSLATE_NOOP("DetailsPanel", "Not in your library: no track there is this recording.")
# The metadata rows, by their English names (the code's keys); their labels are shown through tr().
FIELD_NAMES = (QT_TRANSLATE_NOOP("DetailsPanel", "Album"), QT_TRANSLATE_NOOP("DetailsPanel", "Genre"),
               QT_TRANSLATE_NOOP("DetailsPanel", "Year"), QT_TRANSLATE_NOOP("DetailsPanel", "Time"),
               QT_TRANSLATE_NOOP("DetailsPanel", "BPM"), QT_TRANSLATE_NOOP("DetailsPanel", "File"))


def sorted_tags(tags: Mapping[str, float] | None, limit: int = TAGS_SHOWN) -> list[tuple[str, float]]:
    """The ``limit`` most probable tags, most probable first."""
    if not tags:
        return []
    return sorted(((name, float(p)) for name, p in tags.items()), key=lambda item: -item[1])[:limit]


class TagChart(pg.PlotWidget):
    """Horizontal bars of tag probabilities (0–1), the most probable tag on top."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.getPlotItem().setXRange(0, 1, padding=0.02)
        self.getPlotItem().getAxis("bottom").setLabel(self.tr("probability"))
        self.bars: pg.BarGraphItem | None = None
        self.setMinimumHeight(TAG_CHART_MINIMUM_HEIGHT)

    def show_tags(self, tags: list[tuple[str, float]]) -> None:
        plot = self.getPlotItem()
        if self.bars is not None:
            plot.removeItem(self.bars)
            self.bars = None
        positions = np.arange(len(tags))[::-1].astype(float)  # first tag at the top
        plot.getAxis("left").setTicks([[(float(y), name) for y, (name, _) in zip(positions, tags)]])
        if tags:
            widths = np.array([p for _, p in tags])
            self.bars = pg.BarGraphItem(
                x0=0, y=positions, width=widths, height=TAG_BAR_HEIGHT, brush=theme.ACCENT, pen=pg.mkPen(None)
            )
            plot.addItem(self.bars)
            plot.setYRange(-0.5, len(tags) - 0.5, padding=0.02)
        plot.setXRange(0, 1, padding=0.02)

    def values(self) -> list[float]:
        return [] if self.bars is None else [float(w) for w in self.bars.opts["width"]]


class WaveformView(pg.PlotWidget):
    """A filled min/max outline of the whole track; no axes, it is an overview. A click asks to play from
    there (``seek_requested(fraction)``); a playhead shows where playback is."""

    seek_requested = Signal(float)  # 0-1 of the track's length

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        plot = self.getPlotItem()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        self.setFixedHeight(WAVEFORM_HEIGHT)
        self.low_curve = pg.PlotDataItem(pen=pg.mkPen(theme.ACCENT, width=1))
        self.high_curve = pg.PlotDataItem(pen=pg.mkPen(theme.ACCENT, width=1))
        self.fill = pg.FillBetweenItem(self.low_curve, self.high_curve, brush=pg.mkBrush(theme.ACCENT))
        self.playhead = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(theme.HIGHLIGHT, width=2))
        self.playhead.setVisible(False)
        for item in (self.low_curve, self.high_curve, self.fill, self.playhead):
            plot.addItem(item)
        plot.setYRange(-1, 1, padding=0.05)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(self.tr("Click to play from there"))

    def columns(self) -> int:
        return 0 if self.low_curve.xData is None else len(self.low_curve.xData)

    def fraction_at(self, x_pixels: float) -> float | None:
        """Where in the track (0-1) a click at ``x_pixels`` of this widget falls; None without an outline."""
        if self.columns() < 2:
            return None
        scene_point = self.mapToScene(int(x_pixels), self.height() // 2)
        column = self.getPlotItem().getViewBox().mapSceneToView(scene_point).x()
        return min(1.0, max(0.0, column / (self.columns() - 1)))

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        fraction = self.fraction_at(event.position().x())
        if fraction is not None and event.button() == Qt.MouseButton.LeftButton:
            self.seek_requested.emit(fraction)
            event.accept()
            return
        super().mousePressEvent(event)

    def set_playhead(self, fraction: float | None) -> None:
        """Draw the playhead at ``fraction`` of the track, or hide it (None: this track is not playing)."""
        if fraction is None or self.columns() < 2:
            self.playhead.setVisible(False)
            return
        self.playhead.setValue(fraction * (self.columns() - 1))
        self.playhead.setVisible(True)

    def show_envelope(self, lows: np.ndarray, highs: np.ndarray) -> None:
        columns = np.arange(lows.size, dtype=float)
        self.low_curve.setData(columns, lows)
        self.high_curve.setData(columns, highs)
        peak = float(max(np.abs(lows).max(initial=0.0), np.abs(highs).max(initial=0.0), 1e-3))
        self.getPlotItem().setYRange(-peak, peak, padding=0.05)

    def clear_envelope(self) -> None:
        self.show_envelope(np.zeros(0), np.zeros(0))


class DetailsPanel(QWidget):
    """Shows the track chosen anywhere in the app; ``play_requested(path, title)`` asks the player to play it,
    ``seek_requested(path, title, fraction)`` to play it from a point; a dropped file offers ``add_requested(path)``
    and, when it is the same recording as a library track, ``select_requested(track_id)``."""

    play_requested = Signal(object, str)  # a path str (object keeps non-UTF-8 names intact) and its title
    seek_requested = Signal(object, str, float)
    select_requested = Signal(int)
    add_requested = Signal(object)

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library = library
        self.details: TrackDetails | None = None
        self._generation = 0
        self.heading = QLabel(self.tr("Select a track to see its details."))
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.play_button = QPushButton(self.tr("Play"))
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self._play)
        heading_row = QHBoxLayout()
        heading_row.addWidget(self.heading, 1)
        heading_row.addWidget(self.play_button, 0, Qt.AlignmentFlag.AlignTop)
        # A dropped file: the library track it is a recording of (found by the similar search), and adding it.
        self.same_recording_label = QLabel("")
        self.same_recording_label.setWordWrap(True)
        self.same_recording_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.select_same_button = QPushButton(self.tr("Select it"))
        self.select_same_button.setToolTip(self.tr("Select that track in the library"))
        self.select_same_button.setVisible(False)  # until the search finds the file's recording in the library
        self.add_button = QPushButton(self.tr("Add to library"))
        self.add_button.setToolTip(self.tr("Analyse this file and keep it in the library"))
        self._same_recording_id: int | None = None
        self._same_recording: tuple[str, int | None, str] | None = None  # (dropped path, track id, title) from the search
        outside_row = QHBoxLayout()
        outside_row.addWidget(self.same_recording_label, 1)
        outside_row.addWidget(self.select_same_button)
        outside_row.addWidget(self.add_button)
        self.outside_box = QWidget()
        self.outside_box.setLayout(outside_row)
        outside_row.setContentsMargins(0, 0, 0, 0)
        self.outside_box.setVisible(False)
        self.select_same_button.clicked.connect(
            lambda: self._same_recording_id is not None and self.select_requested.emit(self._same_recording_id))
        self.add_button.clicked.connect(lambda: self.details is not None and self.add_requested.emit(self.details.path))

        self.key_label = QLabel("")
        self.key_label.setTextFormat(Qt.TextFormat.RichText)
        self.key_label.setWordWrap(True)
        self.heading.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.fields: dict[str, QLabel] = {}
        self.form = form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name in FIELD_NAMES:
            label = QLabel("")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long paths must not widen the dock
            self.fields[name] = label
            form.addRow(self.tr("{field}:").format(field=self.tr(name)), label)
        self.waveform = WaveformView()
        self.tag_chart = TagChart()
        self.waveform_title = QLabel(self.tr("Waveform"))
        self.tags_title = QLabel(self.tr("Tags"))
        self.tags_note = QLabel("")
        self.tags_note.setWordWrap(True)
        self.tags_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.tags_note.setVisible(False)
        self.waveform.seek_requested.connect(self._seek)

        layout = QVBoxLayout(self)
        layout.addLayout(heading_row)
        layout.addWidget(self.outside_box)
        layout.addWidget(self.key_label)
        layout.addLayout(form)
        layout.addWidget(self.waveform_title)
        layout.addWidget(self.waveform)
        layout.addWidget(self.tags_title)
        layout.addWidget(self.tags_note)
        layout.addWidget(self.tag_chart, 1)
        layout.addStretch(0)
        self._show_sections(False)

    def _show_sections(self, visible: bool) -> None:
        """Before a track is chosen only the prompt shows: empty fields and charts would look broken."""
        for widget in (self.key_label, self.waveform_title, self.waveform, self.tags_title, self.tag_chart):
            widget.setVisible(visible)
        for label in self.fields.values():
            self.form.setRowVisible(label, visible and bool(label.text()))

    def show_track_id(self, track_id: int) -> None:
        """Fetch the row and every tag probability in a worker, then the waveform in another."""
        self._generation += 1
        generation, library = self._generation, self.library
        self.tasks.run(
            lambda: track_details(library, track_id),
            lambda details: self._show(generation, details),
            lambda message: self._show_failure(generation, message),
        )

    def show_file(self, path: Path | str) -> tuple[Callable[[TrackDetails], None], Callable[[str], None]]:
        """A file from outside the library (dropped on the window), analysed once for every panel by the main
        window (``track_details.analyse_dropped_file``): says so, and returns what to call with its details or
        with why it failed (ignored once another track is shown)."""
        self._generation += 1
        generation = self._generation
        self.heading.setText(self.tr("Analysing <b>{name}</b>…").format(name=escape(track_format.file_name(path))))
        return (lambda details: self._show(generation, details),
                lambda message: self._show_failure(generation, message))

    def _show(self, generation: int, details: TrackDetails) -> None:
        if generation != self._generation:
            return
        self.details = details
        title = track_format.title_or_file_name(details.title, details.path)
        artist = details.artist or (self.tr("Dropped file") if details.track_id is None else self.tr("Unknown artist"))
        self.heading.setText(f"<b style='font-size:14pt'>{escape(title)}</b><br>{escape(artist)}")
        self.key_label.setText(key_summary_html(details.key))
        self.fields["Album"].setText(details.album or "")
        self.fields["Genre"].setText(details.genre or "")
        self.fields["Year"].setText(str(details.year) if details.year else "")
        self.fields["Time"].setText(track_format.duration_text(details.duration))
        self.fields["BPM"].setText(track_format.bpm_text(details.bpm))
        self.fields["File"].setText(details.display_path)
        tags = sorted_tags(details.tags)
        self.tag_chart.show_tags(tags)
        self._show_sections(True)
        self.tags_title.setVisible(bool(tags) or bool(details.tags_note))
        self.tag_chart.setVisible(bool(tags))  # a file the model has not tagged has no chart to show
        self.tags_note.setText(details.tags_note)
        self.tags_note.setVisible(bool(details.tags_note))
        self._same_recording_id = None
        self.same_recording_label.setText(self.tr(LOOKING_IN_LIBRARY_TEXT) if details.track_id is None else "")
        self.select_same_button.setVisible(False)
        self.outside_box.setVisible(details.track_id is None)
        self._apply_same_recording()
        self.play_button.setEnabled(True)
        self.waveform.clear_envelope()
        if details.envelope is not None:  # the dropped file's analysis decoded all of it
            self.waveform.show_envelope(*details.envelope)
            return
        path = details.path
        self.tasks.run(
            lambda: waveform_overview(path),
            lambda envelope: self._show_waveform(generation, envelope),
            lambda message: None if generation != self._generation else self.waveform.clear_envelope(),
            kind="background",
        )

    def _show_waveform(self, generation: int, envelope: tuple[np.ndarray, np.ndarray]) -> None:
        if generation == self._generation:
            self.waveform.show_envelope(*envelope)

    def _show_failure(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.clear(escape(self.tr("Cannot show this track: {reason}").format(reason=message)))

    def clear(self, heading_html: str) -> None:
        """Show nothing but ``heading_html``: no track's fields, waveform or tags, and Play and "Add to library" off,
        so that nothing acts on a track that is no longer the one named (a file that failed, a track gone)."""
        self._generation += 1  # a late answer for the track before is not shown
        self.details = None
        self.heading.setText(heading_html)
        for label in self.fields.values():
            label.setText("")
        self.key_label.setText("")
        self.tag_chart.show_tags([])
        self.waveform.clear_envelope()
        self.play_button.setEnabled(False)
        self._same_recording_id, self._same_recording = None, None
        self.outside_box.setVisible(False)
        self.tags_note.setVisible(False)
        self._show_sections(False)

    def _play(self) -> None:
        if self.details is not None:
            self.play_requested.emit(self.details.path, self.title())

    def _seek(self, fraction: float) -> None:
        if self.details is not None:
            self.seek_requested.emit(self.details.path, self.title(), fraction)

    def title(self) -> str:
        """The shown track's title (its file name when it has none)."""
        return track_format.title_or_file_name(self.details.title, self.details.path) if self.details else ""

    def shown_track_id(self) -> int | None:
        """The library track shown (None: nothing, or a file from outside the library)."""
        return self.details.track_id if self.details is not None else None

    def show_same_recording(self, path: str, track_id: int | None, title: str) -> None:
        """The dropped file ``path`` is a recording of library track ``track_id`` (None: of none): say so and offer
        to select it (now, or when the file's details arrive: the search and the analysis finish in either order)."""
        self._same_recording = (str(path), track_id, title)
        self._apply_same_recording()

    def _apply_same_recording(self) -> None:
        if self._same_recording is None or self.details is None or self.details.track_id is not None:
            return
        path, track_id, title = self._same_recording
        if self.details.path != path:
            return
        if track_id is None:
            self.same_recording_label.setText(self.tr(NOT_IN_LIBRARY_TEXT))
            return
        self._same_recording_id = track_id
        self.same_recording_label.setText(
            self.tr("Same recording as “{title}” in your library.").format(title=title))
        self.select_same_button.setVisible(True)

    def set_playhead(self, path: object, fraction: float) -> None:
        """The player's position: drawn on the waveform when the shown track is the one playing."""
        playing_this = self.details is not None and self.details.path == path
        self.waveform.set_playhead(fraction if playing_this else None)


def key_summary_html(key: Any) -> str:
    """``A minor · Camelot 8A · Open Key 1m · 82% confidence``; a doubtful key is dimmed and called a guess;
    says so when there is no key."""
    if key is None:
        return QCoreApplication.translate("DetailsPanel",
                                          "<i>No key: the track is not analysed yet and has no key tag</i>")
    parts = [f"<b style='font-size:13pt'>{escape(key.name)}</b>",
             QCoreApplication.translate("DetailsPanel", "Camelot <b>{key}</b>").format(key=escape(key.camelot)),
             QCoreApplication.translate("DetailsPanel", "Open Key <b>{key}</b>").format(key=escape(key.open_key))]
    confidence = track_format.key_confidence_text(key)
    if confidence:
        parts.append(escape(confidence))
    summary = " · ".join(parts)
    if track_format.key_is_doubtful(key):
        return f"<span style='color:{theme.DOUBTFUL_TEXT.name()}'>{summary}</span>"
    return summary
