"""Application start-up: Qt settings identity, the library, the window; failures become one message."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from app import settings, theme
from app.errors import describe_error, install_excepthook
from engine.library import Library, LibraryError

EXIT_BAD_INPUT = 1


def make_application(argv: list[str] | None = None) -> QApplication:
    application = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    application.setOrganizationName(settings.ORGANIZATION)
    application.setApplicationName(settings.APPLICATION)
    application.setApplicationDisplayName("SemiSup Music")
    theme.configure_pyqtgraph()
    return application


def run(db_path: Path | None, model_dir: Path | None = None) -> int:
    """Open the library and show the window; a bad database or model folder is a message and exit code 1."""
    application = make_application()
    install_excepthook()
    try:
        library = Library(db_path, model_dir)
    except LibraryError as error:
        QMessageBox.critical(None, "Cannot open the library", describe_error(error))
        print(f"error: {describe_error(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from app.main_window import MainWindow  # after QApplication exists: pyqtgraph needs it

    window = MainWindow(library)
    window.show()
    try:
        return application.exec()
    finally:
        library.close()
