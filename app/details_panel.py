"""Everything about one track: metadata, key in three notations with confidence, tag chart, waveform."""

from __future__ import annotations

from html import escape
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app import theme, track_format
from app.tasks import run_task
from app.track_details import TrackDetails, file_details, track_details
from app.waveform import waveform_overview

TAGS_SHOWN = 10
WAVEFORM_HEIGHT = 56
TAG_CHART_MINIMUM_HEIGHT = 110
TAG_BAR_HEIGHT = 0.7


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
        self.getPlotItem().getAxis("bottom").setLabel("probability")
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
    """A filled min/max outline of the whole track; no axes, it is an overview."""

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
        for item in (self.low_curve, self.high_curve, self.fill):
            plot.addItem(item)
        plot.setYRange(-1, 1, padding=0.05)

    def show_envelope(self, lows: np.ndarray, highs: np.ndarray) -> None:
        columns = np.arange(lows.size, dtype=float)
        self.low_curve.setData(columns, lows)
        self.high_curve.setData(columns, highs)
        peak = float(max(np.abs(lows).max(initial=0.0), np.abs(highs).max(initial=0.0), 1e-3))
        self.getPlotItem().setYRange(-peak, peak, padding=0.05)

    def clear_envelope(self) -> None:
        self.show_envelope(np.zeros(0), np.zeros(0))


class DetailsPanel(QWidget):
    """Shows the track chosen anywhere in the app; ``play_requested(path)`` asks the player to play it."""

    play_requested = Signal(object)  # a path str; object keeps non-UTF-8 names (surrogate escapes) intact

    def __init__(self, library: Any, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self.details: TrackDetails | None = None
        self._generation = 0
        self.heading = QLabel("Select a track to see its details.")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.play_button = QPushButton("Play")
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self._play)
        heading_row = QHBoxLayout()
        heading_row.addWidget(self.heading, 1)
        heading_row.addWidget(self.play_button, 0, Qt.AlignmentFlag.AlignTop)

        self.key_label = QLabel("")
        self.key_label.setTextFormat(Qt.TextFormat.RichText)
        self.key_label.setWordWrap(True)
        self.heading.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.fields: dict[str, QLabel] = {}
        self.form = form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name in ("Album", "Genre", "Year", "Time", "BPM", "File"):
            label = QLabel("")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long paths must not widen the dock
            self.fields[name] = label
            form.addRow(f"{name}:", label)
        self.waveform = WaveformView()
        self.tag_chart = TagChart()
        self.waveform_title = QLabel("Waveform")
        self.tags_title = QLabel("Tags")

        layout = QVBoxLayout(self)
        layout.addLayout(heading_row)
        layout.addWidget(self.key_label)
        layout.addLayout(form)
        layout.addWidget(self.waveform_title)
        layout.addWidget(self.waveform)
        layout.addWidget(self.tags_title)
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
        run_task(
            lambda: track_details(library, track_id),
            lambda details: self._show(generation, details),
            lambda message: self._show_failure(generation, message),
        )

    def show_file(self, path: Path | str) -> None:
        """A file from outside the library (dropped on the window): analysed by the engine, not stored."""
        self._generation += 1
        generation, library = self._generation, self.library
        self.heading.setText(f"Analysing <b>{escape(Path(path).name)}</b>…")
        run_task(
            lambda: file_details(library, path),
            lambda details: self._show(generation, details),
            lambda message: self._show_failure(generation, message),
            kind="background",
        )

    def _show(self, generation: int, details: TrackDetails) -> None:
        if generation != self._generation:
            return
        self.details = details
        title = track_format.title_or_file_name(details.title, details.path)
        artist = details.artist or ("Not in the library" if details.track_id is None else "Unknown artist")
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
        self.tags_title.setVisible(bool(tags))
        self.tag_chart.setVisible(bool(tags))  # a file the model has not tagged has no chart to show
        self.play_button.setEnabled(True)
        self.waveform.clear_envelope()
        path = details.path
        run_task(
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
            self.heading.setText(escape(f"Cannot show this track: {message}"))

    def _play(self) -> None:
        if self.details is not None:
            self.play_requested.emit(self.details.path)


def key_summary_html(key: Any) -> str:
    """``A minor · Camelot 8A · Open Key 1m · 82% confidence``; says so when there is no key."""
    if key is None:
        return "<i>No key: the track is not analysed yet and has no key tag</i>"
    parts = [f"<b style='font-size:13pt'>{escape(key.name)}</b>",
             f"Camelot <b>{escape(key.camelot)}</b>", f"Open Key <b>{escape(key.open_key)}</b>"]
    if key.confidence is not None:
        parts.append(f"{key.confidence:.0%} confidence")
    elif key.source == "tag":
        parts.append("from the file's key tag")
    return " · ".join(parts)

