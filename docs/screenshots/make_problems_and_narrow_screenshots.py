"""Screenshot 09 (the problems panel: each file by its name, the reason wrapped, the folder in its tooltip) and 21
(an 800x600 window: every panel a tab of one dock on the right, so the table keeps most of the width).

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_problems_and_narrow_screenshots.py

Builds a small library of synthesised tracks with broken files beside them in a temporary place, indexes it, and
grabs the main window at 1280x800 with the problems dock shown, then at 800x600 with a track's similar list.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))
SETTLE_MS = 2500  # the table, the problems and the similar list fill on worker threads


def main() -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    import audio_factory
    from app.application import create_main_window
    from engine.keys import Key
    from engine.library import Library

    application = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as folder:
        music = Path(folder) / "Music"
        music.mkdir()
        for number in range(8):
            audio_factory.write_audio(audio_factory.chord_progression(Key(number % 12, "minor" if number % 3 else "major"),
                                                                      8.0, seed=number), music / f"track {number + 1:02d}.flac")
        audio_factory.make_zero_byte(music / "unfinished download.mp3")
        audio_factory.make_text_as_audio(music / "liner notes (not audio).mp3")
        audio_factory.make_truncated(music / "track 01.flac", music / "copied off a failing card.flac")
        audio_factory.make_random_bytes(music / "damaged rip.m4a")
        database = Path(folder) / "library.db"
        with Library(database) as library:
            library.index([music], workers=0)
        library = Library(database, None)
        window = create_main_window(library)
        window.resize(1280, 800)
        window.arrange_docks()
        window.show()
        window.docks["problems"].raise_()

        def wide() -> None:
            path = OUTPUT / "09-problems.png"
            window.grab().save(str(path))
            print("saved", path, "|", window.problems_panel.summary.text())
            window.resize(800, 600)
            window.arrange_docks()
            window.library_view.table.selectRow(2)
            QTimer.singleShot(SETTLE_MS, narrow)

        def narrow() -> None:
            path = OUTPUT / "21-narrow-window-800x600.png"
            window.grab().save(str(path))
            print("saved", path, "| table", window.library_view.table.viewport().width(), "px wide")
            window.shutdown()
            application.quit()

        QTimer.singleShot(SETTLE_MS, wide)
        application.exec()
        library.close()


if __name__ == "__main__":
    main()
