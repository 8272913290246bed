"""Write the analysed key into the selected tracks' files: ask first, write on a worker, then say what happened.

Nothing is written without the user's confirmation in ``WriteKeyDialog`` (notation, overwrite or keep an
existing key tag). The writes go through ``Library.write_key`` (the engine's safe writer: a verified copy,
the audio left byte-identical, problems reported per file, never raised).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QObject, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app import track_format
from app.batch_job import BatchJob, BatchProgress
from app.errors import show_error
from app.tasks import TaskRunner
from app.write_results import show_summary, summarise

# (engine notation, what the user reads, through tr()): the engine's ``KEY_NOTATIONS`` with an example of each.
NOTATION_CHOICES = (
    ("standard", QT_TRANSLATE_NOOP("WriteKeyDialog", "Standard: Am, F#, Eb")),
    ("camelot", QT_TRANSLATE_NOOP("WriteKeyDialog", "Camelot: 8A, 2B, 5B")),
    ("openkey", QT_TRANSLATE_NOOP("WriteKeyDialog", "Open Key: 1m, 7d, 10d")),
)
EXPLANATION = QT_TRANSLATE_NOOP(
    "WriteKeyDialog",
    "The key the active model found is written into each file's key tag (TKEY for MP3 and WAV/AIFF, INITIALKEY "
    "for FLAC, Ogg and Opus, initialkey for M4A). Each file is written through a checked copy, so its audio "
    "stays exactly as it is; a file that cannot be written is listed afterwards and left unchanged."
)  # shown through tr()


def doubt_warning_text(track_count: int, doubtful_count: int) -> str:
    threshold = f"{track_format.KEY_CONFIDENCE_THRESHOLD:.0%}"
    if track_count == 1:
        text = QCoreApplication.translate(
            "WriteKeyDialog", "<b>Its key is a guess:</b> the model rates it below {threshold} confidence, so a DJ "
                              "program would show a key that may well be wrong.")
    else:
        text = QCoreApplication.translate(
            "WriteKeyDialog", "<b>{count:,} of these keys are a guess:</b> the model rates them below {threshold} "
                              "confidence, so a DJ program would show a key that may well be wrong.")
    return text.format(count=doubtful_count, threshold=threshold)


def doubtful_key_ids(library: Any, track_ids: list[int]) -> list[int]:
    """The tracks among ``track_ids`` whose analysed key the model doubts (runs on a worker)."""
    doubtful = []
    for track_id in track_ids:
        track = library.track(track_id)
        if track is not None and track_format.key_is_doubtful(track.key):
            doubtful.append(track_id)
    return doubtful


class WriteKeyDialog(QDialog):
    """Asks how to write the key into ``track_count`` files; accepted means "write"."""

    def __init__(self, track_count: int, parent: QWidget | None = None, doubtful_count: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Write key to files"))
        self.track_count, self.doubtful_count = track_count, doubtful_count
        heading = QLabel(self.tr("<b>Write the analysed key into 1 file?</b>") if track_count == 1 else
                         self.tr("<b>Write the analysed key into {count:,} files?</b>").format(count=track_count))
        explanation = QLabel(self.tr(EXPLANATION))
        explanation.setWordWrap(True)
        self.notation_buttons = QButtonGroup(self)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(explanation)
        self.doubt_warning = QLabel(doubt_warning_text(track_count, doubtful_count))
        self.doubt_warning.setWordWrap(True)
        self.doubt_warning.setVisible(doubtful_count > 0)
        self.skip_doubtful_box = QCheckBox(
            self.tr("Skip the 1 track whose key is a guess") if doubtful_count == 1 else
            self.tr("Skip the {count:,} tracks whose key is a guess").format(count=doubtful_count))
        self.skip_doubtful_box.setChecked(doubtful_count > 0)
        self.skip_doubtful_box.setVisible(doubtful_count > 0)
        layout.addWidget(self.doubt_warning)
        layout.addWidget(self.skip_doubtful_box)
        layout.addWidget(QLabel(self.tr("Notation:")))
        for position, (notation, text) in enumerate(NOTATION_CHOICES):
            button = QRadioButton(self.tr(text))
            button.setProperty("notation", notation)
            button.setChecked(position == 0)
            self.notation_buttons.addButton(button, position)
            layout.addWidget(button)
        self.overwrite_box = QCheckBox(self.tr("Overwrite existing key tags (otherwise files that have one keep it)"))
        layout.addWidget(self.overwrite_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.write_button = buttons.addButton("", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.skip_doubtful_box.toggled.connect(lambda _checked: self._name_write_button())
        self._name_write_button()
        self.setMaximumWidth(560)

    def _name_write_button(self) -> None:
        count = self.track_count - (self.doubtful_count if self.skip_doubtful() else 0)
        self.write_button.setText(self.tr("Write to 1 file") if count == 1 else
                                  self.tr("Write to {count:,} files").format(count=count))
        self.write_button.setEnabled(count > 0)

    def skip_doubtful(self) -> bool:
        return self.skip_doubtful_box.isChecked()

    def notation(self) -> str:
        return str(self.notation_buttons.checkedButton().property("notation"))

    def set_notation(self, notation: str) -> None:
        position = [choice for choice, _ in NOTATION_CHOICES].index(notation)
        self.notation_buttons.button(position).setChecked(True)

    def overwrite(self) -> bool:
        return self.overwrite_box.isChecked()


class KeyWriteFlow(QObject):
    """Confirm → write on a worker with progress and Cancel → summary. ``done(summary)`` when it is over."""

    done = Signal(object)

    def __init__(self, library: Any, tasks: TaskRunner, parent: QWidget) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library = library
        self.parent_widget = parent
        self.job: BatchJob | None = None
        self.progress: BatchProgress | None = None
        self.summary_box = None

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def ask(self, track_count: int, resolve_ids: Callable[[], list[int]]) -> None:
        """Resolve the tracks' ids and which of their keys are guesses on a worker, then ask with the dialog
        (which offers to skip the guesses); on "Write", write."""
        if self.running or track_count == 0:
            return
        library = self.library

        def resolve() -> tuple[list[int], list[int]]:
            track_ids = resolve_ids()
            return track_ids, doubtful_key_ids(library, track_ids)

        self.tasks.run(resolve, lambda resolved: self._confirm(*resolved),
                       lambda message: show_error(self.parent_widget, self.tr("Write key"), message))

    def _confirm(self, track_ids: list[int], doubtful_ids: list[int]) -> None:
        if self.running or not track_ids:
            return
        dialog = WriteKeyDialog(len(track_ids), self.parent_widget, len(doubtful_ids))
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        skipped = set(doubtful_ids) if dialog.skip_doubtful() else set()
        chosen = [track_id for track_id in track_ids if track_id not in skipped]
        if chosen:
            self.write(chosen, dialog.notation(), dialog.overwrite())

    def write(self, track_ids: list[int], notation: str, overwrite: bool) -> BatchJob:
        """Write (the user has confirmed): one ``Library.write_key`` per track on the background pool."""
        library = self.library
        self.job = BatchJob(track_ids, lambda track_id: library.write_key(track_id, notation, overwrite).write,
                            self.tasks, self)
        self.progress = BatchProgress(self.job, self.tr("Writing keys"), self.parent_widget)
        self.job.finished.connect(lambda results, _cancelled: self._finished(results, len(track_ids)))
        self.job.failed.connect(lambda message: show_error(self.parent_widget, self.tr("Write key"), message))
        self.job.start()
        return self.job

    def _finished(self, results: list[Any], asked: int) -> None:
        summary = summarise(results, asked)
        self.summary_box = show_summary(self.parent_widget, self.tr("Key tags"), summary)
        self.done.emit(summary)
