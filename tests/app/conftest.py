"""App fixtures: Qt offscreen with private settings, and real libraries (the shared generated music, a test model)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def private_settings(qapp, tmp_path, monkeypatch):
    """Every test gets empty QSettings and its own data folder, so no test sees another's (or a user's) state."""
    from PySide6.QtCore import QSettings

    from app import settings, theme

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    qapp.setOrganizationName(settings.ORGANIZATION)
    qapp.setApplicationName(settings.APPLICATION)
    theme.configure_pyqtgraph()
    yield


KEY_SPREAD_SCALE = 8.0
WINDOWS_PER_TRACK = 4


def build_key_spreading_model(source_model: Path, folder: Path, audio_files: list[Path]) -> Path:
    """The shared random test model, with its key head re-centred on these tracks' encoder outputs.

    A random network gives every track the same key, which cannot exercise the harmonic filter; centring
    the (scaled) random key head on the mean encoder output makes the predicted keys differ between tracks.
    """
    import numpy as np
    import torch

    from engine.audio import read_windows
    from engine.model_folder import load_model, save_model

    shutil.copytree(source_model, folder)
    loaded = load_model(folder)
    config, network = loaded.config, loaded.network
    windows = [read_windows(path, config.sample_rate, config.window_samples, WINDOWS_PER_TRACK).windows
               for path in audio_files]
    with torch.inference_mode():
        outputs = network.encoder(torch.from_numpy(np.concatenate(windows)))
    linear = network.key_head.layers[0]
    with torch.no_grad():
        linear.weight.mul_(KEY_SPREAD_SCALE / outputs.std(dim=0).clamp(min=1e-6))
        linear.bias.copy_(-(linear.weight @ outputs.mean(dim=0)))
    config.name = "test-key-spread"
    return save_model(folder, network, config, model_card="Random weights, for tests only.\n")


@pytest.fixture(scope="session")
def app_model_dir(model_dir, generated_library_source, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("app-model") / "key-spread"
    return build_key_spreading_model(model_dir, folder, generated_library_source.valid[:16])


@pytest.fixture(scope="session")
def app_indexed_database(generated_library_source, app_model_dir, tmp_path_factory) -> Path:
    """The generated library indexed once with ``app_model_dir``; tests use copies (``indexed_copy``)."""
    from engine.library import Library

    database = tmp_path_factory.mktemp("app-indexed") / "library.db"
    with Library(database, app_model_dir) as library:
        library.index([generated_library_source.root], workers=0)
    return database


@pytest.fixture
def open_library(app_model_dir):
    """Opens ``Library`` objects with the test model and closes them after the test."""
    from engine.library import Library

    opened = []

    def open_(database: Path, model: Path | None = app_model_dir) -> Library:
        library = Library(database, model)
        opened.append(library)
        return library

    yield open_
    for library in opened:
        library.close()


@pytest.fixture
def indexed_copy(app_indexed_database, open_library, tmp_path):
    """A private copy of the session's indexed database (with its FAISS cache), opened with the test model."""
    database = app_indexed_database
    target = tmp_path / "indexed"
    shutil.copytree(database.parent, target)
    return open_library(target / database.name)


@pytest.fixture
def task_runner(open_library):
    """The worker threads a view is given, as the app gives them; idle again before the test's libraries close."""
    from app.tasks import TaskRunner

    runner = TaskRunner()
    yield runner
    runner.wait_for_all()


@pytest.fixture
def make_window(qtbot, open_library):
    """Builds the main window on a library as the app does; shuts its workers down before the library closes."""
    from app.application import create_main_window

    windows = []

    def make(library):
        window = create_main_window(library)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()


WRITABLE_FORMATS = ("mp3", "flac", "ogg", "m4a")


FIELD_TAG_NAMES = ["mood:calm", "grouping:live", "genre:rock", "mood:energetic"]  # as `train from-library` names them


def build_field_tag_model(source: Path, folder: Path) -> Path:
    """``source`` with its tag head named like a model trained from library tags names it (so it suggests tags)."""
    from engine.model_folder import load_model, save_model

    loaded = load_model(source)
    loaded.config.tag_head["labels"] = FIELD_TAG_NAMES
    loaded.config.name = "my-library-tags"
    return save_model(folder, loaded.network, loaded.config, model_card="Random weights, for tests only.\n")


@pytest.fixture(scope="session")
def field_tag_model_dir(app_model_dir, tmp_path_factory) -> Path:
    return build_field_tag_model(app_model_dir, tmp_path_factory.mktemp("field-tags") / "model")


def index_writable_copies(source, open_library, tmp_path: Path, model_dir: Path):
    """A private folder with one track per format (so tests may write tags into them), indexed with ``model_dir``;
    the FLAC already has a key tag ("C"). Returns (library, {format: path})."""
    import audio_factory

    folder = tmp_path / "writable"
    folder.mkdir()
    paths = {}
    for extension in WRITABLE_FORMATS:
        original = next(path for path in source.valid if path.suffix == f".{extension}")
        paths[extension] = Path(shutil.copy2(original, folder / f"{extension}-track{original.suffix}"))
    audio_factory.write_tags(paths["flac"], initialkey="C")
    library = open_library(tmp_path / "writable.db", model_dir)
    library.index([folder], workers=0)
    return library, paths


@pytest.fixture
def writable_library(generated_library_source, open_library, app_model_dir, tmp_path):
    return index_writable_copies(generated_library_source, open_library, tmp_path, app_model_dir)


@pytest.fixture
def suggesting_library(generated_library_source, open_library, field_tag_model_dir, tmp_path):
    """``writable_library`` analysed by a model whose tags name fields ("mood:calm"), so it has suggestions."""
    return index_writable_copies(generated_library_source, open_library, tmp_path, field_tag_model_dir)


def record_transport(monkeypatch) -> None:
    """Stands in for Qt's playback engine on a machine without a sound device: play, pause and stop move a
    playback state and emit ``playbackStateChanged`` as Qt's player does, so the player bar's own logic (what
    plays, buttons, labels, seeks, volume, playheads) runs for real while no audio pipeline is started."""
    from PySide6.QtMultimedia import QMediaPlayer

    stopped = QMediaPlayer.PlaybackState.StoppedState

    def transport(state):
        def move(player) -> None:
            if getattr(player, "recorded_state", stopped) != state:
                player.recorded_state = state
                player.playbackStateChanged.emit(state)
        return move

    monkeypatch.setattr(QMediaPlayer, "play", transport(QMediaPlayer.PlaybackState.PlayingState))
    monkeypatch.setattr(QMediaPlayer, "pause", transport(QMediaPlayer.PlaybackState.PausedState))
    monkeypatch.setattr(QMediaPlayer, "stop", transport(stopped))
    monkeypatch.setattr(QMediaPlayer, "playbackState", lambda player: getattr(player, "recorded_state", stopped))


@pytest.fixture
def sound_device(monkeypatch) -> None:
    """A desktop's sound device for the player. Where the machine has one, Qt plays for real. Where
    it has none (CI, servers), the app never plays (``audio_output_available``); a test that told Qt's player
    otherwise would drive its FFmpeg backend into a state the app never reaches (tearing such a player down once hung
    a CI run for its whole budget), so the player is told a device exists and its transport is recorded instead."""
    from app import player

    if player.audio_output_available():
        return
    monkeypatch.setattr(player, "audio_output_available", lambda: True)
    record_transport(monkeypatch)
