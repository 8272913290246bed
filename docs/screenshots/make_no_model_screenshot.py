"""Screenshot 19: a library whose own model folder is damaged (its weights file cut short), as the app shows it.

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_no_model_screenshot.py

The picker reads "No usable model" with the library's reason in its tooltip, and the empty library says why under
its model warning. Works on a copy of the shipped default model in a temporary folder; the window alone, 1280x720.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(__file__).resolve().parent / "19-no-usable-model.png"
sys.path.insert(0, str(REPO_ROOT))
SETTLE_MS = 4000  # the picker and the empty state ask the library on worker threads


def main() -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from one_window import grab_and_quit, show_main_window
    from engine.library import Library
    from engine.model_spec import DEFAULT_MODEL_DIR

    application = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as folder:
        own = shutil.copytree(DEFAULT_MODEL_DIR, Path(folder) / "own-model")
        database = Path(folder) / "library.db"
        with Library(database) as library:
            library.use_model(own)
        os.truncate(own / "weights.safetensors", (own / "weights.safetensors").stat().st_size - 100)
        library = Library(database, None)
        window = show_main_window(library)
        QTimer.singleShot(SETTLE_MS, lambda: grab_and_quit(window, application, OUTPUT))
        application.exec()
        library.close()


if __name__ == "__main__":
    main()
