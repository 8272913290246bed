"""Screenshots of every view in a real window: run under Xvfb, grabbed through Qt.

    Xvfb :99 -screen 0 1280x800x24 &
    DISPLAY=:99 python docs/screenshots/make_screenshots.py [--music [NAME=]FOLDER ...] [--sizes 1024x640,1920x1080]
    QT_QPA_PLATFORM=offscreen python docs/screenshots/make_screenshots.py --only-new-views   # 16-17 alone

The numbered screens are the whole X screen (1280x800). The library, a dropped excerpt and the map are also
taken at each ``--sizes`` size (the window alone, resized, with the first-run dock layout for that width), as
``NN-name-WxH.png``. 18 is Library → Excluded files… after two tracks were removed. The Crates and Duplicates tabs
(16, 17) are the window alone at 1280x800 and each ``--sizes``
size; ``--only-new-views`` takes just those (no training, no X server needed: Qt's offscreen platform will do).

Indexes with the shipped default model (resources/models/default): a generated library (tests/audio_factory.py,
with broken files for the problems panel), a genre-tagged one for "Train from my library's tags", and any real
music folders given with ``--music`` (the committed screenshots used the held-out Debian game music of
``engine train data debian``: hedgewars-data, singularity-music, supertuxkart-data). The tag-suggestion model
is trained from the generated library's genre and mood tags (40 steps). Nothing it makes is shipped: it works
in a temporary folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
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
    """The whole X screen (the window with its open menus and dialogs), through Qt: no ImageMagick needed."""
    from PySide6.QtWidgets import QApplication

    QApplication.primaryScreen().grabWindow(0).save(str(OUTPUT / f"{name}.png"))
    print("saved", OUTPUT / f"{name}.png")


WAIT_POLL_MS = 500
WAIT_POLLS = 400  # a step waits at most 200 s for its condition


class Wait:
    """A step that waits (polling) until ``condition()`` holds before the next step's delay starts."""

    def __init__(self, condition) -> None:
        self.condition = condition
        self.polls = 0


SCREENSHOT_CONFIG = {"run": {"log_every": 2, "checkpoint_every": 20},
                     "data": {"batch_size": 8, "decode_workers": 1, "max_seconds": 6.0},
                     "optim": {"warmup_steps": 5}}


def write_small_config(folder: Path) -> Path:
    """The shipped from-library config with a smaller batch and frequent logging (a curve within a minute)."""
    import tomllib

    from engine.toml_writer import toml_document
    from training.from_library import DEFAULT_CONFIG

    sections = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for name, values in SCREENSHOT_CONFIG.items():
        sections.setdefault(name, {}).update(values)
    path = folder / "from-library-screenshots.toml"
    path.write_text(toml_document(sections), encoding="utf-8")
    return path


SUGGESTION_MODEL_STEPS = 40


def train_suggestion_model(database: Path, work: Path) -> Path:
    """A real "my-library-tags" model: `engine train from-library --labels genre,mood` on the indexed library,
    briefly, from the shipped model. Its tag head names its labels by field, so it suggests tags."""
    from training.from_library import FromLibrarySettings, LibraryTraining

    settings = FromLibrarySettings(("genre", "mood"), name="my-library-tags", min_tracks=3, steps=SUGGESTION_MODEL_STEPS,
                                   config_path=write_small_config(work))
    with LibraryTraining(settings, database, say=print) as training:
        training.train()
        return training.model_dir


