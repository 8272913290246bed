"""A one-line label that shortens its text with "…" instead of widening the window.

A plain ``QLabel`` asks for its whole text's width as its minimum, so one long file name or status
line can push a 1280-pixel window off the screen. This one asks for ``minimum_characters`` only,
draws what fits, and shows the whole text as its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy

DEFAULT_MINIMUM_CHARACTERS = 12


class ElidedLabel(QLabel):
    """Plain text on one line, elided at ``elide_mode``; the full text stays available as ``text()``."""

    def __init__(self, text: str = "", parent=None, elide_mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
                 minimum_characters: int = DEFAULT_MINIMUM_CHARACTERS) -> None:
        super().__init__(parent)
        self.elide_mode = elide_mode
        self.minimum_characters = minimum_characters
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)  # shrinks to the minimum below
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip(text if text else "")

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        width = metrics.averageCharWidth() * self.minimum_characters + margins.left() + margins.right()
        return QSize(width, super().minimumSizeHint().height())

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        area = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), self.elide_mode, area.width())
        painter.drawText(area, int(self.alignment()), shown)
