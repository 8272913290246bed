"""The library table's tempo filter: "BPM from … to …", two spin boxes beside the search box.

DJs pick the next track within a few BPM of the one playing, so the table can be narrowed to a range of the
estimated tempo (the value the BPM column shows). Either end may be left at "any"; with both at "any" nothing
is filtered. The range is sent after a short pause in typing, like the search text, so each keystroke in a spin
box does not re-query the engine.
"""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QTimer, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

ANY_BPM = 0.0  # a spin box at its minimum shows "any": that end of the range is open
HIGHEST_BPM = 300.0  # the spin boxes' top; also the open upper end of a range given only its lower end
BPM_STEP = 1.0
SHOWN_PRECISION = 0.1  # the BPM column shows tenths (``track_format.bpm_text``)
FILTER_DELAY_MS = 200  # as the search box: wait for a pause in typing


def bpm_range_of(low: float, high: float) -> tuple[float, float] | None:
    """The range two spin-box values ask for: None when both are "any"; an open end becomes 0 or
    ``HIGHEST_BPM``; ends given the wrong way round are swapped. Each end takes in what the BPM column shows as
    that value (it shows tenths): "48.4 to 48.4" keeps the 48.43 shown as 48.4."""
    if low <= ANY_BPM and high <= ANY_BPM:
        return None
    low = max(low, ANY_BPM)
    high = high if high > ANY_BPM else HIGHEST_BPM
    low, high = (low, high) if low <= high else (high, low)
    return max(ANY_BPM, low - SHOWN_PRECISION / 2), high + SHOWN_PRECISION / 2


class BpmRangeFilter(QWidget):
    """Emits ``range_changed`` with (low, high) BPM, or None for every tempo."""

    range_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low_box = self._spin_box(QT_TRANSLATE_NOOP("BpmRangeFilter", "lowest tempo shown (any: no lower limit)"))
        self.high_box = self._spin_box(QT_TRANSLATE_NOOP("BpmRangeFilter", "highest tempo shown (any: no upper limit)"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(self.tr("BPM")))
        layout.addWidget(self.low_box)
        layout.addWidget(QLabel(self.tr("to")))
        layout.addWidget(self.high_box)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FILTER_DELAY_MS)
        self._timer.timeout.connect(lambda: self.range_changed.emit(self.bpm_range()))
        for box in (self.low_box, self.high_box):
            box.valueChanged.connect(lambda _value: self._timer.start())

    def bpm_range(self) -> tuple[float, float] | None:
        return bpm_range_of(self.low_box.value(), self.high_box.value())

    def clear(self) -> None:
        """Both ends back to "any"."""
        self.low_box.setValue(ANY_BPM)
        self.high_box.setValue(ANY_BPM)

    def _spin_box(self, tip: str) -> QDoubleSpinBox:
        """A spin box whose minimum reads "any"; ``tip`` (English, marked for translation) is its tooltip."""
        tip = self.tr(tip)
        box = QDoubleSpinBox()
        box.setRange(ANY_BPM, HIGHEST_BPM)
        box.setDecimals(1)
        box.setSingleStep(BPM_STEP)
        box.setSpecialValueText(self.tr("any"))
        box.setToolTip(tip)
        box.setAccessibleName(tip)
        return box
