"""Application start-up: Qt settings identity, a window at once, then the library and the full window.

Importing the engine (torch) and the plotting library takes seconds on a busy laptop, so a plain window
with the app's title appears first, before any of them is imported, and the full window replaces it when
the library is open. Failures become one message and exit code 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox

from app import settings, theme
from app.errors import describe_error, install_excepthook

EXIT_BAD_INPUT = 1
APPLICATION_NAME = "SemiSup Music"
STARTUP_SIZE = (1280, 800)  # as the main window's default, shrunk to the screen


def make_application(argv: list[str] | None = None) -> QApplication:
    application = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    application.setOrganizationName(settings.ORGANIZATION)
    application.setApplicationName(settings.APPLICATION)
    application.setApplicationDisplayName(APPLICATION_NAME)
    return application


def show_startup_window(db_path: Path | None) -> QMainWindow:
    """A window where the main window will be, saying what is happening, shown before the heavy imports."""
    window = QMainWindow()
    window.setWindowTitle(f"{APPLICATION_NAME} — {db_path.name}" if db_path else APPLICATION_NAME)
    label = QLabel("Opening your music library…")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    window.setCentralWidget(label)
    geometry = settings.bytes_value("window/geometry")
    if geometry is None or not window.restoreGeometry(geometry):
        available = window.screen().availableGeometry() if window.screen() is not None else None
        width, height = STARTUP_SIZE
        window.resize(min(width, available.width()) if available else width,
                      min(height, available.height()) if available else height)
    window.show()
    QApplication.processEvents()  # drawn now, not after the imports below
    return window


def open_main_window(db_path: Path | None, model_dir: Path | None) -> tuple[Any, Any]:
    """The heavy part: import the engine and the views, open the library, build the window (not shown yet).
    Raises ``LibraryError`` for a bad database or model folder."""
    from engine.library import Library

    theme.configure_pyqtgraph()
    library = Library(db_path, model_dir)
    from app.main_window import MainWindow  # after QApplication exists: pyqtgraph needs it

    return library, MainWindow(library)


def run(db_path: Path | None, model_dir: Path | None = None) -> int:
    """Show a window at once, open the library and show the full window; a bad database or model folder is
    a message and exit code 1."""
    application = make_application()
    install_excepthook()
    startup = show_startup_window(db_path)
    from engine.library import LibraryError

    try:
        library, window = open_main_window(db_path, model_dir)
    except LibraryError as error:
        startup.close()
        QMessageBox.critical(None, "Cannot open the library", describe_error(error))
        print(f"error: {describe_error(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    window.show()
    startup.close()
    try:
        return application.exec()
    finally:
        library.close()
