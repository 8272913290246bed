"""Errors reach the user as one clear sentence in a message box, never as a traceback."""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from engine.library_errors import ModelUnavailableError

MAX_MESSAGE_CHARS = 400


def describe_error(error: BaseException) -> str:
    """One line for the user: the exception's own message (engine errors name the path and reason); a missing or
    broken model says what is wrong without the command line's hint (``--model``), which the app has no use for."""
    text = (error.reason if isinstance(error, ModelUnavailableError) else str(error)).strip()
    if not text:
        text = type(error).__name__
    first_line = text.splitlines()[0]
    if first_line.endswith(": give another --db"):  # the command line's hint; the app is started on another file
        first_line = first_line.removesuffix(": give another --db") + QCoreApplication.translate(
            "Errors", " (start the app with another library file).")
    if "attempt to write a readonly database" in first_line:  # SQLite's words, from any change to such a library
        first_line = QCoreApplication.translate("Errors", "The library file is read-only, so this change cannot be "
                                                "saved.")
    return first_line[:MAX_MESSAGE_CHARS]


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """A modal warning with the message; safe to call from any GUI-thread slot."""
    QMessageBox.warning(parent, title, message)


def install_excepthook() -> None:
    """An unexpected exception in a slot becomes a message box; the traceback goes to stderr for bug reports."""

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        traceback.print_exception(kind, error, trace, file=sys.stderr)
        if QApplication.instance() is not None:
            show_error(QApplication.activeWindow(), QCoreApplication.translate("Errors", "Something went wrong"),
                       describe_error(error))

    sys.excepthook = hook
