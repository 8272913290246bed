"""Colours shared by every plot: pyqtgraph defaults, the Camelot wheel palette, and the tag palette."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor

PLOT_BACKGROUND = "#ffffff"
PLOT_FOREGROUND = "#333333"
ACCENT = QColor("#2f6fdf")
MUTED = QColor("#9aa3ad")
HIGHLIGHT = QColor("#e8412c")
NEIGHBOUR = QColor("#ff9f1c")
UNKNOWN_COLOUR = QColor("#c8ccd2")
# Tableau-10-like categories: distinguishable and calm on a white background.
CATEGORY_COLOURS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)


def configure_pyqtgraph() -> None:
    """Light plots that match the widgets around them; called once before any plot is made."""
    pg.setConfigOptions(background=PLOT_BACKGROUND, foreground=PLOT_FOREGROUND, antialias=True)


def camelot_colour(camelot: str | None) -> QColor:
    """The colour DJ software uses around the Camelot wheel: hue by number, minor (A) deeper than major (B)."""
    if not camelot or not camelot[:-1].isdigit():
        return QColor(UNKNOWN_COLOUR)
    number, letter = int(camelot[:-1]), camelot[-1].upper()
    hue = ((number - 1) * 30) % 360
    return QColor.fromHsv(hue, 200 if letter == "A" else 120, 200 if letter == "A" else 235)


def category_colour(position: int) -> QColor:
    return QColor(CATEGORY_COLOURS[position % len(CATEGORY_COLOURS)])
