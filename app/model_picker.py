"""The model picker: which model's embeddings "similar", the map, keys and tags use.

It lists the models the library knows (every model ever used with it) plus model folders the app
has seen (finished training runs, folders the user chose), and switches with ``Library.use_model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QWidget

from app import settings
from app.errors import show_error
from app.tasks import run_task

CHOOSE_FOLDER_TEXT = "Choose a model folder…"
PICKER_WIDTH_CHARACTERS = 24  # the combo shows this much; its list and tooltips show whole names


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the picker: a model folder, how it reads, and whether it is the active one."""

    folder: str
    label: str
    active: bool


def list_model_choices(library: Any, extra_folders: list[str]) -> list[ModelChoice]:
    """Registered models first (with how many tracks each has analysed), then extra folders not yet used."""
    choices: list[ModelChoice] = []
    known: set[str] = set()
    for info in library.models():
        folder = str(Path(info.folder).resolve())
        known.add(folder)
        label = f"{info.name} ({info.analysed_tracks:,} tracks analysed)"
        choices.append(ModelChoice(folder, label, info.active))
    for folder in extra_folders:
        resolved = str(Path(folder).resolve())
        if resolved not in known and Path(resolved).is_dir():
            known.add(resolved)
            choices.append(ModelChoice(resolved, f"{Path(resolved).name} (not used yet)", False))
    return choices


class ModelPicker(QWidget):
    """A combo box; ``model_changed(model_id)`` after a successful switch."""

    model_changed = Signal(str)

    def __init__(self, library: Any, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self.choices: list[ModelChoice] = []
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(PICKER_WIDTH_CHARACTERS)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setToolTip("The model that analyses tracks and decides what \"similar\" means")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Model:"))
        layout.addWidget(self.combo)
        self.combo.activated.connect(self._on_activated)
        self.refresh()

    def refresh(self) -> None:
        library, extra = self.library, settings.known_model_folders()
        run_task(lambda: list_model_choices(library, extra), self._show_choices,
                 lambda message: show_error(self, "Models", message))

    def _show_choices(self, choices: list[ModelChoice]) -> None:
        self.choices = choices
        self.combo.blockSignals(True)
        self.combo.clear()
        if not any(choice.active for choice in choices):
            self.combo.addItem("No model yet", None)
        for choice in choices:
            self.combo.addItem(choice.label, choice.folder)
            self.combo.setItemData(self.combo.count() - 1, f"{choice.label}\n{choice.folder}", Qt.ItemDataRole.ToolTipRole)
        self.combo.addItem(CHOOSE_FOLDER_TEXT, None)
        active = next((position for position, choice in enumerate(choices) if choice.active), None)
        offset = 0 if any(choice.active for choice in choices) else 1
        self.combo.setCurrentIndex(offset + active if active is not None else 0)
        view = self.combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + view.verticalScrollBar().sizeHint().width())  # whole names in the list
        self.combo.blockSignals(False)

    def active_folder(self) -> str | None:
        return next((choice.folder for choice in self.choices if choice.active), None)

    def add_folder(self, folder: str) -> None:
        """Remember a model folder (e.g. a finished training run) so it is offered in the list."""
        settings.remember_model_folder(folder)
        self.refresh()

    def _on_activated(self, position: int) -> None:
        if self.combo.itemText(position) == CHOOSE_FOLDER_TEXT:
            folder = QFileDialog.getExistingDirectory(self, "Choose a model folder (with config.json)")
            if folder:
                settings.remember_model_folder(folder)
                self.switch_to(folder)
            else:
                self.refresh()
            return
        folder = self.combo.itemData(position)
        if folder and folder != self.active_folder():
            self.switch_to(folder)

    def switch_to(self, folder: str) -> None:
        """Load the model in a worker (it can take a moment) and make it the library's active model."""
        library = self.library
        self.combo.setEnabled(False)

        def switched(model_id: str) -> None:
            self.combo.setEnabled(True)
            self.refresh()
            self.model_changed.emit(model_id)

        def failed(message: str) -> None:
            self.combo.setEnabled(True)
            self.refresh()
            show_error(self, "Cannot use this model", message)

        run_task(lambda: library.use_model(folder), switched, failed, kind="background")
