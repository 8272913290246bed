"""The model picker: which model's embeddings "similar", the map, keys and tags use, and the models dialog.

The toolbar combo switches between the models registered in the library (``Library.models()``) with
``Library.use_model``. The dialog shows every model with how many tracks it has analysed, and registers
a model folder without making it active (``Library.register_model``), e.g. to compare it later.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import show_error
from app.tasks import TaskRunner

CHOOSE_FOLDER_TEXT = QT_TRANSLATE_NOOP("ModelPicker", "Use another model folder…")  # shown through tr()
COMBO_TOOLTIP = QT_TRANSLATE_NOOP("ModelPicker", "The model that analyses tracks and decides what \"similar\" means")
PICKER_WIDTH_CHARACTERS = 40  # "name (77 of 77 tracks analysed)"; its list and tooltips show longer ones whole
DIALOG_SIZE = (760, 360)
DIALOG_COLUMNS = (QT_TRANSLATE_NOOP("ModelsDialog", "Model"), QT_TRANSLATE_NOOP("ModelsDialog", "Tracks analysed"),
                  QT_TRANSLATE_NOOP("ModelsDialog", "Tags"), QT_TRANSLATE_NOOP("ModelsDialog", "Folder"))
TAGS_SHOWN = 6
DIALOG_COLUMN_MODES = (QHeaderView.ResizeMode.ResizeToContents, QHeaderView.ResizeMode.ResizeToContents,
                       QHeaderView.ResizeMode.Stretch, QHeaderView.ResizeMode.Stretch)  # tags and folder share the rest


@dataclass(frozen=True)
class ModelChoice:
    """One registered model: its folder, names, how much of the library it has analysed, and whether it is active."""

    folder: str
    model_id: str
    name: str
    analysed_tracks: int
    library_tracks: int
    tag_names: tuple[str, ...]
    active: bool
    available: bool  # the folder is still there

    @property
    def label(self) -> str:
        return f"{self.name} ({self.analysed_text})"

    @property
    def analysed_text(self) -> str:
        if not self.available:
            return QCoreApplication.translate("ModelPicker", "folder missing")
        if not self.analysed_tracks:
            return QCoreApplication.translate("ModelPicker", "not used yet")
        return QCoreApplication.translate("ModelPicker", "{analysed:,} of {total:,} tracks analysed").format(
            analysed=self.analysed_tracks, total=self.library_tracks)


def active_model_problem(library: Any) -> str | None:
    """Why the library has no usable model (a remembered folder that is broken, the default missing), or None
    (runs on a worker)."""
    from engine.library_errors import ModelUnavailableError

    try:
        library.model_spec()
    except ModelUnavailableError as error:
        return error.reason[:1].upper() + error.reason[1:] or None  # shown as a sentence of its own
    return None


def list_model_choices(library: Any) -> list[ModelChoice]:
    """Every model the library knows, oldest first, with its count of analysed tracks (runs on a worker)."""
    total = library.track_count()
    return [
        ModelChoice(str(Path(info.folder).resolve()), info.model_id, info.name, info.analysed_tracks, total,
                    tuple(info.tag_names), info.active, Path(info.folder).is_dir())
        for info in library.models()
    ]


def _plain_tooltip(text: str) -> str:
    """``text`` as a tooltip that shows it as written: Qt guesses rich text from tag-like parts, and a folder named
    ``<b>beats</b>`` must not turn bold."""
    return f"<p>{html.escape(text)}</p>"


class ModelPicker(QWidget):
    """A combo box and a "Models…" button; ``model_changed(model_id)`` after a successful switch."""

    model_changed = Signal(str)
    choices_changed = Signal()
    registered = Signal(str)  # the model id of a folder registered without activating it

    def __init__(self, library: Any, tasks: TaskRunner, parent=None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library = library
        self.scanning = False  # while a scan runs no model is switched to (``set_scanning``)
        self.choices: list[ModelChoice] = []
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(PICKER_WIDTH_CHARACTERS)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setToolTip(self.tr(COMBO_TOOLTIP))
        self.manage_button = QPushButton(self.tr("Models…"))
        self.manage_button.setToolTip(self.tr("Every model of this library, how many tracks each has analysed; add a "
                                              "model folder"))
        self.manage_button.clicked.connect(self.open_dialog)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(self.tr("Model:")))
        layout.addWidget(self.combo)
        layout.addWidget(self.manage_button)
        self.combo.activated.connect(self._on_activated)
        self.dialog: ModelsDialog | None = None
        self.refresh()

    def refresh(self) -> None:
        library = self.library
        self.tasks.run(lambda: (list_model_choices(library), active_model_problem(library)),
                       lambda found: self._show_choices(*found),
                       lambda message: show_error(self, self.tr("Models"), message))

    def _show_choices(self, choices: list[ModelChoice], problem: str | None = None) -> None:
        """The registered models, the active one chosen; without one, a first item that says why (``problem``, in
        its tooltip and the combo's)."""
        self.choices = choices
        self.combo.blockSignals(True)
        self.combo.clear()
        if not any(choice.active for choice in choices):
            self.combo.addItem(self.tr("No usable model") if problem else self.tr("No model yet"), None)
            if problem:
                self.combo.setItemData(0, _plain_tooltip(problem), Qt.ItemDataRole.ToolTipRole)
        for choice in choices:
            self.combo.addItem(choice.label, choice.folder)
            self.combo.setItemData(self.combo.count() - 1, f"{choice.label}\n{choice.folder}", Qt.ItemDataRole.ToolTipRole)
        self.combo.addItem(self.tr(CHOOSE_FOLDER_TEXT), None)
        active = next((position for position, choice in enumerate(choices) if choice.active), None)
        offset = 0 if active is not None else 1
        self.combo.setCurrentIndex(offset + active if active is not None else 0)
        self.combo.setToolTip(_plain_tooltip(problem) if problem and active is None else self.tr(COMBO_TOOLTIP))
        view = self.combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + view.verticalScrollBar().sizeHint().width())  # whole names in the list
        self.combo.blockSignals(False)
        self.choices_changed.emit()

    def active_folder(self) -> str | None:
        return next((choice.folder for choice in self.choices if choice.active), None)

    def open_dialog(self) -> "ModelsDialog":
        if self.dialog is None:
            self.dialog = ModelsDialog(self, self.window())
        self.dialog.show()
        self.dialog.raise_()
        self.refresh()
        return self.dialog

    def choose_folder_to_use(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Choose a model folder (with config.json)"))
        if folder:
            self.switch_to(folder)
        else:
            self.refresh()

    def _on_activated(self, position: int) -> None:
        if self.combo.itemText(position) == self.tr(CHOOSE_FOLDER_TEXT):
            self.choose_folder_to_use()
            return
        folder = self.combo.itemData(position)
        if folder and folder != self.active_folder():
            self.switch_to(folder)

    def set_scanning(self, scanning: bool) -> None:
        """A running scan analyses with the model it started with: no switch (here or in the Models dialog) until it
        has finished."""
        self.scanning = scanning
        self.setEnabled(not scanning)

    def switch_to(self, folder: str) -> None:
        """Load the model in a worker (it can take a moment) and make it the library's active model."""
        if self.scanning:
            show_error(self, self.tr("Models"), self.tr("A scan is running: switch models when it has finished."))
            return
        library = self.library
        self.setEnabled(False)

        def switched(model_id: str) -> None:
            self.setEnabled(not self.scanning)
            self.refresh()
            self.model_changed.emit(model_id)

        self.tasks.run(lambda: library.use_model(folder), switched,
                       lambda message: self._failed(self.tr("Cannot use this model"), message), kind="background")

    def register_folder(self, folder: str) -> None:
        """List a model folder (e.g. a finished training run) without making it active."""
        library = self.library

        def registered(model_id: str) -> None:
            self.refresh()
            self.registered.emit(model_id)

        self.tasks.run(lambda: library.register_model(folder), registered,
                       lambda message: self._failed(self.tr("Cannot add this model"), message), kind="background")

    def _failed(self, title: str, message: str) -> None:
        self.setEnabled(not self.scanning)
        self.refresh()
        show_error(self, title, message)


class ModelsDialog(QDialog):
    """Every registered model: tracks analysed, tag vocabulary, folder; use one, or add a folder without using it."""

    def __init__(self, picker: ModelPicker, parent=None) -> None:
        super().__init__(parent)
        self.picker = picker
        self.setWindowTitle(self.tr("Models"))
        self.resize(*DIALOG_SIZE)
        intro = QLabel(self.tr("Each model analyses the library on its own; switching keeps the other models' "
                               "analyses, so switching back is instant. Tracks a model has not analysed yet are "
                               "analysed when you use it."))
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(DIALOG_COLUMNS))
        self.table.setHorizontalHeaderLabels([self.tr(name) for name in DIALOG_COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long folders keep their start and end
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for column, mode in enumerate(DIALOG_COLUMN_MODES):
            header.setSectionResizeMode(column, mode)
        self.use_button = QPushButton(self.tr("Use this model"))
        self.use_button.setEnabled(False)
        self.add_button = QPushButton(self.tr("Add model folder…"))
        self.add_button.setToolTip(self.tr("List a model folder here without using it yet"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.use_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.add_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.use_button.clicked.connect(self.use_selected)
        self.add_button.clicked.connect(self._choose_folder_to_add)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.use_selected())
        picker.choices_changed.connect(self.show_choices)
        self.show_choices()

    def show_choices(self) -> None:
        selected = self.selected_choice()
        choices = self.picker.choices
        self.table.setRowCount(len(choices))
        for row, choice in enumerate(choices):
            tags = ", ".join(choice.tag_names[:TAGS_SHOWN]) + (" …" if len(choice.tag_names) > TAGS_SHOWN else "")
            texts = (choice.name + (self.tr("  (active)") if choice.active else ""), choice.analysed_text,
                     tags or self.tr("none"),
                     choice.folder)
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{choice.model_id}\n{choice.folder}")
                if choice.active:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)
            if selected is not None and choice.folder == selected.folder:
                self.table.selectRow(row)
        self._update_buttons()

    def selected_choice(self) -> ModelChoice | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.picker.choices):
            return None
        return self.picker.choices[rows[0].row()]

    def use_selected(self) -> None:
        choice = self.selected_choice()
        if choice is not None and not choice.active and choice.available:
            self.picker.switch_to(choice.folder)

    def _update_buttons(self) -> None:
        choice = self.selected_choice()
        self.use_button.setEnabled(choice is not None and not choice.active and choice.available
                                   and not self.picker.scanning)

    def _choose_folder_to_add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Add a model folder (with config.json)"))
        if folder:
            self.picker.register_folder(folder)