def copy_audio_files(source: Path, destination: Path) -> Path:
    """The audio files under ``source`` (a package tree holds much else), copied: the screenshots write key tags."""
    from engine.scan import is_audio_name

    for path in source.rglob("*"):
        if path.is_file() and is_audio_name(path.name):
            target = destination / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return destination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music", action="append", default=[], metavar="[NAME=]FOLDER",
                        help="a real music folder to index too (copied, under NAME or the folder's name)")
    parser.add_argument("--sizes", default="1024x640,1920x1080", metavar="WxH[,WxH...]",
                        help="other window sizes to show the main screens at")
    parser.add_argument("--only-new-views", action="store_true",
                        help="only the Crates and Duplicates tabs (16, 17), without the training steps")
    options = parser.parse_args()
    sizes = [tuple(int(number) for number in size.split("x")) for size in options.sizes.split(",") if size]
    work = Path(tempfile.mkdtemp(prefix="screenshots-"))
    if not options.only_new_views:
        os.environ["QT_QPA_PLATFORM"] = "xcb"  # a real window (tests/app/conftest.py would default to offscreen)
    os.environ["XDG_CONFIG_HOME"] = str(work / "config")
    os.environ["XDG_DATA_HOME"] = str(work / "data")
    shared = load_module("shared_conftest", REPO_ROOT / "tests" / "conftest.py")  # model and library generators
    from tagged_library import generate_tagged_library

    from engine.library import Library
    from engine.model_folder import DEFAULT_MODEL_DIR

    music = shared.generate_library(work / "Music")
    import audio_factory  # two re-encoded copies, for the Duplicates view

    copies = work / "Music" / "copies"
    copies.mkdir()
    audio_factory.reencode(music.valid[3], copies / f"{music.valid[3].stem} (96k).ogg", bitrate="96k")
    audio_factory.reencode(music.valid[7], copies / f"{music.valid[7].stem} (copy).mp3", bitrate="128k")
    for name in music.special_names:  # `train from-library` cannot cache non-UTF-8 file names yet (training/data.py)
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            os.remove(name)
    model_dir = Path(shutil.copytree(DEFAULT_MODEL_DIR, work / "models" / "default"))
    real_music = []
    for argument in options.music:
        name, _, folder = argument.rpartition("=")
        real_music.append(copy_audio_files(Path(folder), work / "Game music" / (name or Path(folder).name)))
    tagged_music = work / "Tagged"  # albums with genre tags, for "Train from my library's tags"
    if not options.only_new_views:
        generate_tagged_library(tagged_music, albums_per_genre=3, tracks_per_album=3, untagged_albums=2, seconds=6.0)
    database = work / "library.db"
    with Library(database, model_dir) as library:
        library.index([*real_music, music.root, *([] if options.only_new_views else [tagged_music])], workers=1)
    field_model_dir = None if options.only_new_views else train_suggestion_model(database, work)

    from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
    from PySide6.QtGui import QDropEvent

    from app import theme
    from app.application import make_application
    from app.key_write import WriteKeyDialog, doubtful_key_ids
    from app.library_model import COLUMNS
    from app.suggestions_panel import TRACKS_LACKING_TAGS
    from app.training_command import LibraryTrainingRequest

    application = make_application()
    theme.configure_pyqtgraph()
    from app.application import create_main_window
    from app.main_window import CRATES_TAB, DUPLICATES_TAB, MAP_TAB, TRAINING_TAB

    library = Library(database, model_dir)
    default_model_id = library.active_model_id
    empty_library = Library(work / "empty.db")
    empty_window = create_main_window(empty_library)
    empty_window.setWindowState(Qt.WindowState.WindowMaximized)
    empty_window.show()
    window = create_main_window(library)
    window.setWindowState(Qt.WindowState.WindowMaximized)
    dropped = work / "Downloads" / "new-song.mp3"
    dropped.parent.mkdir()
    if real_music:  # a minute of a real track, re-encoded as a download would be
        source = max((path for path in real_music[0].rglob("*") if path.is_file()), key=lambda path: path.stat().st_size)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "30", "-t", "60", "-i", str(source), "-b:a", "160k",
                        str(dropped)], check=True)
    else:
        dropped.write_bytes(music.valid[5].read_bytes())
    request = LibraryTrainingRequest(database=database, fields=("genre",), name="library-genre", min_tracks=3,
                                     steps=60, config=write_small_config(work))
    headers = [column.header for column in COLUMNS]
    dialogs = []

    def start_training() -> None:
        view = window.training_view
        window.tabs.setCurrentIndex(TRAINING_TAB)
        view.name_edit.setText(request.name)
        view.min_tracks_box.setValue(request.min_tracks)
        view.steps_box.setValue(request.steps)
        view.start(request)

    def open_tracks_menu() -> None:
        window.library_view.table.sortByColumn(headers.index("Key"), Qt.SortOrder.AscendingOrder)
        QTimer.singleShot(1500, lambda: (window.library_view.table.selectRow(3), select_more(4)))

    def select_more(count: int) -> None:
        table = window.library_view.table
        for row in range(4, 4 + count):
            table.selectionModel().select(table.model().index(row, 0), table.selectionModel().SelectionFlag.Select
                                          | table.selectionModel().SelectionFlag.Rows)
        menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&Tracks")
        menu.popup(window.mapToGlobal(window.menuBar().actionGeometry(menu.menuAction()).bottomLeft()))
        dialogs.append(menu)

    def show_write_key_dialog() -> None:
        dialogs.pop().close()
        track_ids = window.library_view.model.track_ids_at(window.library_view.selected_rows())()
        dialog = WriteKeyDialog(len(track_ids), window, len(doubtful_key_ids(library, track_ids)))
        dialog.set_notation("camelot")
        dialog.show()
        dialogs.append(dialog)

    def write_keys() -> None:
        dialogs.pop().close()
        rows = window.library_view.selected_rows()
        track_ids = window.library_view.model.track_ids_at(rows)()
        os.chmod(library.track(track_ids[-1]).path, 0o444)  # one read-only file: its problem is listed
        window.key_write.write(track_ids, "camelot", overwrite=False)

    def show_models() -> None:
        window.key_write.summary_box.close()
        window.model_picker.register_folder(str(field_model_dir))
        QTimer.singleShot(1500, window.model_picker.open_dialog)

    def use_field_tag_model() -> None:
        window.model_picker.dialog.close()
        window.model_picker.switch_to(str(field_model_dir))  # re-analyses the library with it

    def show_suggestions() -> None:
        window.docks["suggestions"].show()
        window.docks["suggestions"].raise_()
        window.suggestions_panel.scope_box.setCurrentText(TRACKS_LACKING_TAGS)
        window.suggestions_panel.confidence_box.setValue(0.3)  # a 40-step model is not very sure of itself
        QTimer.singleShot(2500, tick_some_suggestions)

    def tick_some_suggestions() -> None:
        for item in window.suggestions_panel.suggestion_items()[:6:2]:
            item.setCheckState(0, Qt.CheckState.Checked)

    def resize_window(width: int, height: int) -> None:
        window.docks["suggestions"].hide()
        window.setWindowState(Qt.WindowState.WindowNoState)
        window.resize(width, height)
        window.arrange_docks()
        window.tabs.setCurrentIndex(0)
        window.library_view.table.selectRow(5)

    def grab_window(name: str) -> None:
        window.grab().save(str(OUTPUT / f"{name}.png"))
        print("saved", OUTPUT / f"{name}.png")

    def waveform_drawn() -> Wait:
        return Wait(lambda: window.details_panel.waveform.columns() > 1)

    def sized_steps(width: int, height: int) -> list:
        """The main screens at another window size: the library with a track and its similar tracks, a dropped
        excerpt of a library track, the map."""
        size = f"{width}x{height}"
        return [
            (1000, lambda: resize_window(width, height)),
            (1000, waveform_drawn()),
            (1500, lambda: grab_window(f"02-library-details-similar-{size}")),
            (0, drop_file),
            (5000, lambda: grab_window(f"05-dropped-file-{size}")),
            (0, lambda: (window.map_view.colour_box.setCurrentIndex(0), window.tabs.setCurrentIndex(MAP_TAB))),
            (4000, lambda: grab_window(f"06-map-by-key-{size}")),
        ]

    def show_excluded_files() -> None:
        """Two generated tracks removed from the library (Delete), then Library → Excluded files… listing them."""
        track_ids = [library.track_id_for_path(path) for path in music.valid[10:12]]
        library.remove_tracks([track_id for track_id in track_ids if track_id is not None])
        window.library_view.model.refresh()
        dialogs.append(window.show_excluded_files())

    def make_crates() -> None:
        """Two crates, as a DJ would make them: a radio walk from the third row and the library's first rows."""
        seed = window.library_view.model.track_at(2).id
        for name, tracks in (("Warm-up (radio)", library.playlist(seed, 15)),
                             ("Peak time", [window.library_view.model.track_at(row) for row in range(12)])):
            library.create_crate(name, [track.id for track in tracks if track is not None])

    def show_crates() -> None:
        window.tabs.setCurrentIndex(CRATES_TAB)
        window.crates_view.refresh(select_name="Warm-up (radio)")

    def show_duplicates() -> None:
        window.tabs.setCurrentIndex(DUPLICATES_TAB)
        window.duplicates_view.find()

    def new_view_steps(width: int, height: int) -> list:
        """The Crates tab (after a radio walk kept as a crate) and the Duplicates tab with a copy chosen to keep."""
        size = "" if (width, height) == (1280, 800) else f"-{width}x{height}"
        return [
            (1000, lambda: resize_window(width, height)),
            (2500, show_crates),
            (2500, lambda: grab_window(f"16-crates{size}")),
            (0, show_duplicates),
            (1000, Wait(lambda: not window.duplicates_view.searching)),
            (500, lambda: window.duplicates_view.select_copy(0, 0)),
            (500, lambda: grab_window(f"17-duplicates{size}")),
        ]

    def drop_file() -> None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(dropped))])
        window.dropEvent(QDropEvent(QPoint(400, 300).toPointF(), Qt.DropAction.CopyAction, mime,
                                    Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))

    new_views = [(0, make_crates), *[step for width, height in [(1280, 800), *sizes]
                                     for step in new_view_steps(width, height)]]
    steps = [
        (2500, lambda: grab("01-empty-library")),
        (0, lambda: (empty_window.close(), window.show(), window.folders_panel.refresh())),
        (2500, lambda: window.library_view.table.selectRow(2)),
        (1000, waveform_drawn()),  # the waveform is decoded on a worker: slow on a busy machine
        (1000, lambda: grab("02-library-details-similar")),
        (0, lambda: window.similarity_panel.harmonic_box.setChecked(True)),
        (2500, lambda: grab("03-harmonic-only")),
        (0, lambda: window.similarity_panel.make_radio()),
        (2500, lambda: grab("04-radio-playlist")),
        (0, lambda: (window.similarity_panel.harmonic_box.setChecked(False), drop_file())),
        (4000, lambda: grab("05-dropped-file")),
        (0, lambda: window.tabs.setCurrentIndex(MAP_TAB)),
        (1000, Wait(lambda: window.map_view.data is not None)),  # the projection takes a while on a busy machine
        (1000, lambda: window.map_view.highlight(*window.map_view._highlighted)),
        (500, lambda: grab("06-map-by-key")),
        (0, lambda: window.map_view.colour_box.setCurrentText("Top tag")),
        (1500, lambda: grab("07-map-by-tag")),
        (0, start_training),
        (1000, Wait(lambda: window.training_view.curve_points("loss") >= 12)),
        (0, lambda: grab("08-training-live")),
        (0, lambda: window.training_view.stop()),
        (8000, lambda: (window.tabs.setCurrentWidget(window.library_view), window.docks["problems"].raise_())),
        (1500, lambda: grab("09-problems")),
        (0, lambda: window.folders_panel.start_scan()),
        (300, lambda: grab("10-scanning")),
        (1000, Wait(lambda: not window.folders_panel.scanning)),
        (1000, open_tracks_menu),
        (3000, lambda: grab("11-sorted-by-key-tracks-menu")),
        (0, show_write_key_dialog),
        (1500, lambda: grab("12-write-key-dialog")),
        (0, write_keys),
        (6000, lambda: grab("13-write-key-summary")),
        (0, show_models),
        (3500, lambda: grab("14-models")),
        (0, use_field_tag_model),
        (3000, Wait(lambda: not window.folders_panel.scanning)),
        (1000, show_suggestions),
        (5000, lambda: grab("15-suggested-tags")),
        (0, lambda: window.model_picker.switch_to(str(model_dir))),  # back to the shipped model for the rest
        (3000, Wait(lambda: library.active_model_id == default_model_id and not window.folders_panel.scanning)),
        (1000, show_excluded_files),
        (2500, lambda: grab("18-excluded-files")),
        (0, lambda: dialogs.pop().close()),
        # The other sizes before the Crates tab is first built: its minimum width (591 px, its button row) then
        # holds the central area, and at 1024x640 the side docks shrank to 153 and 264 px (arranged 190 and 300),
        # cutting the similar list's Score column off.
        *[step for width, height in sizes for step in sized_steps(width, height)],
        *new_views,
        (1000, application.quit),
    ]
    if options.only_new_views:
        steps = [(2500, lambda: (empty_window.close(), window.show(), window.library_view.table.selectRow(2))),
                 (3000, Wait(lambda: bool(window.similarity_panel.model.tracks))), *new_views, (1000, application.quit)]

    def run_step(position: int) -> None:
        if position == len(steps):
            return
        delay, action = steps[position]
        if isinstance(action, Wait):
            if not action.condition() and action.polls < WAIT_POLLS:
                action.polls += 1
                QTimer.singleShot(WAIT_POLL_MS, lambda: run_step(position))
                return
        else:
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
