"""Screenshot 23: saving the similar list under a typed name without its extension, where that playlist exists: the
app asks before replacing it (the save dialog only asked about the name as typed). The library's search box holds a
word in another script and case than the titles it finds.

    xvfb-run -a -s "-screen 0 1280x720x24" python docs/screenshots/make_replace_playlist_screenshot.py

Builds a small library of synthesised tracks in a temporary place (some titled in Greek), searches "ΩΔΉ", shows the
first result's similar tracks, answers the save dialog with "friday-set" beside an existing friday-set.m3u8 and
grabs the screen while the question is open; then cancels it (the playlist is left as it was). 1280x720.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(__file__).resolve().parent / "23-replace-playlist.png"
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))
POLL_MS = 300
TIMEOUT_MS = 120_000


def main() -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    import app.similarity_panel
    import audio_factory
    from one_window import show_main_window
    from engine.keys import Key
    from engine.library import Library

    application = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        music = root / "Music"
        music.mkdir()
        titles = ["Ωδή στη Θάλασσα", "Ωδή του Φθινοπώρου", "Harbour Lights", "Night Drive", "Paper Moon", "Slow Tide"]
        for number, title in enumerate(titles):
            path = audio_factory.write_audio(audio_factory.chord_progression(Key(number % 12, "minor"), 8.0, seed=number),
                                             music / f"track {number + 1:02d}.flac")
            audio_factory.write_tags(path, title=title, artist="Studio Example")
        existing = root / "friday-set.m3u8"
        existing.write_text("#EXTM3U\n/my/own/set/opener.flac\n", encoding="utf-8")
        database = root / "library.db"
        with Library(database) as library:
            library.index([music], workers=0)
        library = Library(database, None)
        window = show_main_window(library)
        panel = window.similarity_panel
        app.similarity_panel.QFileDialog.getSaveFileName = staticmethod(lambda *args, **kwargs: (str(root / "friday-set"), ""))

        def search() -> None:
            window.library_view.search_box.setText("ΩΔΉ")
            QTimer.singleShot(1500, show_similar)

        def show_similar() -> None:
            track = window.library_view.model.track_at(0)
            panel.query_track(track.id, track.title)
            wait_then(lambda: bool(panel.model.tracks) and "…" not in panel.heading.text(), ask)

        def ask() -> None:
            QTimer.singleShot(800, grab_question)
            panel.choose_playlist_file()  # modal: returns once the question is answered
            kept = existing.read_text(encoding="utf-8") == "#EXTM3U\n/my/own/set/opener.flac\n"
            print("existing playlist kept:", kept)
            window.shutdown()
            application.quit()

        def grab_question() -> None:
            QApplication.primaryScreen().grabWindow(0).save(str(OUTPUT))
            print("saved", OUTPUT)
            box = QApplication.activeModalWidget()
            if isinstance(box, QMessageBox):
                box.reject()

        def wait_then(condition, then, waited: int = 0) -> None:
            if condition() or waited > TIMEOUT_MS:
                QTimer.singleShot(500, then)
            else:
                QTimer.singleShot(POLL_MS, lambda: wait_then(condition, then, waited + POLL_MS))

        QTimer.singleShot(2000, search)
        QTimer.singleShot(TIMEOUT_MS, application.quit)
        application.exec()
        library.close()


if __name__ == "__main__":
    main()
