"""Screenshot 20: a scan while one library folder is away (an unmounted drive): the other folder is scanned, the
summary says which folder was not found and that its tracks are kept. With ``--empty``, screenshot 22: the drive's
folder is there but empty (the mount point an unmounted drive leaves), and the summary says its tracks are kept.

    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_missing_folder_screenshot.py [--empty]

Builds a small library of synthesised tracks in two folders in a temporary place, renames one away, starts the
app's scan and grabs the window when it has finished; 1280x720.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = {False: Path(__file__).resolve().parent / "20-folder-away.png",
           True: Path(__file__).resolve().parent / "22-folder-empty.png"}
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))
SETTLE_MS = 1500  # after the scan: the table and the panels refresh on worker threads
TIMEOUT_MS = 120_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--empty", action="store_true", help="the drive's folder left empty instead of away")
    empty = parser.parse_args().empty
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    import audio_factory
    from one_window import grab_and_quit, show_main_window
    from engine.keys import Key
    from engine.library import Library

    application = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        music, drive = root / "Music", root / "USB drive" / "Sets"
        for number, where in enumerate([music] * 4 + [drive] * 3):
            where.mkdir(parents=True, exist_ok=True)
            audio_factory.write_audio(audio_factory.chord_progression(Key(number % 12, "major"), 8.0, seed=number),
                                      where / f"track {number + 1:02d}.flac")
        database = root / "library.db"
        with Library(database) as library:
            library.index([music, drive], workers=0)
        if empty:  # the files go, the folder stays: an empty mount point
            (root / "unplugged").mkdir()
            for track in drive.iterdir():
                track.rename(root / "unplugged" / track.name)
        else:
            drive.parent.rename(root / "unplugged")
        library = Library(database, None)
        window = show_main_window(library)

        def grab() -> None:
            grab_and_quit(window, application, OUTPUTS[empty], window.folders_panel.status_label.text())

        window.folders_panel.scan_finished.connect(lambda _report: QTimer.singleShot(SETTLE_MS, grab))
        QTimer.singleShot(2000, window.folders_panel.start_scan)
        QTimer.singleShot(TIMEOUT_MS, application.quit)
        application.exec()
        library.close()


if __name__ == "__main__":
    main()
