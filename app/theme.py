"""Colours shared by every plot: pyqtgraph defaults, the Camelot wheel palette, and the tag palette.

Widgets follow the platform's light or dark scheme through Qt; the plots (drawn by pyqtgraph) are told
the same scheme here, so a dark desktop does not get white plots.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication

PLOT_BACKGROUND = "#ffffff"
PLOT_FOREGROUND = "#333333"
DARK_PLOT_BACKGROUND = "#1e1f22"
DARK_PLOT_FOREGROUND = "#d4d7dc"
DARK_WINDOW_LIGHTNESS = 128  # a window colour darker than this (0-255) means a dark scheme
ACCENT = QColor("#2f6fdf")
MUTED = QColor("#9aa3ad")
HIGHLIGHT = QColor("#e8412c")
NEIGHBOUR = QColor("#ff9f1c")
UNKNOWN_COLOUR = QColor("#c8ccd2")
DOUBTFUL_TEXT = QColor("#8a929b")  # a value the model itself doubts (a low-confidence key): readable, but dimmed
# Tableau-10-like categories: distinguishable and calm on a white background.
CATEGORY_COLOURS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)


def configure_pyqtgraph() -> None:
    """Light plots that match the widgets around them; called once before any plot is made (it imports
    pyqtgraph, which takes a while: start-up calls it after the first window is shown)."""
    import pyqtgraph as pg

    dark = platform_is_dark()
    pg.setConfigOptions(background=DARK_PLOT_BACKGROUND if dark else PLOT_BACKGROUND,
                        foreground=DARK_PLOT_FOREGROUND if dark else PLOT_FOREGROUND, antialias=True)


def platform_is_dark() -> bool:
    """Whether the desktop uses a dark scheme: Qt's colour scheme when the platform reports one, else the
    lightness of the window colour (a dark palette set by the user or the style)."""
    application = QGuiApplication.instance()
    if application is None:
        return False
    scheme = application.styleHints().colorScheme()
    if scheme != Qt.ColorScheme.Unknown:
        return scheme == Qt.ColorScheme.Dark
    return application.palette().window().color().lightness() < DARK_WINDOW_LIGHTNESS


def camelot_colour(camelot: str | None) -> QColor:
    """The colour DJ software uses around the Camelot wheel: hue by number, minor (A) deeper than major (B)."""
    if not camelot or not camelot[:-1].isdigit():
        return QColor(UNKNOWN_COLOUR)
    number, letter = int(camelot[:-1]), camelot[-1].upper()
    hue = ((number - 1) * 30) % 360
    return QColor.fromHsv(hue, 200 if letter == "A" else 120, 200 if letter == "A" else 235)


def category_colour(position: int) -> QColor:
    return QColor(CATEGORY_COLOURS[position % len(CATEGORY_COLOURS)])


def doubtful_brush() -> QBrush:
    """Text colour of values shown as guesses (a key below the confidence threshold)."""
    return QBrush(DOUBTFUL_TEXT)
