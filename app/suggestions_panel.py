"""The tag suggestions panel: what the active model's tag head proposes for empty genre / mood / grouping fields.

Suggestions come from ``Library.tag_suggestions`` (stored tag probabilities, no audio decoded), for the
selected track or for every track that lacks those tags. Nothing is ticked to begin with: the user ticks
what to accept, confirms, and the ticked values are written through ``Library.write_tags`` (the engine's
safe writer) on a worker, with progress, Cancel and a summary of problems.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import track_format
from app.batch_job import BatchJob, BatchProgress
from app.errors import show_error
from app.tasks import TaskRunner
from app.write_results import show_summary, summarise
from engine.tag_suggestions import DEFAULT_MIN_CONFIDENCE, values_by_field

# The scopes, by their English names (the code's values); the scope box shows them through tr().
SELECTED_TRACK = QT_TRANSLATE_NOOP("SuggestionsPanel", "Selected track")
TRACKS_LACKING_TAGS = QT_TRANSLATE_NOOP("SuggestionsPanel", "All tracks lacking tags")
MAX_TRACKS_SHOWN = 500  # the list of a whole library is cut here (the most confident first)
SUGGESTION_ROLE = Qt.ItemDataRole.UserRole + 1
NO_SUGGESTIONS_TEXT = QT_TRANSLATE_NOOP(
    "SuggestionsPanel",
    "No suggestions. They come from a model trained on your own tags (Training tab, Learn from: \"My library's "
    "tags\", then choose that model in the Model box), for tracks whose genre, mood or grouping is empty."
)  # shown through tr()


def ticked_values(accepted: list[tuple[Any, Any]]) -> list[tuple[Any, dict[str, list[str]]]]:
    """(track, suggestion) pairs → one (track, {field: [values]}) per track, in first-seen order."""
    by_track: dict[int, tuple[Any, list[Any]]] = {}
    for track, suggestion in accepted:
        by_track.setdefault(track.track_id, (track, []))[1].append(suggestion)
    return [(track, values_by_field(suggestions)) for track, suggestions in by_track.values()]


class SuggestionsPanel(QWidget):
    """``written(summary)`` after accepted tags were written (the library's rows changed)."""

    written = Signal(object)

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library = library
        self.track_id: int | None = None
        self.job: BatchJob | None = None
        self.progress: BatchProgress | None = None
        self.summary_box: QMessageBox | None = None
        self._generation = 0
        self._shown = False
        self._stale = True  # something changed while hidden: look again when shown

        self.scope_box = QComboBox()
        for scope in (SELECTED_TRACK, TRACKS_LACKING_TAGS):
            self.scope_box.addItem(self.tr(scope), scope)
        self.scope_box.setToolTip(self.tr("Suggest for the track selected in the library, or for every track with "
                                          "empty tags"))
        self.confidence_box = QDoubleSpinBox()
        self.confidence_box.setRange(0.0, 1.0)
        self.confidence_box.setSingleStep(0.05)
        self.confidence_box.setValue(DEFAULT_MIN_CONFIDENCE)
        self.confidence_box.setToolTip(self.tr("Only show suggestions the model is at least this sure of"))
        options = QHBoxLayout()
        options.addWidget(self.scope_box, 1)
        options.addWidget(QLabel(self.tr("Min. confidence:")))
        options.addWidget(self.confidence_box)
        self.heading = QLabel("")
        self.heading.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels([self.tr("Suggested tag"), self.tr("Confidence")])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tick_all_button = QPushButton(self.tr("Tick all"))
        self.write_button = QPushButton(self.tr("Write ticked tags…"))
        self.write_button.setToolTip(self.tr("Write the ticked tags into the files (asks first)"))
        self.write_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.tick_all_button)
        buttons.addStretch(1)
        buttons.addWidget(self.write_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(options)
        layout.addWidget(self.heading)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)

        self.scope_box.currentIndexChanged.connect(lambda _position: self.refresh())
        self.confidence_box.valueChanged.connect(lambda _value: self.refresh())
        self.tree.itemChanged.connect(lambda *_: self._update_buttons())
        self.tick_all_button.clicked.connect(lambda: self._set_all_ticked(True))
        self.write_button.clicked.connect(self.confirm_and_write)
        self._show([])

    # ---- what to suggest for ------------------------------------------------------------------
    def scope(self) -> str:
        """SELECTED_TRACK or TRACKS_LACKING_TAGS (English in every language)."""
        return str(self.scope_box.currentData())

    def set_scope(self, scope: str) -> None:
        self.scope_box.setCurrentIndex(max(0, self.scope_box.findData(scope)))

    def show_track(self, track_id: int) -> None:
        """The library selection changed: follow it when suggesting for the selected track."""
        self.track_id = track_id
        if self.scope() == SELECTED_TRACK:
            self.refresh()

    def set_shown(self, shown: bool) -> None:
        """Suggestions are only looked up while the panel can be seen (a whole-library look-up reads every row)."""
        self._shown = shown
        if shown and self._stale:
            self.refresh()

    def refresh(self) -> None:
        self._generation += 1
        generation = self._generation
        self._stale = not self._shown
        if self._stale:
            return
        if self.scope() == SELECTED_TRACK and self.track_id is None:
            self._show([], self.tr("Select a track in the library to see suggested tags for it."))
            return
        library, minimum = self.library, self.confidence_box.value()
        track_ids = [self.track_id] if self.scope() == SELECTED_TRACK else None
        self.heading.setText(self.tr("Looking for suggestions…"))
        self.tasks.run(lambda: library.tag_suggestions(minimum, track_ids=track_ids),
                       lambda found: self._on_found(generation, found),
                       lambda message: self._on_found(generation, [], message))

    def _on_found(self, generation: int, found: list[Any], problem: str = "") -> None:
        if generation == self._generation:
            self._show(found, problem)

    def _show(self, found: list[Any], message: str = "") -> None:
        self.tree.blockSignals(True)
        self.tree.clear()
        shown = sorted(found, key=lambda track: -max(s.confidence for s in track.suggestions))[:MAX_TRACKS_SHOWN]
        for track in shown:
            parent = QTreeWidgetItem([track_format.artist_title(track.artist, track.title, track.path), ""])
            parent.setToolTip(0, str(track.path))
            parent.setFlags(parent.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            for suggestion in track.suggestions:
                item = QTreeWidgetItem([f"{suggestion.field}: {suggestion.value}", f"{suggestion.confidence:.0%}"])
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(0, Qt.CheckState.Unchecked)
                item.setData(0, SUGGESTION_ROLE, (track, suggestion))
                item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                parent.addChild(item)
            self.tree.addTopLevelItem(parent)
            parent.setExpanded(True)
        self.tree.blockSignals(False)
        if message:
            self.heading.setText(message)
        elif not found:
            self.heading.setText(self.tr(NO_SUGGESTIONS_TEXT))
        else:
            more = (self.tr(" (the {count} most confident shown)").format(count=MAX_TRACKS_SHOWN)
                    if len(found) > MAX_TRACKS_SHOWN else "")
            heading = (self.tr("Suggestions for 1 track{more}. Tick the ones to accept.") if len(found) == 1 else
                       self.tr("Suggestions for {count:,} tracks{more}. Tick the ones to accept."))
            self.heading.setText(heading.format(count=len(found), more=more))
        self._update_buttons()

    # ---- ticking and writing ------------------------------------------------------------------
    def suggestion_items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(top).child(row) for top in range(self.tree.topLevelItemCount())
                for row in range(self.tree.topLevelItem(top).childCount())]

    def accepted(self) -> list[tuple[Any, Any]]:
        """The ticked (track, suggestion) pairs."""
        return [item.data(0, SUGGESTION_ROLE) for item in self.suggestion_items()
                if item.checkState(0) == Qt.CheckState.Checked]

    def _set_all_ticked(self, ticked: bool) -> None:
        state = Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked
        for item in self.suggestion_items():
            item.setCheckState(0, state)

    def _update_buttons(self) -> None:
        busy = self.job is not None and self.job.running
        self.write_button.setEnabled(bool(self.accepted()) and not busy)
        self.tick_all_button.setEnabled(bool(self.suggestion_items()) and not busy)

    def confirm_and_write(self) -> None:
        per_track = ticked_values(self.accepted())
        if not per_track:
            return
        tags = sum(len(values) for _, fields in per_track for values in fields.values())
        tags_text = self.tr("1 tag") if tags == 1 else self.tr("{count} tags").format(count=tags)
        files_text = self.tr("1 file") if len(per_track) == 1 else self.tr("{count:,} files").format(count=len(per_track))
        answer = QMessageBox.question(
            self, self.tr("Write tags"),
            self.tr("Write {tags} into {files}?").format(tags=tags_text, files=files_text) + "\n\n" +
            self.tr("Only empty fields are filled; each file is written through a checked copy and its audio stays as "
                    "it is."),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.write(per_track)

    def write(self, per_track: list[tuple[Any, dict[str, list[str]]]]) -> BatchJob:
        """Write (the user has confirmed): one ``Library.write_tags`` per track, keeping any value already there."""
        library = self.library
        self.job = BatchJob(per_track, lambda entry: library.write_tags(entry[0].path, entry[1], "keep"),
                            self.tasks, self)
        self.progress = BatchProgress(self.job, self.tr("Writing tags"), self.window())
        self.job.finished.connect(lambda results, _cancelled: self._on_written(results, len(per_track)))
        self.job.failed.connect(lambda message: show_error(self, self.tr("Write tags"), message))
        self.job.failed.connect(lambda _message: self._update_buttons())
        self.job.start()
        self._update_buttons()
        return self.job

    def _on_written(self, results: list[Any], asked: int) -> None:
        summary = summarise(results, asked)
        self.summary_box = show_summary(self.window(), self.tr("Tags written"), summary)
        self.refresh()  # written fields are no longer empty, so their suggestions go
        self.written.emit(summary)
