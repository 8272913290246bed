"""Application start-up: Qt settings identity, a window at once, then the library and the full window.

Importing the engine (torch) and the plotting library takes seconds on a busy laptop, so a plain window
with the app's title appears first, before any of them is imported, and the full window replaces it when
the library is open. Failures become one message and exit code 1.

Every process-wide effect of the app happens here, once, not in a constructor: the GIL switch interval, the
task runner (the worker threads) handed to the main window, and freezing the start-up objects out of the
cyclic garbage collector.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox

from app import settings, theme
from app.errors import describe_error, install_excepthook
from app.translations import install_translations

EXIT_BAD_INPUT = 1
APPLICATION_NAME = "SemiSup Music"
STARTUP_SIZE = (1280, 800)  # as the main window's default, shrunk to the screen
# Python's default makes a thread that wants the GIL wait up to 5 ms; with worker threads the GUI thread
# would wait that long behind them, and longer on a busy machine. 1 ms keeps the event loop fluid.
GIL_SWITCH_INTERVAL_SECONDS = 0.001


def make_application(argv: list[str] | None = None) -> QApplication:
    application = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    application.setOrganizationName(settings.ORGANIZATION)
    application.setApplicationName(settings.APPLICATION)
    application.setApplicationDisplayName(APPLICATION_NAME)
    install_translations(application)  # the user's language where a translation exists; English otherwise
    return application


def show_startup_window(db_path: Path | None) -> QMainWindow:
    """A window where the main window will be, saying what is happening, shown before the heavy imports."""
    window = QMainWindow()
    window.setWindowTitle(f"{APPLICATION_NAME} — {db_path.name}" if db_path else APPLICATION_NAME)
    label = QLabel(QCoreApplication.translate("Application", "Opening your music library…"))
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
    return library, create_main_window(library)


def create_main_window(library: Any) -> Any:
    """The main window on an open library, with the process set up for it: a short GIL switch interval, a
    ``TaskRunner`` for its worker threads, and the objects alive once it is built frozen out of the cyclic
    collector. The app's start and the tests that drive the whole window both build it here."""
    from app.main_window import MainWindow  # after QApplication exists: pyqtgraph needs it
    from app.tasks import TaskRunner

    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_SECONDS))
    window = MainWindow(library, TaskRunner())
    # Everything alive now (modules, torch, Qt wrappers) lives as long as the app: keep it out of the cyclic
    # collector, whose full passes over it took 70-130 ms here and stalled the event loop mid-scan.
    gc.freeze()
    return window


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
        QMessageBox.critical(None, QCoreApplication.translate("Application", "Cannot open the library"),
                             describe_error(error))
        print(f"error: {describe_error(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    window.show()
    startup.close()
    try:
        return application.exec()
    finally:
        library.close()
