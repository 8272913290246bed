"""The Training tab: start ``engine train`` as a subprocess, plot its ``metrics.jsonl`` live, stop it.

Two sources of labels: the library's own tags (``engine train from-library``: tag fields, a name, a
minimum of tracks per value; it trains, exports, registers the model and analyses the library with it)
or a JSONL labels file (``engine train finetune`` then ``export``). Either way training runs in its own
process (QProcess), so a crash or a long run never touches the app. The app follows two files the trainer
appends to: the run's ``metrics.jsonl`` for the curves, and an events file (``--events``: phases, progress,
the error's reason; ``engine.training_events``) for the status line. The process's output, meant for
people, only fills the log pane. Stop sends an interrupt, so the trainer saves a checkpoint and the same run
resumes. A finished model is offered in the model picker.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QProcess, QProcessEnvironment, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.elided_label import ElidedLabel
from app.errors import show_error
from app.metrics_file import JsonLinesFollower, MetricsFollower
from app.training_messages import failure_message
from app.tasks import TaskRunner
from app.training_command import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MIN_TRACKS,
    FROM_SCRATCH,
    REPO_ROOT,
    BaseModelChoice,
    LibraryTrainingRequest,
    TrainingRequest,
    base_model_choices,
    default_runs_folder,
    export_arguments,
    from_library_arguments,
    python_program,
    train_arguments,
    write_config,
)
from engine.run_folder import metrics_path
from engine.tag_suggestions import LABEL_FIELDS
from engine.training_events import (
    ERROR, EVALUATING, EXPORTING, PHASE, PLANNING, PREPARING, PROGRESS, REEMBEDDING, TRAINING, TrainingEvent,
)

POLL_INTERVAL_MS = 500
STOP_GRACE_MS = 15000  # the trainer saves a checkpoint when interrupted; killed only if it has not exited by then
DEFAULT_LABEL_FIELDS = ("genre",)
FIELD_SPACING = 12  # pixels between the tag fields and the minimum-tracks box
FROM_LIBRARY, FROM_FILE = 0, 1  # the labels source buttons
# What the status line says when the command announces a phase (an event), and with its progress (shown through
# tr()).
PHASE_STATUS = {
    PLANNING: QT_TRANSLATE_NOOP("TrainingView", "Reading the library's tags…"),
    PREPARING: QT_TRANSLATE_NOOP("TrainingView", "Decoding the training tracks, then training…"),
    TRAINING: QT_TRANSLATE_NOOP("TrainingView", "Training…"),
    EXPORTING: QT_TRANSLATE_NOOP("TrainingView", "Exporting the model…"),
    REEMBEDDING: QT_TRANSLATE_NOOP("TrainingView", "Analysing the library with the new model…"),
    EVALUATING: QT_TRANSLATE_NOOP("TrainingView", "Measuring the new model on the held-out albums…"),
}
PROGRESS_STATUS = {
    TRAINING: QT_TRANSLATE_NOOP("TrainingView", "Training… step {step:,} of {total:,}"),
    REEMBEDDING: QT_TRANSLATE_NOOP("TrainingView", "Analysing the library with the new model: {step:,} of {total:,} files"),
}
# The phase a launch is in before its first event (a process that dies before announcing one).
STAGE_PHASE = {"train": PREPARING, "export": EXPORTING, "library": PLANNING}
EVENTS_FILE_SUFFIX = ".events.jsonl"
LOG_MAX_LINES = 3000
LOSS_FIELDS = ("loss",)
# The lower plot starts on the first of these the run logs (quality first, then throughput).
PREFERRED_METRICS = ("val_map", "tag_map", "key_accuracy", "accuracy", "samples_per_s", "lr")
DEFAULT_STEPS = 500


def spin_box(minimum: int, maximum: int, value: int, tooltip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setValue(value)
    box.setToolTip(tooltip)
    return box


def row_widget(*parts: QWidget | str | int | None) -> QWidget:
    """A row without margins: widgets (the first line edit stretches), a str is a label, an int a spacing, None a stretch."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for part in parts:
        if part is None:
            layout.addStretch(1)
        elif isinstance(part, str):
            layout.addWidget(QLabel(part))
        elif isinstance(part, int):
            layout.addSpacing(part)
        else:
            layout.addWidget(part, 1 if isinstance(part, QLineEdit) else 0)
    return row


