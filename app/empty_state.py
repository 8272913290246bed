"""What a new user sees instead of an empty table: what the app does and the one thing to do first."""

from __future__ import annotations

import html

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

INTRO_HTML = QT_TRANSLATE_NOOP("EmptyState", """
<h2>Your music library is empty</h2>
<p>Add a folder of music. Every track gets scanned and analysed on this computer:
its <b>key</b> (with Camelot and Open Key), its <b>tags</b>, and a fingerprint of how it
<b>sounds</b>.</p>
<p>Then select any track to see the tracks that sound like it, or drag an audio file from
your file manager onto this window.</p>
""")  # shown through tr(), like the texts below
EXPLANATION_WIDTH = 520  # the widest the text grows; it wraps narrower when the window is small
EXPLANATION_MINIMUM_WIDTH = 240
NO_MODEL_HTML = QT_TRANSLATE_NOOP("EmptyState", """
<p style="color:#b3261e"><b>No usable analysis model.</b> Choose a model folder
(one with <code>config.json</code> and <code>weights.safetensors</code>) in the Model box
at the top, or train one in the Training tab.</p>
""")


class EmptyState(QWidget):
    """A centred explanation with an "Add music folder" button; ``add_folder_requested`` when clicked."""

    add_folder_requested = Signal()
    choose_model_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.text = QLabel(self.tr(INTRO_HTML))
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setFixedWidth(EXPLANATION_WIDTH)
        self.model_warning = QLabel(self.tr(NO_MODEL_HTML))
        self.model_warning.setWordWrap(True)
        self.model_warning.setFixedWidth(EXPLANATION_WIDTH)
        self.model_warning.setVisible(False)
        self.add_button = QPushButton(self.tr("Add music folder…"))
        self.add_button.setDefault(True)
        self.add_button.setMinimumHeight(36)
        self.add_button.setToolTip("Ctrl+O")
        self.model_button = QPushButton(self.tr("Choose model folder…"))
        self.model_button.setVisible(False)
        self.setMinimumWidth(EXPLANATION_MINIMUM_WIDTH)  # explicit, so the labels' current width does not set it
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (self.text, self.model_warning, self.add_button, self.model_button):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        self.add_button.clicked.connect(self.add_folder_requested)
        self.model_button.clicked.connect(self.choose_model_requested)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        """The text keeps a readable width, narrower only when the window is (it wraps to more lines)."""
        margins = self.layout().contentsMargins()
        width = max(EXPLANATION_MINIMUM_WIDTH, min(EXPLANATION_WIDTH, event.size().width() - margins.left() - margins.right()))
        for label in (self.text, self.model_warning):
            _fit(label, width)
        super().resizeEvent(event)

    def set_model_missing(self, missing: bool, reason: str | None = None) -> None:
        """Show the model warning (with ``reason``, the library's words for why it has no usable model) or hide it."""
        text = self.tr(NO_MODEL_HTML)
        if missing and reason:
            text += f'<p style="color:#6b6b6b">{html.escape(reason)}</p>'
        self.model_warning.setText(text)
        _fit(self.model_warning, self.model_warning.width())
        self.model_warning.setVisible(missing)
        self.model_button.setVisible(missing)


def _fit(label: QLabel, width: int) -> None:
    """``label`` at ``width``, as tall as its wrapped rich text needs (the layout alone gave it the height of fewer
    lines, and the last line was cut off)."""
    label.setFixedWidth(width)
    label.setMinimumHeight(label.heightForWidth(width))
