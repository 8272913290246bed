"""The library map: every analysed track as a dot placed by its embedding; near dots sound alike.

Colour by key (Camelot wheel colours) or by top tag; hovering names the track, clicking selects it,
and the selected track with its nearest neighbours (from the similarity search) stands out. The rings
and the star take clicks too (they lie on top of the dots), and the legend sits beside the plot, not on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from html import escape

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app import theme
from app.elided_label import ElidedLabel
from app.errors import show_error
from app.map_data import MapData, load_map_data
from app.tasks import TaskRunner

DOT_SIZE = 6
NEIGHBOUR_SIZE = 10
SELECTED_SIZE = 16
MAX_LEGEND_TAGS = 10
LEGEND_SWATCH = "■"
COLOUR_MODES = (QT_TRANSLATE_NOOP("MapView", "Key (Camelot)"), QT_TRANSLATE_NOOP("MapView", "Top tag"))  # English:
# the modes' names in the code and in the settings; the colour box shows them through tr()


def colour_keys(data: MapData, mode: str) -> list[str | None]:
    """The category of each point under ``mode``: its Camelot key or its top tag."""
    return data.camelot if mode == COLOUR_MODES[0] else data.top_tags


def category_colours(categories: list[str | None], mode: str) -> dict[str | None, QColor]:
    """One colour per category; tags beyond the most common few share the neutral colour."""
    if mode == COLOUR_MODES[0]:
        return {name: theme.camelot_colour(name) for name in set(categories)}
    counts: dict[str, int] = {}
    for name in categories:
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    common = sorted(counts, key=lambda name: -counts[name])[:MAX_LEGEND_TAGS]
    colours: dict[str | None, QColor] = {name: theme.category_colour(position) for position, name in enumerate(common)}
    for name in set(categories):
        colours.setdefault(name, QColor(theme.UNKNOWN_COLOUR))
    return colours


def camelot_sort_key(name: str | None) -> tuple[int, str]:
    if not name or not name[:-1].isdigit():
        return (99, "")
    return (int(name[:-1]), name[-1])


class MapView(QWidget):
    """Scatter of the projected embeddings; emits ``track_selected(track_id, title)`` on click."""

    track_selected = Signal(int, str)

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library = library
        self.data: MapData | None = None
        self._generation = 0
        self._highlighted: tuple[int | None, list[int]] = (None, [])
        self.colour_box = QComboBox()
        for mode in COLOUR_MODES:
            self.colour_box.addItem(self.tr(mode), mode)
        self.colour_box.setToolTip(self.tr("What the dots' colours mean"))
        self.refresh_button = QPushButton(self.tr("Recompute"))
        self.refresh_button.setToolTip(self.tr("Project the library again (after a scan or a model change)"))
        self.status = ElidedLabel(self.tr("The map appears here once the library has analysed tracks."))
        self.hover_label = ElidedLabel(self.tr("Hover over a dot to see the track; click it to select."))

        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setMenuEnabled(False)
        plot = self.plot_widget.getPlotItem()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.setAspectLocked(True)
        self.scatter = pg.ScatterPlotItem(size=DOT_SIZE, pen=pg.mkPen(None), hoverable=True, tip=None)
        self.neighbours = pg.ScatterPlotItem(size=NEIGHBOUR_SIZE, pen=pg.mkPen(theme.NEIGHBOUR, width=2.5),
                                             brush=pg.mkBrush(None))  # a ring: the dot's own colour stays visible
        self.selected = pg.ScatterPlotItem(size=SELECTED_SIZE, symbol="star", pen=pg.mkPen("#222222", width=1),
                                           brush=pg.mkBrush(theme.HIGHLIGHT))
        for item in (self.scatter, self.neighbours, self.selected):
            plot.addItem(item)
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setToolTip(self.tr("What the colours mean"))

        controls = QHBoxLayout()
        controls.addWidget(QLabel(self.tr("Colour by:")))
        controls.addWidget(self.colour_box)
        controls.addWidget(self.refresh_button)
        controls.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.hover_label)

        self.colour_box.currentIndexChanged.connect(lambda _: self._draw())
        self.refresh_button.clicked.connect(self.refresh)
        self.scatter.sigHovered.connect(self._on_hovered)
        for item in (self.scatter, self.neighbours, self.selected):  # a ring or the star lies over its dot
            item.sigClicked.connect(self._on_clicked)

    def colour_mode(self) -> str:
        """The colouring chosen, as one of COLOUR_MODES (English in every language: it is kept in the settings)."""
        return str(self.colour_box.currentData())

    def set_colour_mode(self, mode: str) -> None:
        """Colour by ``mode`` (one of COLOUR_MODES); anything else leaves the choice as it is."""
        position = self.colour_box.findData(mode)
        if position >= 0:
            self.colour_box.setCurrentIndex(position)

    # ---- data -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the projection in a worker; the current picture stays until the new one is ready."""
        self._generation += 1
        generation, library = self._generation, self.library
        self.status.setText(self.tr("Projecting the library…"))
        self.refresh_button.setEnabled(False)
        self.tasks.run(
            lambda: load_map_data(library),
            lambda data: self._on_loaded(generation, data),
            lambda message: self._on_failed(generation, message),
            kind="background",
        )

    def _on_loaded(self, generation: int, data: MapData) -> None:
        if generation != self._generation:
            return
        self.refresh_button.setEnabled(True)
        self.data = data
        if len(data) == 0:
            self.status.setText(self.tr("No analysed tracks yet: add a folder and let the scan finish."))
        elif len(data) == 1:
            self.status.setText(self.tr("1 track · nearby dots sound alike (PCA of the embeddings)"))
        else:
            self.status.setText(self.tr("{count:,} tracks · nearby dots sound alike (PCA of the embeddings)").format(
                count=len(data)))
        self._draw()
        self.highlight(*self._highlighted)
        self.plot_widget.getPlotItem().autoRange()

    def _on_failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.refresh_button.setEnabled(True)
            self.status.setText(self.tr("The map could not be computed."))
            show_error(self, self.tr("Map"), message)

    # ---- drawing --------------------------------------------------------------------------
    def _draw(self) -> None:
        self.legend.setText("")
        if self.data is None or len(self.data) == 0:
            self.scatter.setData([], [])
            return
        mode = self.colour_mode()
        categories = colour_keys(self.data, mode)
        colours = category_colours(categories, mode)
        brushes = {name: QBrush(colour) for name, colour in colours.items()}  # shared brushes draw fast
        self.scatter.setData(
            x=self.data.points[:, 0], y=self.data.points[:, 1],
            brush=[brushes[name] for name in categories], data=self.data.track_ids,
        )
        self._fill_legend(colours, mode)

    def _fill_legend(self, colours: dict[str | None, QColor], mode: str) -> None:
        names = [name for name in colours if name is not None]
        if mode == COLOUR_MODES[0]:
            names.sort(key=camelot_sort_key)
        else:
            names = [name for name in names if colours[name] != QColor(theme.UNKNOWN_COLOUR)]
            names.sort()
        self.legend.setText("&nbsp;&nbsp; ".join(
            f"<span style='color:{colours[name].name()}'>{LEGEND_SWATCH}</span>&nbsp;{escape(name)}" for name in names))

    def legend_entries(self) -> int:
        return self.legend.text().count(LEGEND_SWATCH)

    def highlight(self, selected_id: int | None, neighbour_ids: list[int]) -> None:
        """Mark the selected track (star) and its neighbours (ringed dots)."""
        self._highlighted = (selected_id, list(neighbour_ids))
        if self.data is None or len(self.data) == 0:
            return
        positions = [self.data.position_of(track_id) for track_id in neighbour_ids]
        kept = [p for p in positions if p is not None]
        neighbour_points = self.data.points[kept]
        self.neighbours.setData(x=neighbour_points[:, 0], y=neighbour_points[:, 1], data=self.data.track_ids[kept])
        position = self.data.position_of(selected_id) if selected_id is not None else None
        if position is None:
            self.selected.setData([], [])
        else:
            self.selected.setData(x=[self.data.points[position, 0]], y=[self.data.points[position, 1]],
                                  data=[int(self.data.track_ids[position])])

    def highlighted_counts(self) -> tuple[int, int]:
        """(selected, neighbours) currently drawn; what a test can check."""
        return len(self.selected.data), len(self.neighbours.data)

    # ---- interaction ----------------------------------------------------------------------
    def _on_hovered(self, _item: Any, points: np.ndarray, _event: Any) -> None:
        if self.data is None or len(points) == 0:
            return
        position = self.data.position_of(int(points[0].data()))
        if position is not None:
            self.hover_label.setText(self.data.labels[position])

    def _on_clicked(self, _item: Any, points: np.ndarray, _event: Any) -> None:
        if len(points):
            self.choose(int(points[0].data()))

    def choose(self, track_id: int) -> None:
        """A dot chosen: select its track (named by its title, so the similar list is titled by it)."""
        position = self.data.position_of(track_id) if self.data is not None else None
        self.track_selected.emit(track_id, self.data.titles[position] if position is not None else "")
