"""Model picker, the map, the training view (a real short run) and the pure helpers behind them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from app.metrics_file import MetricsFollower
from app.projection import pca_2d
from app.training_command import TrainingRequest
from app.waveform import peak_envelope
from tests_app_helpers import RESULT_TIMEOUT_MS, first_track_id, wait_for_results

TRAINING_TIMEOUT_MS = 400_000


def test_model_picker_switches_the_model_and_similar_follows_it(make_window, indexed_copy, second_model_dir, qtbot):
    window = make_window(indexed_copy)
    picker = window.model_picker
    qtbot.waitUntil(lambda: picker.active_folder() is not None, timeout=RESULT_TIMEOUT_MS)
    first_model = indexed_copy.active_model_id
    picker.register_folder(str(second_model_dir))
    qtbot.waitUntil(lambda: any("not used yet" in choice.label for choice in picker.choices), timeout=RESULT_TIMEOUT_MS)
    with qtbot.waitSignal(window.folders_panel.scan_finished, timeout=RESULT_TIMEOUT_MS * 2):
        picker.switch_to(str(second_model_dir))  # switching re-analyses the library with the new model
    assert indexed_copy.active_model_id != first_model
    assert indexed_copy.active_model_id.startswith("test-random-1")
    analysed = {info.model_id: info.analysed_tracks for info in indexed_copy.models()}
    assert analysed[indexed_copy.active_model_id] == indexed_copy.track_count()
    qtbot.waitUntil(lambda: Path(picker.active_folder()) == second_model_dir.resolve(), timeout=RESULT_TIMEOUT_MS)
    seed = first_track_id(qtbot, window)
    window.similarity_panel.query_track(seed, "seed")
    results = wait_for_results(qtbot, window.similarity_panel).model
    expected = indexed_copy.similar(seed, k=len(results.tracks))
    assert [track.id for track in results.tracks] == [hit.track.id for hit in expected]


def test_models_dialog_lists_analysed_counts_and_adds_a_folder_without_using_it(make_window, indexed_copy, second_model_dir, qtbot):
    window = make_window(indexed_copy)
    picker = window.model_picker
    qtbot.waitUntil(lambda: picker.active_folder() is not None, timeout=RESULT_TIMEOUT_MS)
    dialog = picker.open_dialog()
    active_model = indexed_copy.active_model_id
    tracks = indexed_copy.track_count()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1)
    assert dialog.table.item(0, 0).text().endswith("(active)")
    assert dialog.table.item(0, 1).text() == f"{tracks} of {tracks} tracks analysed"
    with qtbot.waitSignal(picker.registered, timeout=RESULT_TIMEOUT_MS):
        picker.register_folder(str(second_model_dir))
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2)
    assert dialog.table.item(1, 1).text() == "not used yet" and not dialog.table.item(1, 0).text().endswith("(active)")
    assert indexed_copy.active_model_id == active_model  # registering does not switch
    assert [info.active for info in indexed_copy.models()] == [True, False]
    dialog.table.selectRow(0)
    assert not dialog.use_button.isEnabled()  # already active
    dialog.table.selectRow(1)
    assert dialog.use_button.isEnabled()
    with qtbot.waitSignal(picker.model_changed, timeout=RESULT_TIMEOUT_MS):
        dialog.use_button.click()
    assert indexed_copy.active_model_id != active_model
    qtbot.waitUntil(lambda: dialog.table.item(1, 0).text().endswith("(active)"), timeout=RESULT_TIMEOUT_MS)
    window.folders_panel.cancel_scan()  # switching starts the re-analysis with the new model; not needed here


def test_map_places_every_analysed_track_and_clicking_selects_it(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    window.tabs.setCurrentWidget(window.map_view)
    map_view = window.map_view
    qtbot.waitUntil(lambda: map_view.data is not None, timeout=RESULT_TIMEOUT_MS)
    assert len(map_view.data) == indexed_copy.track_count()
    assert np.isfinite(map_view.data.points).all() and map_view.data.points.std(axis=0).min() > 0
    with qtbot.waitSignal(window.similarity_panel.results_shown, timeout=RESULT_TIMEOUT_MS):
        points = map_view.scatter.points()
        map_view.scatter.sigClicked.emit(map_view.scatter, [points[3]], None)
    selected, neighbours = map_view.highlighted_counts()
    assert selected == 1 and neighbours == len(window.similarity_panel.result_ids()) > 0
    map_view.colour_box.setCurrentText("Top tag")
    assert map_view.legend_entries() >= 1


def write_manifest(folder: Path, audio_files: list[Path]) -> Path:
    """A tiny finetuning manifest: each clip with a tag and a key (the generated keys are known)."""
    from engine.keys import key_from_index

    lines = []
    for number, path in enumerate(audio_files):
        track_number = int(path.stem.removeprefix("track"))
        lines.append(json.dumps({"path": str(path), "labels": ["calm" if number % 2 else "bright"],
                                 "key": key_from_index((track_number * 7) % 24).name, "split": "train"}))
    manifest = folder / "labels.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def test_training_view_runs_engine_train_and_plots_its_metrics_live(make_window, indexed_copy, generated_library_source, tmp_path, qtbot):
    window = make_window(indexed_copy)
    view = window.training_view
    files = [path for path in generated_library_source.valid if path.stem.startswith("track")][:8]
    request = TrainingRequest(
        labels=write_manifest(tmp_path, files), base_run="", name="tiny", steps=6, run_dir=tmp_path / "runs" / "tiny",
        batch_size=4,
        overrides={"run": {"log_every": 1, "device": "cpu"}, "data": {"decode_workers": 1},
                   "encoder": {"type": "logfreqcnn", "channels": [4, 8, 8, 8], "embedding_dim": 32}},
    )
    points_while_running: list[int] = []
    view.timer.timeout.connect(lambda: points_while_running.append(view.curve_points("loss")) if view.running else None)
    with qtbot.waitSignal(view.model_ready, timeout=TRAINING_TIMEOUT_MS) as ready:
        view.start(request)
    assert max(points_while_running, default=0) >= 1, "the curve grew while the trainer was still running"
    assert view.curve_points("loss") == 6
    assert view.metric_box.count() > 0 and view.curve_points(view.metric_box.currentText()) == 6
    model_folder = Path(ready.args[0])
    assert (model_folder / "config.json").is_file() and (model_folder / "weights.safetensors").is_file()
    qtbot.waitUntil(lambda: any(choice.folder == str(model_folder.resolve()) for choice in window.model_picker.choices),
                    timeout=RESULT_TIMEOUT_MS)


def test_stop_button_ends_a_running_training(make_window, indexed_copy, generated_library_source, tmp_path, qtbot):
    window = make_window(indexed_copy)
    view = window.training_view
    files = [path for path in generated_library_source.valid if path.stem.startswith("track")][:4]
    request = TrainingRequest(labels=write_manifest(tmp_path, files), base_run="", name="long", steps=100_000,
                              run_dir=tmp_path / "runs" / "long", batch_size=2,
                              overrides={"run": {"log_every": 1, "device": "cpu"},
                                         "encoder": {"type": "logfreqcnn", "channels": [4, 8, 8, 8], "embedding_dim": 32}})
    view.start(request)
    qtbot.waitUntil(lambda: view.curve_points("loss") >= 1, timeout=TRAINING_TIMEOUT_MS)
    view.stop()
    qtbot.waitUntil(lambda: not view.running, timeout=30_000)
    assert "Stopped" in view.status.text()
    assert view.start_button.isEnabled()


def test_metrics_follower_reads_only_complete_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    follower = MetricsFollower(path)
    assert follower.poll() == []
    path.write_text('{"step": 1, "loss": 2.0, "lr": 0.1}\n{"step": 2, "lo', encoding="utf-8")
    assert [record["step"] for record in follower.poll()] == [1]
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('ss": 1.5, "lr": 0.1, "wall_time": 5}\nnot json\n')
    assert [record["step"] for record in follower.poll()] == [2]
    assert follower.series["loss"] == ([1.0, 2.0], [2.0, 1.5])
    assert "wall_time" not in follower.series


def test_pca_2d_keeps_the_direction_of_largest_spread():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 16)).astype(np.float32) * 0.01
    vectors[:, 5] += np.linspace(-3, 3, 200)
    points = pca_2d(vectors)
    assert points.shape == (200, 2)
    assert abs(np.corrcoef(points[:, 0], vectors[:, 5])[0, 1]) > 0.99
    assert pca_2d(vectors[:1]).shape == (1, 2)


def test_peak_envelope_gives_min_and_max_per_column():
    audio = np.array([0.0, 1.0, -1.0, 0.5, 0.2, -0.3], dtype=np.float32)
    lows, highs = peak_envelope(audio, columns=3)
    assert lows.tolist() == [0.0, -1.0, -0.30000001192092896] and highs.tolist() == [1.0, 0.5, 0.20000000298023224]


def test_training_from_library_tags_runs_the_command_and_registers_the_model(
        make_window, open_library, app_model_dir, tmp_path, qtbot):
    from tagged_library import generate_tagged_library

    from app.training_command import LibraryTrainingRequest
    from app.training_view import PHASE_STATUS, PROGRESS_STATUS
    from engine.training_events import EXPORTING, PREPARING, REEMBEDDING, TRAINING

    folder = tmp_path / "tagged"
    generate_tagged_library(folder, albums_per_genre=2, tracks_per_album=2, untagged_albums=1, seconds=4.0)
    library = open_library(tmp_path / "tagged.db")
    library.index([folder], workers=0)
    window = make_window(library)
    view = window.training_view
    assert view.from_library and view.name_edit.text() == "library-genre"
    qtbot.waitUntil(lambda: view.base_box.count() >= 2, timeout=RESULT_TIMEOUT_MS)
    assert [view.base_box.itemText(i) for i in range(2)] == ["The active model", "The shipped default model"]
    view.from_file_button.setChecked(True)  # a labels file may also start from the shipped model (a model folder)
    qtbot.waitUntil(lambda: view.base_box.itemText(0) == "From scratch", timeout=RESULT_TIMEOUT_MS)
    assert view.base_box.itemText(1) == "The shipped default model" and view.name_edit.text() == "my-model"
    view.from_library_button.setChecked(True)
    request = LibraryTrainingRequest(database=library.db_path, fields=("genre",), name="mine", min_tracks=2,
                                     steps=3)  # from the active model: the app passes its folder to the command
    statuses: list[str] = []
    show_status = view.status.setText
    view.status.setText = lambda text: (statuses.append(text), show_status(text))  # every status the run shows
    with qtbot.waitSignal(view.model_ready, timeout=TRAINING_TIMEOUT_MS) as ready:
        view.start(request)
    model_folder = Path(ready.args[0])
    assert model_folder == request.model_dir and (model_folder / "config.json").is_file()
    assert "Finished" in view.status.text(), view.log.toPlainText()[-2000:]
    assert view.curve_points("loss") >= 1
    assert {PHASE_STATUS[phase] for phase in (PREPARING, TRAINING, EXPORTING, REEMBEDDING)} <= set(statuses)  # phases followed
    assert PROGRESS_STATUS[TRAINING].format(step=3, total=3) in statuses  # the last step always comes as an event
    log = view.log.toPlainText()
    assert "train from-library" in log and "--labels genre" in log and "precision" in log.lower()
    assert f"--base {app_model_dir.resolve()}" in log or f"--base {app_model_dir}" in log
    registered = {Path(info.folder).resolve(): info for info in library.models()}
    assert registered[model_folder.resolve()].analysed_tracks == library.track_count()  # the library re-embedded
    assert not registered[model_folder.resolve()].active  # the active model stays


def test_the_picker_says_why_the_librarys_own_model_cannot_be_used(make_window, open_library, app_model_dir, tmp_path,
                                                                   qtbot):
    """A library whose remembered model folder was cut short: the picker's first item says there is no usable model,
    and its tooltip (and the combo's) says why, instead of a bare "No model yet"."""
    import os
    import shutil

    from engine.library import Library

    own = shutil.copytree(app_model_dir, tmp_path / "own-model")
    database = tmp_path / "library.db"
    with Library(database) as library:
        library.use_model(own)
    os.truncate(own / "weights.safetensors", (own / "weights.safetensors").stat().st_size - 100)
    window = make_window(open_library(database, None))
    combo = window.model_picker.combo
    qtbot.waitUntil(lambda: combo.count() > 0 and combo.itemText(0) == "No usable model", timeout=RESULT_TIMEOUT_MS)
    reason = combo.itemData(0, Qt.ItemDataRole.ToolTipRole)
    assert "truncated" in reason and combo.toolTip() == reason and reason.startswith("<p>")  # shown as written
    assert "--model" not in reason  # the command line's way out is not the app's (its way out is this picker)
    assert combo.currentIndex() == 0
    warning = window.library_view.empty_state.model_warning
    qtbot.waitUntil(lambda: warning.isVisible() and "truncated" in warning.text(), timeout=RESULT_TIMEOUT_MS)


def test_error_dialogs_give_a_broken_models_reason_without_the_command_lines_hint(app_model_dir, tmp_path):
    """A scan or search that needs the library's cut-short model fails with the reason in the app's dialogs; the
    CLI's "(mend the folder, or pass --model DIR)" is for the command line only."""
    import os
    import shutil

    import pytest

    from app.errors import describe_error
    from engine.library import Library, LibraryError, ModelUnavailableError

    own = shutil.copytree(app_model_dir, tmp_path / "own-model")
    database = tmp_path / "library.db"
    with Library(database) as library:
        library.use_model(own)
    os.truncate(own / "weights.safetensors", (own / "weights.safetensors").stat().st_size - 100)
    with Library(database) as library, pytest.raises(ModelUnavailableError) as refused:
        library.model()
    assert "--model" in str(refused.value)  # the CLI's message, as before
    shown = describe_error(refused.value)
    assert "truncated" in shown and "--model" not in shown
    assert describe_error(LibraryError("x.mp3: not audio")) == "x.mp3: not audio"
