"""Screenshots of every view in a real window: run under Xvfb, grabbed with ImageMagick's ``import``.

    Xvfb :99 -screen 0 1280x800x24 &
    DISPLAY=:99 python docs/screenshots/make_screenshots.py

Builds a generated library (tests/audio_factory.py) and a random-weights model whose key head is
spread over the tracks (the trained default is not shipped yet), indexes it, then walks the views.
Nothing it makes is shipped: everything lives in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "app"))


def load_module(name: str, path: Path):
    """The two conftest.py files share a name, so each is loaded from its path."""
    specification = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(specification)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    specification.loader.exec_module(module)
    return module


def grab(name: str) -> None:
    subprocess.run(["import", "-window", "root", str(OUTPUT / f"{name}.png")], check=True)
    print("saved", OUTPUT / f"{name}.png")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="screenshots-"))
    os.environ["QT_QPA_PLATFORM"] = "xcb"  # a real window (tests/app/conftest.py would default to offscreen)
    os.environ["XDG_CONFIG_HOME"] = str(work / "config")
    os.environ["XDG_DATA_HOME"] = str(work / "data")
    shared = load_module("shared_conftest", REPO_ROOT / "tests" / "conftest.py")  # model and library generators
    build_key_spreading_model = load_module("app_conftest", REPO_ROOT / "tests" / "app" / "conftest.py").build_key_spreading_model

    from engine.library import Library

    base_model = shared.build_test_model(work / "random-model")
    music = shared.generate_library(work / "Music")
    model_dir = build_key_spreading_model(base_model, work / "models" / "demo-model", music.valid[:16])
    database = work / "library.db"
    with Library(database, model_dir) as library:
        library.index([music.root], workers=0)

    from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
    from PySide6.QtGui import QDropEvent

    from app.application import make_application
    from app.training_command import TrainingRequest
    from test_models_map_training import write_manifest

    application = make_application()
    from app.main_window import MainWindow

    library = Library(database, model_dir)
    empty_library = Library(work / "empty.db")
    empty_window = MainWindow(empty_library)
    empty_window.setWindowState(Qt.WindowState.WindowMaximized)
    empty_window.show()
    window = MainWindow(library)
    window.setWindowState(Qt.WindowState.WindowMaximized)
    dropped = work / "Downloads" / "new-song.mp3"
    dropped.parent.mkdir()
    dropped.write_bytes(music.valid[5].read_bytes())
    files = [path for path in music.valid if path.stem.startswith("track")][:8]
    request = TrainingRequest(labels=write_manifest(work, files), base_run="", name="my-tags", steps=40,
                              run_dir=work / "data" / "semisup-music" / "runs" / "my-tags", batch_size=4,
                              overrides={"run": {"log_every": 1, "device": "cpu"},
                                         "encoder": {"type": "logfreqcnn", "channels": [4, 8, 8, 8], "embedding_dim": 32}})

    def drop_file() -> None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(dropped))])
        window.dropEvent(QDropEvent(QPoint(400, 300).toPointF(), Qt.DropAction.CopyAction, mime,
                                    Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))

    steps = [
        (2500, lambda: grab("01-empty-library")),
        (0, lambda: (empty_window.close(), window.show(), window.folders_panel.refresh())),
        (2500, lambda: window.library_view.table.selectRow(2)),
        (3000, lambda: grab("02-library-details-similar")),
        (0, lambda: window.similarity_panel.harmonic_box.setChecked(True)),
        (2500, lambda: grab("03-harmonic-only")),
        (0, lambda: window.similarity_panel.make_radio()),
        (2500, lambda: grab("04-radio-playlist")),
        (0, lambda: (window.similarity_panel.harmonic_box.setChecked(False), drop_file())),
        (4000, lambda: grab("05-dropped-file")),
        (0, lambda: window.tabs.setCurrentWidget(window.map_view)),
        (4000, lambda: window.map_view.highlight(*window.map_view._highlighted)),
        (500, lambda: grab("06-map-by-key")),
        (0, lambda: window.map_view.colour_box.setCurrentText("Top tag")),
        (1500, lambda: grab("07-map-by-tag")),
        (0, lambda: (window.tabs.setCurrentWidget(window.training_view), window.training_view.start(request))),
        (25000, lambda: grab("08-training-live")),
        (0, lambda: (window.tabs.setCurrentWidget(window.library_view), window.docks["problems"].raise_())),
        (1500, lambda: grab("09-problems")),
        (0, lambda: window.folders_panel.start_scan()),
        (300, lambda: grab("10-scanning")),
        (3000, application.quit),
    ]

    def run_step(position: int) -> None:
        if position == len(steps):
            return
        delay, action = steps[position]
        action()
        QTimer.singleShot(steps[position + 1][0] if position + 1 < len(steps) else 0, lambda: run_step(position + 1))

    QTimer.singleShot(steps[0][0], lambda: run_step(0))
    application.exec()
    window.shutdown()
    empty_window.shutdown()
    library.close()
    empty_library.close()


if __name__ == "__main__":
    main()