class TrainingView(QWidget):
    """Form → run → live curves; ``model_ready(folder)`` when a run has finished and been exported."""

    model_ready = Signal(str)

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library = library
        self.process: QProcess | None = None
        self.follower: MetricsFollower | None = None
        self.request: TrainingRequest | None = None
        self.library_request: LibraryTrainingRequest | None = None
        self._stage = "idle"  # "train" | "export" | "library" | "stopping" | "idle"
        self._events_path: Path | None = None  # the running command's events file (a temporary file)
        self._events: JsonLinesFollower | None = None
        self._phase = ""  # the last phase the running command announced
        self._failure_reason = ""  # the reason of its error event

        self.source_buttons = QButtonGroup(self)
        self.from_library_button = QRadioButton(self.tr("My library's tags"))
        self.from_library_button.setToolTip(self.tr("Learn what your genre / mood / grouping / key tags mean (engine "
                                                    "train from-library)"))
        self.from_file_button = QRadioButton(self.tr("A labels file (JSONL)"))
        self.source_buttons.addButton(self.from_library_button, FROM_LIBRARY)
        self.source_buttons.addButton(self.from_file_button, FROM_FILE)
        self.from_library_button.setChecked(True)
        source_row = QHBoxLayout()
        source_row.addWidget(self.from_library_button)
        source_row.addWidget(self.from_file_button)
        source_row.addStretch(1)

        self.field_boxes = {name: QCheckBox(name) for name in LABEL_FIELDS}
        for name, box in self.field_boxes.items():
            box.setChecked(name in DEFAULT_LABEL_FIELDS)
            box.toggled.connect(self._suggest_name)
        self.min_tracks_box = spin_box(1, 100_000, DEFAULT_MIN_TRACKS,
                                       self.tr("Tag values on fewer tracks are left out (too few to learn from)"))
        library_fields = row_widget(*self.field_boxes.values(), FIELD_SPACING, self.tr("Min. tracks per value:"),
                                    self.min_tracks_box, None)

        self.labels_edit = QLineEdit()
        self.labels_edit.setPlaceholderText(self.tr("A JSONL manifest: one clip per line with its \"labels\" and/or "
                                                    "\"key\""))
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._choose_labels)
        self.batch_box = spin_box(2, 4096, DEFAULT_BATCH_SIZE, self.tr("Clips per step; smaller is faster per step on a "
                                                                       "CPU"))
        file_fields = row_widget(self.labels_edit, browse, self.tr("Batch size:"), self.batch_box)
        self.source_stack = QStackedWidget()
        self.source_stack.addWidget(library_fields)
        self.source_stack.addWidget(file_fields)
        self.source_stack.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

        self.base_box = QComboBox()
        self.base_box.setToolTip(self.tr("The model to finetune: its encoder (and key head) are the starting point"))
        self.name_edit = QLineEdit()
        self._name_edited_by_user = False
        self.name_edit.textEdited.connect(lambda _text: setattr(self, "_name_edited_by_user", True))
        self.steps_box = QSpinBox()
        self.steps_box.setRange(0, 1_000_000)
        self.steps_box.setSpecialValueText(self.tr("as configured"))
        self.steps_box.setToolTip(self.tr("Training steps; \"as configured\" uses the command's config (200 for "
                                          "library tags)"))
        name_row = QHBoxLayout()
        name_row.addWidget(self.name_edit, 1)
        name_row.addWidget(QLabel(self.tr("Steps:")))
        name_row.addWidget(self.steps_box)
        form = QFormLayout()
        form.addRow(self.tr("Learn from:"), source_row)
        form.addRow("", self.source_stack)
        form.addRow(self.tr("Base model:"), self.base_box)
        form.addRow(self.tr("Model name:"), name_row)

        self.start_button = QPushButton(self.tr("Start training"))
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setEnabled(False)
        self.open_button = QPushButton(self.tr("Open run…"))
        self.open_button.setToolTip(self.tr("Show the curves of an earlier run folder"))
        # One line, elided, the whole text in its tooltip: a wrapping label would make the tab ask for its
        # preferred height in the scroll area that holds it, and the plots would then run off the screen.
        self.status = ElidedLabel("")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.status, 1)

        self.loss_plot = self._make_plot(self.tr("Training loss"))
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen(theme.ACCENT, width=2))
        self.metric_plot = self._make_plot("")
        self.metric_curve = self.metric_plot.plot([], [], pen=pg.mkPen(theme.category_colour(1), width=2))
        self.metric_box = QComboBox()
        self.metric_box.setToolTip(self.tr("Which logged metric the lower plot shows"))
        self.metric_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._metric_chosen_by_user = False
        self.metric_box.activated.connect(self._on_metric_chosen)
        metric_panel = QWidget()
        metric_layout = QVBoxLayout(metric_panel)
        metric_layout.setContentsMargins(0, 0, 0, 0)
        metric_row = QHBoxLayout()
        metric_row.addWidget(QLabel(self.tr("Metric:")))
        metric_row.addWidget(self.metric_box)
        metric_row.addStretch(1)
        metric_layout.addLayout(metric_row)
        metric_layout.addWidget(self.metric_plot, 1)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_MAX_LINES)
        self.log.setPlaceholderText(self.tr("The trainer's output appears here."))
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.loss_plot)
        plots.addWidget(metric_panel)
        plots.addWidget(self.log)
        plots.setSizes([300, 220, 120])

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(plots, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_INTERVAL_MS)
        self.timer.timeout.connect(self.poll)
        self.start_button.clicked.connect(lambda: self.start())
        self.stop_button.clicked.connect(self.stop)
        self.open_button.clicked.connect(self._choose_run)
        self.source_buttons.idToggled.connect(lambda _id, checked: self._on_source_changed() if checked else None)
        self._on_source_changed()

    @staticmethod
    def _make_plot(title: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(title=title)
        plot.setMenuEnabled(False)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.getPlotItem().setLabel("bottom", QCoreApplication.translate("TrainingView", "step"))
        plot.setMinimumHeight(120)
        return plot

    # ---- form -----------------------------------------------------------------------------
    @property
    def from_library(self) -> bool:
        return self.source_buttons.checkedId() == FROM_LIBRARY

    def _on_source_changed(self) -> None:
        self.source_stack.setCurrentIndex(FROM_LIBRARY if self.from_library else FROM_FILE)
        self._suggest_name()
        if not self.running:
            self.status.setText(self.tr("Tick the tag fields to learn from, then start.") if self.from_library
                                else self.tr("Pick a labels file and a base model, then start."))
        self.refresh_bases()

    def _suggest_name(self) -> None:
        """Until the user types a name: "library-genre-mood" for library tags (the command's default), else "my-model"."""
        if not self._name_edited_by_user:
            self.name_edit.setText("library-" + "-".join(self.label_fields()) if self.from_library else "my-model")

    def label_fields(self) -> list[str]:
        return [name for name, box in self.field_boxes.items() if box.isChecked()]

    def refresh_bases(self) -> None:
        """Offer the models this source can start from (registered models, the shipped default, training runs)."""
        library, from_library = self.library, self.from_library
        self.tasks.run(lambda: base_model_choices(library, from_library), self._show_bases,
                       lambda message: show_error(self, self.tr("Training"), message))

    def refresh_runs(self) -> None:
        self.refresh_bases()

    def _show_bases(self, choices: list[BaseModelChoice]) -> None:
        current = self.base_box.currentData()
        self.base_box.clear()
        for choice in choices:
            self.base_box.addItem(choice.label, choice.folder)
            self.base_box.setItemData(self.base_box.count() - 1, choice.folder or choice.label, Qt.ItemDataRole.ToolTipRole)
        self.base_box.setCurrentIndex(max(0, self.base_box.findData(current)))

    def _choose_labels(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Labels manifest"), str(Path.home()),
                                              self.tr("JSONL manifests (*.jsonl);;All files (*)"))
        if path:
            self.labels_edit.setText(path)

    def _choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Open a training run folder"), str(default_runs_folder()))
        if folder:
            self.show_run(Path(folder))

    # ---- running --------------------------------------------------------------------------
    def current_request(self) -> TrainingRequest:
        name = self.name_edit.text().strip() or "my-model"
        return TrainingRequest(
            labels=Path(self.labels_edit.text().strip()),
            base_run=self.base_box.currentData() or FROM_SCRATCH,
            name=name,
            steps=self.steps_box.value() or DEFAULT_STEPS,
            run_dir=default_runs_folder() / name,
            batch_size=self.batch_box.value(),
        )

    def current_library_request(self) -> LibraryTrainingRequest:
        return LibraryTrainingRequest(
            database=Path(str(self.library.db_path)), fields=tuple(self.label_fields()),
            name=self.name_edit.text().strip() or "library-" + "-".join(self.label_fields()),
            min_tracks=self.min_tracks_box.value(), base_model=self.base_box.currentData() or "",
            steps=self.steps_box.value() or None,
        )

    def start(self, request: TrainingRequest | LibraryTrainingRequest | None = None) -> None:
        if self.running:
            return
        if request is None:
            request = self.current_library_request() if self.from_library else self.current_request()
        if isinstance(request, LibraryTrainingRequest):
            self.start_from_library(request)
            return
        if not request.labels.is_file():
            show_error(self, self.tr("Training"), self.tr("The labels file does not exist: {path}").format(
                path=request.labels))
            return
        try:
            write_config(request)
        except OSError as error:
            show_error(self, self.tr("Training"), self.tr("Cannot write the run folder {folder}: {reason}").format(
                folder=request.run_dir, reason=error.strerror or error))
            return
        except ValueError as error:
            show_error(self, self.tr("Training"), self.tr("Cannot write the run's config: {reason}").format(reason=error))
            return
        self.request = request
        self.from_file_button.setChecked(True)
        self.labels_edit.setText(str(request.labels))
        self.name_edit.setText(request.name)
        self.steps_box.setValue(request.steps)
        self.batch_box.setValue(request.batch_size)
        self.show_run(request.run_dir, follow=True)
        self._launch("train", lambda events: train_arguments(request, events))

    def start_from_library(self, request: LibraryTrainingRequest) -> None:
        """``engine train from-library``: it reports what the tags give, trains, exports, registers the model and
        analyses the library with it; a rerun with the same name resumes."""
        if not request.fields:
            show_error(self, self.tr("Training"), self.tr("Tick at least one tag field to learn from (genre, mood, "
                                                          "grouping or key)."))
            return
        self.start_button.setEnabled(False)
        self.status.setText(self.tr("Preparing…"))
        library = self.library

        def prepare() -> LibraryTrainingRequest:
            """The command is told the app's active model by folder: the app may have been opened with --model."""
            return replace(request, base_model=request.base_model or str(library.model().folder))

        self.tasks.run(prepare, self._launch_from_library,
                       lambda message: self._finish_ui(self.tr("Cannot start: {reason}").format(reason=message)))

    def _launch_from_library(self, request: LibraryTrainingRequest) -> None:
        self.library_request = request
        self.show_run(request.run_dir, follow=True)
        self._launch("library", lambda events: from_library_arguments(request, events))

    def _launch(self, stage: str, arguments_for: Callable[[Path], list[str]]) -> None:
        """Start ``python arguments_for(events file)``; its events file is new and empty, so nothing is read
        from an earlier command."""
        self._stage = stage
        self._phase, self._failure_reason = "", ""
        self._remove_events_file()
        try:
            handle, name = tempfile.mkstemp(prefix="engine-train-", suffix=EVENTS_FILE_SUFFIX)
        except OSError as error:
            self._finish_ui(self.tr("Training could not start."))
            show_error(self, self.tr("Training"), self.tr("Cannot create a temporary file for the trainer's events: "
                                                          "{reason}").format(reason=error.strerror or error))
            return
        os.close(handle)
        self._events_path = Path(name)
        self._events = JsonLinesFollower(self._events_path)
        arguments = arguments_for(self._events_path)
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(environment)
        process.setWorkingDirectory(str(REPO_ROOT))
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._read_output)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_process_error)
        self.process = process
        self.log.appendPlainText(f"$ {python_program()} {' '.join(arguments)}")
        self.status.setText(self.tr(PHASE_STATUS[STAGE_PHASE[stage]]))
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(stage in ("train", "library"))
        process.start(python_program(), arguments)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def stop(self) -> None:
        """Interrupt the trainer as Ctrl-C would (it saves a checkpoint, or the analysis stops after its batch);
        kill it if it has not exited after STOP_GRACE_MS."""
        if not self.running:
            return
        self.status.setText(self.tr("Stopping (saving a checkpoint)…"))
        self.stop_button.setEnabled(False)
        self._stage = "stopping"
        process_id = self.process.processId()
        if hasattr(signal, "SIGINT") and os.name == "posix" and process_id:
            os.kill(process_id, signal.SIGINT)
        else:
            self.process.terminate()
        QTimer.singleShot(STOP_GRACE_MS, self._kill_if_running)

    def _kill_if_running(self) -> None:
        if self.running:
            self.process.kill()

    def wait_for_finished(self, timeout_ms: int) -> bool:
        return self.process is None or self.process.waitForFinished(timeout_ms)

    def _read_output(self) -> None:
        """The command's output is for people: it goes to the log pane and is never parsed."""
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", errors="replace")
        for line in text.replace("\r", "\n").splitlines():
            if line.strip():
                self.log.appendPlainText(line.rstrip())

    def poll_events(self) -> None:
        """Read the running command's new events: phases and progress set the status line, an error its reason."""
        if self._events is None:
            return
        for record in self._events.poll():
            event = TrainingEvent.from_json(record)
            if event is not None:
                self.show_event(event)

    def show_event(self, event: TrainingEvent) -> None:
        if event.event == ERROR:
            self._failure_reason = event.reason
        if event.phase:
            self._phase = event.phase
        if self._stage in ("idle", "stopping"):
            return  # the status says what the user asked for ("Stopping…") or how the run ended
        if event.event == PHASE and event.phase in PHASE_STATUS:
            self.status.setText(self.tr(PHASE_STATUS[event.phase]))
        elif event.event == PROGRESS and event.phase in PROGRESS_STATUS and event.step is not None and event.total:
            self.status.setText(self.tr(PROGRESS_STATUS[event.phase]).format(step=event.step, total=event.total))

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._finish_ui(self.tr("Training could not start."))
            show_error(self, self.tr("Training"), self.tr("Could not start {program}").format(program=python_program()))

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self.poll()
        stage = self._stage
        crashed = exit_status != QProcess.ExitStatus.NormalExit
        if stage == "stopping":
            self._finish_ui(self.tr("Stopped. Start again with the same name to continue where it stopped."))
        elif crashed or exit_code != 0:
            message = failure_message(self._phase or STAGE_PHASE.get(stage, ""), self._failure_reason, exit_code)
            self._finish_ui(message)
            show_error(self, self.tr("Training"), message)
        elif stage == "train" and self.request is not None:
            request = self.request
            self._launch("export", lambda events: export_arguments(request, events))
        elif stage == "export" and self.request is not None:
            folder = str(self.request.model_dir)
            self._finish_ui(self.tr("Finished: the model is in {folder} and in the Model box.").format(folder=folder))
            self.refresh_bases()
            self.model_ready.emit(folder)
        elif stage == "library" and self.library_request is not None:
            folder = str(self.library_request.model_dir)
            self._finish_ui(self.tr("Finished: \"{name}\" has analysed the library; choose it in the Model box to use "
                                    "it. Its before/after figures are in the log.").format(name=self.library_request.name))
            self.refresh_bases()
            self.model_ready.emit(folder)

    def _finish_ui(self, message: str) -> None:
        self._stage = "idle"
        self.timer.stop()
        self._remove_events_file()
        self.status.setText(message)
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _remove_events_file(self) -> None:
        if self._events_path is not None:
            self._events_path.unlink(missing_ok=True)
        self._events_path, self._events = None, None

    # ---- curves ---------------------------------------------------------------------------
    def show_run(self, run_dir: Path, follow: bool = False) -> None:
        """Plot the run's ``metrics.jsonl``; with ``follow`` keep polling it (and the events) while the run goes on."""
        self.follower = MetricsFollower(metrics_path(run_dir))
        self.loss_curve.setData([], [])
        self.metric_curve.setData([], [])
        self.metric_box.clear()
        self.poll_metrics()
        if follow:
            self.timer.start()
        elif not self.follower.series:
            self.status.setText(self.tr("No metrics in {folder}.").format(folder=run_dir))
        else:
            self.status.setText(self.tr("Showing {run}: {steps} steps.").format(run=run_dir.name, steps=self.last_step()))

    def poll(self) -> None:
        """One timer tick while a run goes on: its events, then its metrics."""
        self.poll_events()
        self.poll_metrics()

    def poll_metrics(self) -> None:
        if self.follower is None or not self.follower.poll():
            return
        series = self.follower.series
        for name in sorted(series):
            if name not in LOSS_FIELDS and self.metric_box.findText(name) < 0:
                self.metric_box.addItem(name)
        if not self._metric_chosen_by_user:
            preferred = next((name for name in PREFERRED_METRICS if name in series), None)
            if preferred is not None:
                self.metric_box.blockSignals(True)
                self.metric_box.setCurrentText(preferred)
                self.metric_box.blockSignals(False)
        for name in LOSS_FIELDS:
            if name in series:
                self.loss_curve.setData(*series[name])
        self._draw_metric()

    def _on_metric_chosen(self, _position: int) -> None:
        self._metric_chosen_by_user = True
        self._draw_metric()

    def _draw_metric(self) -> None:
        name = self.metric_box.currentText()
        series = self.follower.series if self.follower else {}
        if name in series:
            self.metric_curve.setData(*series[name])
            self.metric_plot.getPlotItem().setTitle(name)
        else:
            self.metric_curve.setData([], [])

    def curve_points(self, name: str) -> int:
        """How many points the plot shows for ``name`` (the loss, or the metric now selected)."""
        curve = self.loss_curve if name in LOSS_FIELDS else self.metric_curve
        if name not in LOSS_FIELDS and self.metric_box.currentText() != name:
            return 0
        return 0 if curve.xData is None else len(curve.xData)

    def last_step(self) -> int:
        steps = self.follower.series.get("loss", ([], []))[0] if self.follower else []
        return int(steps[-1]) if steps else 0
