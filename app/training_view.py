"""The Training tab: start ``engine train`` as a subprocess, plot its ``metrics.jsonl`` live, stop it.

Training runs in its own process (QProcess), so a crash or a long run never touches the app; the
app only reads the metrics file the trainer appends to, and the process's output for the log pane.
When a run finishes, its exported model folder is offered in the model picker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.errors import show_error
from app.metrics_file import MetricsFollower
from app.tasks import run_task
from app.training_command import (
    DEFAULT_BATCH_SIZE,
    FROM_SCRATCH,
    REPO_ROOT,
    TrainingRequest,
    default_runs_folder,
    export_arguments,
    find_run_folders,
    python_program,
    train_arguments,
    write_config,
)

POLL_INTERVAL_MS = 500
STOP_GRACE_MS = 5000
LOG_MAX_LINES = 3000
LOSS_FIELDS = ("loss",)
METRICS_FILE_NAME = "metrics.jsonl"
# The lower plot starts on the first of these the run logs (quality first, then throughput).
PREFERRED_METRICS = ("val_map", "tag_map", "key_accuracy", "accuracy", "samples_per_s", "lr")
DEFAULT_STEPS = 500


class TrainingView(QWidget):
    """Form → run → live curves; ``model_ready(folder)`` when a run has finished and been exported."""

    model_ready = Signal(str)

    def __init__(self, library: Any, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self.process: QProcess | None = None
        self.follower: MetricsFollower | None = None
        self.request: TrainingRequest | None = None
        self._stage = "idle"  # "train" | "export" | "idle"

        self.labels_edit = QLineEdit()
        self.labels_edit.setPlaceholderText("A JSONL manifest: one clip per line with its \"labels\" and/or \"key\"")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._choose_labels)
        labels_row = QHBoxLayout()
        labels_row.addWidget(self.labels_edit, 1)
        labels_row.addWidget(browse)
        self.base_box = QComboBox()
        self.base_box.setToolTip("Start from the encoder of an earlier training run (e.g. a pretraining run), or from scratch")
        self.name_edit = QLineEdit("my-model")
        self.steps_box = QSpinBox()
        self.steps_box.setRange(1, 1_000_000)
        self.steps_box.setValue(DEFAULT_STEPS)
        self.batch_box = QSpinBox()
        self.batch_box.setRange(2, 4096)
        self.batch_box.setValue(DEFAULT_BATCH_SIZE)
        self.batch_box.setToolTip("Clips per step; smaller is faster per step on a CPU")
        sizes_row = QHBoxLayout()
        sizes_row.addWidget(self.steps_box)
        sizes_row.addWidget(QLabel("Batch size:"))
        sizes_row.addWidget(self.batch_box)
        sizes_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Labels:", labels_row)
        form.addRow("Base model:", self.base_box)
        form.addRow("Model name:", self.name_edit)
        form.addRow("Steps:", sizes_row)

        self.start_button = QPushButton("Start training")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.open_button = QPushButton("Open run…")
        self.open_button.setToolTip("Show the curves of an earlier run folder")
        self.status = QLabel("Pick a labels file and a base model, then start.")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.status, 1)

        self.loss_plot = self._make_plot("Training loss")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen(theme.ACCENT, width=2))
        self.metric_plot = self._make_plot("")
        self.metric_curve = self.metric_plot.plot([], [], pen=pg.mkPen(theme.category_colour(1), width=2))
        self.metric_box = QComboBox()
        self.metric_box.setToolTip("Which logged metric the lower plot shows")
        self.metric_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._metric_chosen_by_user = False
        self.metric_box.activated.connect(self._on_metric_chosen)
        metric_panel = QWidget()
        metric_layout = QVBoxLayout(metric_panel)
        metric_layout.setContentsMargins(0, 0, 0, 0)
        metric_row = QHBoxLayout()
        metric_row.addWidget(QLabel("Metric:"))
        metric_row.addWidget(self.metric_box)
        metric_row.addStretch(1)
        metric_layout.addLayout(metric_row)
        metric_layout.addWidget(self.metric_plot, 1)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_MAX_LINES)
        self.log.setPlaceholderText("The trainer's output appears here.")
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
        self.timer.timeout.connect(self.poll_metrics)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.open_button.clicked.connect(self._choose_run)
        self.refresh_runs()

    @staticmethod
    def _make_plot(title: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(title=title)
        plot.setMenuEnabled(False)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.getPlotItem().setLabel("bottom", "step")
        plot.setMinimumHeight(120)
        return plot

    # ---- form -----------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        """Offer every run folder with a checkpoint under the runs folder as a base."""
        runs_folder = default_runs_folder()
        run_task(lambda: [str(folder) for folder in find_run_folders(runs_folder)], self._show_runs,
                 lambda message: show_error(self, "Training", message))

    def _show_runs(self, run_folders: list[str]) -> None:
        current = self.base_box.currentData()
        self.base_box.clear()
        self.base_box.addItem("From scratch", FROM_SCRATCH)
        for folder in run_folders:
            self.base_box.addItem(f"{Path(folder).name}  (run in {Path(folder).parent})", folder)
        position = self.base_box.findData(current)
        self.base_box.setCurrentIndex(max(0, position))

    def _choose_labels(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Labels manifest", str(Path.home()), "JSONL manifests (*.jsonl);;All files (*)")
        if path:
            self.labels_edit.setText(path)

    def _choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a training run folder", str(default_runs_folder()))
        if folder:
            self.show_run(Path(folder))

    # ---- running --------------------------------------------------------------------------
    def current_request(self) -> TrainingRequest:
        name = self.name_edit.text().strip() or "my-model"
        return TrainingRequest(
            labels=Path(self.labels_edit.text().strip()),
            base_run=self.base_box.currentData() or FROM_SCRATCH,
            name=name,
            steps=self.steps_box.value(),
            run_dir=default_runs_folder() / name,
            batch_size=self.batch_box.value(),
        )

    def start(self, request: TrainingRequest | None = None) -> None:
        if self.running:
            return
        request = request or self.current_request()
        if not request.labels.is_file():
            show_error(self, "Training", f"The labels file does not exist: {request.labels}")
            return
        try:
            write_config(request)
        except OSError as error:
            show_error(self, "Training", f"Cannot write the run folder {request.run_dir}: {error.strerror or error}")
            return
        self.request = request
        self.labels_edit.setText(str(request.labels))
        self.name_edit.setText(request.name)
        self.steps_box.setValue(request.steps)
        self.batch_box.setValue(request.batch_size)
        self.show_run(request.run_dir, follow=True)
        self._launch("train", train_arguments(request))

    def _launch(self, stage: str, arguments: list[str]) -> None:
        self._stage = stage
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
        self.status.setText("Training…" if stage == "train" else "Exporting the model…")
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(stage == "train")
        process.start(python_program(), arguments)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def stop(self) -> None:
        """Ask the trainer to stop (it saves a checkpoint on SIGTERM/SIGINT); kill it if it does not."""
        if not self.running:
            return
        self.status.setText("Stopping…")
        self.stop_button.setEnabled(False)
        self._stage = "stopping"
        self.process.terminate()
        QTimer.singleShot(STOP_GRACE_MS, self._kill_if_running)

    def _kill_if_running(self) -> None:
        if self.running:
            self.process.kill()

    def wait_for_finished(self, timeout_ms: int) -> bool:
        return self.process is None or self.process.waitForFinished(timeout_ms)

    def _read_output(self) -> None:
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", errors="replace")
        for line in text.replace("\r", "\n").splitlines():
            if line.strip():
                self.log.appendPlainText(line.rstrip())

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._finish_ui("Training could not start.")
            show_error(self, "Training", f"Could not start {python_program()}")

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self.poll_metrics()
        stage = self._stage
        crashed = exit_status != QProcess.ExitStatus.NormalExit
        if stage == "stopping":
            self._finish_ui("Stopped. Start again with the same name to continue from the last checkpoint.")
        elif crashed or exit_code != 0:
            self._finish_ui(f"{'Training' if stage == 'train' else 'Export'} failed (exit code {exit_code}); see the log.")
            show_error(self, "Training", self._last_log_line() or f"The trainer exited with code {exit_code}.")
        elif stage == "train" and self.request is not None:
            self._launch("export", export_arguments(self.request))
        elif stage == "export" and self.request is not None:
            folder = str(self.request.model_dir)
            self._finish_ui(f"Finished: the model is in {folder} and in the Model box.")
            self.refresh_runs()
            self.model_ready.emit(folder)

    def _finish_ui(self, message: str) -> None:
        self._stage = "idle"
        self.timer.stop()
        self.status.setText(message)
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _last_log_line(self) -> str:
        lines = [line for line in self.log.toPlainText().splitlines() if line.strip()]
        return lines[-1] if lines else ""

    # ---- curves ---------------------------------------------------------------------------
    def show_run(self, run_dir: Path, follow: bool = False) -> None:
        """Plot ``run_dir/metrics.jsonl``; with ``follow`` keep polling it while the run goes on."""
        self.follower = MetricsFollower(run_dir / METRICS_FILE_NAME)
        self.loss_curve.setData([], [])
        self.metric_curve.setData([], [])
        self.metric_box.clear()
        self.poll_metrics()
        if follow:
            self.timer.start()
        elif not self.follower.series:
            self.status.setText(f"No metrics in {run_dir}.")
        else:
            self.status.setText(f"Showing {run_dir.name}: {self.last_step()} steps.")

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
        if self.running and self._stage == "train":
            self.status.setText(f"Training… step {self.last_step()}")

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
