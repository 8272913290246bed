"""The app as a new user finds it (issue 17): a laptop screen, keys and tags the model doubts, panels after a drop,
telling tracks apart, the map, keyboard and player, scan feedback, training messages and start-up."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import mutagen
import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from tests_app_helpers import RESULT_TIMEOUT_MS, first_track_id, wait_for_results

SCAN_TIMEOUT_MS = 300_000  # the scan runs at nice +10: on a machine busy with other jobs it gets little CPU


def drop_file(window, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    window.dropEvent(QDropEvent(QPoint(200, 200).toPointF(), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


def close_next_message_box(seen: list[str]) -> None:
    """Close the modal message box about to open, keeping its text (it would block the test otherwise)."""
    def close() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, close)
            return
        seen.append(box.text())
        box.close()

    QTimer.singleShot(20, close)


def viewport_rows(table) -> int:
    return table.viewport().height() // table.verticalHeader().defaultSectionSize()


# ---- 1. a laptop screen ------------------------------------------------------------------------------------
def test_window_fits_a_1024x600_screen_with_each_side_one_tabbed_dock(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    assert window.minimumSizeHint().width() <= 1024 and window.minimumSizeHint().height() <= 600
    window.resize(1024, 600)
    window.arrange_docks()
    qtbot.waitUntil(lambda: window.width() <= 1024 and window.height() <= 600)
    assert window.tabifiedDockWidgets(window.docks["similar"])  # the right side is one tabbed dock
    assert window.tabifiedDockWidgets(window.docks["folders"])
    assert window.library_view.table.viewport().width() >= 1024 // 3
    assert viewport_rows(window.similarity_panel.table) >= 8


def test_an_800x600_window_puts_every_panel_in_one_dock_and_keeps_most_of_the_width_for_the_table(
        make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    window.resize(800, 600)
    window.arrange_docks()
    qtbot.waitUntil(lambda: window.width() <= 800)
    qtbot.wait(100)
    tabbed = set(window.tabifiedDockWidgets(window.docks["similar"]))
    assert {window.docks[name] for name in ("details", "folders", "problems")} <= tabbed
    assert window.dockWidgetArea(window.docks["folders"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert window.library_view.table.viewport().width() >= 800 // 2  # it had ~290 px beside two side docks
    assert viewport_rows(window.similarity_panel.table) >= 8


def test_the_crates_and_duplicates_tabs_leave_the_side_docks_their_room_on_a_1024_screen(make_window, indexed_copy, qtbot):
    from app.main_window import CRATES_TAB, DUPLICATES_TAB

    window = make_window(indexed_copy)
    window.resize(1024, 640)
    window.arrange_docks()
    qtbot.waitUntil(lambda: window.width() <= 1024)
    qtbot.wait(100)
    similar_width = window.docks["similar"].width()
    for tab in (CRATES_TAB, DUPLICATES_TAB):  # built on first use, then kept: their minimum width lasts
        window.crates_view if tab == CRATES_TAB else window.duplicates_view
        window.tabs.setCurrentIndex(tab)
        qtbot.wait(100)
    window.tabs.setCurrentIndex(0)
    window.arrange_docks()
    qtbot.wait(100)
    assert window.tabs.minimumSizeHint().width() <= 1024 - 190 - 300  # the docks' preferred widths fit beside it
    assert window.docks["similar"].width() >= similar_width - 2


def test_a_1920_screen_gives_its_extra_space_to_the_table_and_the_similar_list(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    window.resize(1280, 800)
    window.arrange_docks()
    qtbot.wait(100)
    table_at_1280 = window.library_view.table.viewport().width()
    window.resize(1920, 1080)
    window.arrange_docks()
    qtbot.waitUntil(lambda: window.width() == 1920)
    qtbot.wait(100)
    assert window.library_view.table.viewport().width() >= table_at_1280 + 500  # nearly all of the 640 extra pixels
    assert not window.tabifiedDockWidgets(window.docks["details"])  # details above similar, side by side
    assert viewport_rows(window.similarity_panel.table) >= 12


# ---- 2. keys the model doubts ------------------------------------------------------------------------------
def test_a_key_below_the_confidence_threshold_is_dimmed_and_called_a_guess(make_window, indexed_copy, qtbot, monkeypatch):
    from app import theme, track_format
    from app.details_panel import key_summary_html
    from app.library_model import KEY_COLUMN

    window = make_window(indexed_copy)
    track_id = first_track_id(qtbot, window)
    model = window.library_view.model
    key = model.track_at(0).key
    cell = model.index(0, KEY_COLUMN)
    monkeypatch.setattr(track_format, "KEY_CONFIDENCE_THRESHOLD", key.confidence + 0.01)
    assert model.data(cell, Qt.ItemDataRole.ForegroundRole).color() == theme.DOUBTFUL_TEXT
    assert f"{key.confidence:.0%} confidence: a guess" in model.data(cell, Qt.ItemDataRole.ToolTipRole)
    assert "a guess" in key_summary_html(key) and theme.DOUBTFUL_TEXT.name() in key_summary_html(key)
    monkeypatch.setattr(track_format, "KEY_CONFIDENCE_THRESHOLD", key.confidence - 0.01)
    assert model.data(cell, Qt.ItemDataRole.ForegroundRole) is None
    assert "a guess" not in key_summary_html(key) and "confidence" in key_summary_html(key)
    assert indexed_copy.track(track_id).key == key


def test_write_key_warns_about_guessed_keys_and_skips_them_unless_asked(make_window, writable_library, qtbot, monkeypatch):
    from app import track_format
    from engine.metadata import read_metadata
    from test_writing_tags import answer_next_dialog, select_all_rows

    library, paths = writable_library
    window = make_window(library)
    select_all_rows(qtbot, window)
    confidences = sorted(library.track(library.store.track_id_for_path(str(path))).key.confidence
                         for path in paths.values())
    threshold = (confidences[1] + confidences[2]) / 2  # the two least confident keys are guesses
    monkeypatch.setattr(track_format, "KEY_CONFIDENCE_THRESHOLD", threshold)
    seen = {}

    def write_skipping_guesses(dialog) -> None:
        seen.update(warning=dialog.doubt_warning.text(), skip=dialog.skip_doubtful_box.isChecked(),
                    button=dialog.write_button.text(), shown=not dialog.doubt_warning.isHidden())
        dialog.set_notation("camelot")
        dialog.write_button.click()

    answer_next_dialog(write_skipping_guesses)
    with qtbot.waitSignal(window.key_write.done, timeout=RESULT_TIMEOUT_MS):
        window.write_key_action.trigger()
    assert seen["shown"] and seen["skip"] and "2 of these keys are" in seen["warning"] and "a guess" in seen["warning"]
    assert seen["button"] == f"Write to {len(paths) - 2} files"
    for name, path in paths.items():
        key = library.track(library.store.track_id_for_path(str(path))).key
        if key.confidence < threshold:
            assert read_metadata(path).key == ("C" if name == "flac" else None)  # skipped: untouched


def test_similar_lists_never_offer_a_track_less_alike_than_unrelated_music(make_window, indexed_copy, qtbot):
    from app.similarity_panel import similar_enough

    track = SimpleNamespace(id=1)
    entries = [SimpleNamespace(track=track, score=0.4, same_recording=False),
               SimpleNamespace(track=track, score=-0.1, same_recording=False),
               SimpleNamespace(track=track, score=1.0, same_recording=True)]
    assert [entry.score for entry in similar_enough(entries)] == [0.4, 1.0]
    window = make_window(indexed_copy)
    panel = window.similarity_panel
    panel.harmonic_box.setChecked(True)
    panel.query_track(first_track_id(qtbot, window), "seed")
    qtbot.waitUntil(lambda: "Harmonic matches" in panel.heading.text(), timeout=RESULT_TIMEOUT_MS)
    raw = indexed_copy.similar(panel.seed.track_id, k=25, harmonic=True)
    assert [score for score in panel.model.scores] == [entry.score for entry in raw if entry.score >= 0]
    assert all(score >= 0 for score in panel.model.scores)


# ---- 3. tags that fire on everything ------------------------------------------------------------------------
def calibrate(library, shown: dict[str, bool]) -> None:
    """Give the active model's tag head a calibration, as config.json's heads.tags.calibration would."""
    config = library.model_spec().config
    config.tag_head["calibration"] = {
        label: {"threshold": 0.0, "shown": shown.get(label, False), "held_out_ap": 0.5, "real_fire_rate": 0.2}
        for label in config.tag_names
    }


def test_only_tags_the_models_calibration_calls_informative_are_shown(make_window, indexed_copy, qtbot):
    from app.library_model import COLUMNS

    labels = indexed_copy.model_spec().config.tag_names
    calibrate(indexed_copy, {labels[1]: True})
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    tags_column = [column.header for column in COLUMNS].index("Tags")
    model = window.library_view.model
    shown = {model.index(row, tags_column).data() for row in range(model.rowCount())}
    assert labels[1] in shown and shown <= {labels[1], ""}  # "": a row whose top tags leave the shown label out
    window.library_view.table.selectRow(0)
    details = window.details_panel
    qtbot.waitUntil(lambda: details.details is not None, timeout=RESULT_TIMEOUT_MS)
    assert list(details.details.tags) == [labels[1]] and len(details.tag_chart.values()) == 1


def test_a_model_without_useful_tags_says_so_instead_of_showing_them(make_window, indexed_copy, qtbot):
    from app.tag_display import NO_USEFUL_TAGS_TEXT

    calibrate(indexed_copy, {})
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    window.library_view.table.selectRow(0)
    details = window.details_panel
    qtbot.waitUntil(lambda: details.details is not None, timeout=RESULT_TIMEOUT_MS)
    assert details.details.tags == {} and details.tags_note.text() == NO_USEFUL_TAGS_TEXT
    assert not details.tags_note.isHidden() and details.tag_chart.isHidden()


# ---- 4. panels after a drop ---------------------------------------------------------------------------------
def test_after_a_drop_the_highlight_is_cleared_and_a_row_click_brings_its_track_back(
        make_window, indexed_copy, generated_library_source, tmp_path, qtbot):
    window = make_window(indexed_copy)
    track_id = first_track_id(qtbot, window)
    view = window.library_view
    view.table.selectRow(0)
    wait_for_results(qtbot, window.similarity_panel)
    outside = tmp_path / "dropped.mp3"
    shutil.copy(generated_library_source.valid[1], outside)
    drop_file(window, outside)
    assert not view.table.selectionModel().hasSelection()  # Ctrl+K has no stale target
    assert not window.write_key_action.isEnabled()
    qtbot.waitUntil(lambda: window.details_panel.details is not None
                    and window.details_panel.details.path == str(outside), timeout=RESULT_TIMEOUT_MS)
    view.table.selectRow(0)
    qtbot.waitUntil(lambda: window.details_panel.details.track_id == track_id, timeout=RESULT_TIMEOUT_MS)
    window.similarity_panel.track_activated.emit(window.similarity_panel.model.tracks[0].id)  # a result shown
    qtbot.waitUntil(lambda: window.details_panel.details.track_id != track_id, timeout=RESULT_TIMEOUT_MS)
    view._on_clicked(view.model.index(0, 0))  # a click on the still-highlighted row shows it again
    qtbot.waitUntil(lambda: window.details_panel.details.track_id == track_id, timeout=RESULT_TIMEOUT_MS)


def test_ctrl_k_writes_to_the_track_shown_not_to_the_highlighted_row(make_window, writable_library, qtbot, monkeypatch):
    library, paths = writable_library
    window = make_window(library)
    first_track_id(qtbot, window)
    window.library_view.table.selectRow(0)
    shown_id = window.library_view.model.track_at(1).id
    window.similarity_panel.track_activated.emit(shown_id)  # a similar result clicked: the panels show it
    asked = []
    monkeypatch.setattr(window.key_write, "ask", lambda count, resolve: asked.append((count, resolve())))
    window.write_key_action.trigger()
    assert asked == [(1, [shown_id])]


def test_a_dropped_excerpt_names_its_library_recording_and_offers_to_select_it(
        make_window, indexed_copy, generated_library_source, tmp_path, qtbot):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    outside = tmp_path / "excerpt.mp3"
    shutil.copy(generated_library_source.valid[1], outside)
    drop_file(window, outside)
    details = window.details_panel
    qtbot.waitUntil(lambda: not details.select_same_button.isHidden(), timeout=RESULT_TIMEOUT_MS)
    library_id = indexed_copy.store.track_id_for_path(str(generated_library_source.valid[1]))
    title = window.similarity_panel.model.tracks[0].title or generated_library_source.valid[1].name
    assert details.same_recording_label.text() == f"Same recording as “{title}” in your library."
    assert "Not in the library" not in details.heading.text() + details.same_recording_label.text()
    details.select_same_button.click()
    view = window.library_view
    qtbot.waitUntil(lambda: view.selected_track() is not None and view.selected_track().id == library_id,
                    timeout=RESULT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: details.details.track_id == library_id, timeout=RESULT_TIMEOUT_MS)


def test_add_to_library_indexes_a_dropped_file(make_window, indexed_copy, generated_library_source, tmp_path, qtbot):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    before = indexed_copy.track_count()
    outside = tmp_path / "elsewhere" / "new-find.flac"
    outside.parent.mkdir()
    shutil.copy(next(path for path in generated_library_source.valid if path.suffix == ".flac"), outside)
    drop_file(window, outside)
    details = window.details_panel
    qtbot.waitUntil(lambda: details.details is not None and details.details.path == str(outside), timeout=RESULT_TIMEOUT_MS)
    assert not details.add_button.isHidden()
    with qtbot.waitSignal(window.folders_panel.scan_finished, timeout=SCAN_TIMEOUT_MS):
        details.add_button.click()
    assert indexed_copy.track_count() == before + 1
    assert indexed_copy.store.track_id_for_path(str(outside)) is not None


# ---- 5. telling tracks apart ---------------------------------------------------------------------------------
def test_header_menu_shows_file_folder_format_and_bitrate_columns_and_columns_move(make_window, indexed_copy, qtbot):
    from app.library_model import COLUMNS
    from app.library_view import LibraryView

    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    view = window.library_view
    headers = [column.header for column in COLUMNS]
    assert {"File", "Folder", "Format", "Bitrate"} <= set(view.hidden_column_headers())
    menu = view.column_menu()
    actions = {action.text(): action for action in menu.actions()}
    assert set(actions) == set(headers)
    for name in ("File", "Folder", "Format", "Bitrate"):
        actions[name].setChecked(True)
    assert view.hidden_column_headers() == []
    row = view.model.track_at(0)
    texts = {name: view.model.index(0, headers.index(name)).data() for name in ("File", "Format", "Bitrate", "Folder")}
    assert texts["File"] == Path(row.path).name and texts["Format"] == (row.codec or Path(row.path).suffix[1:]).upper()
    assert texts["Bitrate"].endswith("kbps") and texts["Folder"].endswith(Path(row.path).parent.name)
    header = view.table.horizontalHeader()
    assert header.sectionsMovable()
    header.moveSection(headers.index("File"), 0)
    header.setSortIndicator(headers.index("BPM"), Qt.SortOrder.DescendingOrder)  # sorts the model
    assert (view.model.order_by, view.model.descending) == (COLUMNS[headers.index("BPM")].order_by, True)
    view.save_columns()
    again = LibraryView(indexed_copy, window.tasks)  # the chosen columns, their order and the sort are remembered
    qtbot.addWidget(again)
    assert again.hidden_column_headers() == [] and again.table.horizontalHeader().logicalIndex(0) == headers.index("File")
    assert (again.model.order_by, again.model.descending) == (view.model.order_by, True)
    assert again.table.horizontalHeader().sortIndicatorOrder() == Qt.SortOrder.DescendingOrder


def test_a_multi_value_title_is_shown_whole(make_window, open_library, generated_library_source, tmp_path, qtbot):
    folder = tmp_path / "multi"
    folder.mkdir()
    path = folder / "two-parts.flac"
    shutil.copy(next(p for p in generated_library_source.valid if p.suffix == ".flac"), path)
    audio = mutagen.File(path)
    audio["title"] = ["Living Caves", "Part 2"]
    audio["artist"] = ["One", "Other"]
    audio.save()
    library = open_library(tmp_path / "multi.db")
    library.index([folder], workers=0)
    window = make_window(library)
    first_track_id(qtbot, window)
    assert window.library_view.model.index(0, 0).data() == "Living Caves; Part 2"
    assert window.library_view.model.index(0, 1).data() == "One; Other"


def test_a_problem_shows_its_file_name_and_its_whole_reason_with_the_folder_in_the_tooltip(make_window, indexed_copy,
                                                                                           qtbot):
    window = make_window(indexed_copy)
    window.resize(1280, 800)
    window.arrange_docks()
    panel = window.problems_panel
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=RESULT_TIMEOUT_MS)
    qtbot.wait(100)
    assert panel.table.textElideMode() == Qt.TextElideMode.ElideMiddle  # a name too long for its column
    path, _reason = panel.rows()[0]
    item = panel.table.item(0, 0)
    assert item.text() == Path(path).name and "/" not in item.text() and str(Path(path).parent) in item.toolTip()
    for row in range(panel.table.rowCount()):  # a reason wraps onto the lines it needs instead of being cut
        reason = panel.table.item(row, 1)
        lines_needed = panel.table.fontMetrics().horizontalAdvance(reason.text()) // panel.table.columnWidth(1) + 1
        assert panel.table.rowHeight(row) >= min(lines_needed, 3) * panel.table.fontMetrics().height()


# ---- 6. the map ----------------------------------------------------------------------------------------------
def test_a_ringed_neighbour_on_the_map_selects_its_track_and_table_row(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    window.tabs.setCurrentIndex(1)
    map_view = window.map_view
    qtbot.waitUntil(lambda: map_view.data is not None, timeout=RESULT_TIMEOUT_MS)
    seed_id = int(map_view.data.track_ids[3])
    with qtbot.waitSignal(window.similarity_panel.results_shown, timeout=RESULT_TIMEOUT_MS):
        map_view.choose(seed_id)
    title = map_view.data.titles[3]
    assert f"Sounds like {title}" in window.similarity_panel.heading.text()
    assert window.library_view.selected_track().id == seed_id  # the dot's table row is selected
    ring = map_view.neighbours.points()[0]
    neighbour_id = int(ring.data())
    with qtbot.waitSignal(window.similarity_panel.results_shown, timeout=RESULT_TIMEOUT_MS):
        map_view.neighbours.sigClicked.emit(map_view.neighbours, [ring], None)  # the ring takes the click
    assert window.library_view.selected_track().id == neighbour_id
    assert window.similarity_panel.seed.track_id == neighbour_id


def test_the_map_legend_lies_beside_the_plot_not_on_it(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    window.tabs.setCurrentIndex(1)
    map_view = window.map_view
    qtbot.waitUntil(lambda: map_view.data is not None and map_view.legend_entries() > 0, timeout=RESULT_TIMEOUT_MS)
    plot_area = map_view.plot_widget.geometry()
    assert not plot_area.intersects(map_view.legend.geometry())
    assert map_view.legend.parent() is map_view


# ---- 7. keyboard and player ----------------------------------------------------------------------------------
def test_keyboard_down_enters_results_enter_plays_and_escape_clears_search(make_window, indexed_copy, qtbot,
                                                                          sound_device):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    view = window.library_view
    view.search_box.setFocus()
    qtbot.keyClick(view.search_box, Qt.Key.Key_Down)
    assert view.table.selectionModel().isRowSelected(0)
    row = view.selected_track()
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert window.player.current_path == str(row.path)
    assert window.player.now_playing.text() == (row.title or Path(row.path).name)  # the title, not the file name
    qtbot.keyClicks(view.search_box, "zzz")
    qtbot.keyClick(view.search_box, Qt.Key.Key_Escape)
    assert view.search_box.text() == ""
    window.player.stop()


def test_space_plays_the_selected_track_and_then_pauses_it(make_window, indexed_copy, qtbot, sound_device):
    from PySide6.QtMultimedia import QMediaPlayer

    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    window.library_view.table.selectRow(2)
    row = window.library_view.selected_track()
    qtbot.waitUntil(lambda: window.details_panel.details is not None
                    and window.details_panel.details.track_id == row.id, timeout=RESULT_TIMEOUT_MS)
    window.play_or_pause()
    assert window.player.current_path == str(row.path)
    qtbot.waitUntil(lambda: window.player.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState,
                    timeout=RESULT_TIMEOUT_MS)  # immediate unless a real device is still loading the file
    window.play_or_pause()
    assert window.player.player.playbackState() == QMediaPlayer.PlaybackState.PausedState
    window.player.stop()


def test_clicking_the_waveform_plays_from_there_and_the_volume_slider_sets_the_volume(
        make_window, indexed_copy, qtbot, sound_device):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    window.docks["details"].raise_()  # on this small screen the track panel shares a tabbed dock
    window.library_view.table.selectRow(0)
    waveform = window.details_panel.waveform
    qtbot.waitUntil(lambda: waveform.columns() > 100 and waveform.isVisible(), timeout=RESULT_TIMEOUT_MS)
    qtbot.wait(100)  # the plot takes its size
    fraction = waveform.fraction_at(waveform.width() * 0.5)
    assert 0.3 < fraction < 0.7
    with qtbot.waitSignal(waveform.seek_requested) as seek:
        qtbot.mouseClick(waveform.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(waveform.width() // 2, 10))
    assert abs(seek.args[0] - fraction) < 0.05
    assert window.player.current_path == window.details_panel.details.path
    window.details_panel.set_playhead(window.details_panel.details.path, 0.25)
    assert waveform.playhead.isVisible() and waveform.playhead.value() == pytest.approx(0.25 * (waveform.columns() - 1))
    window.player.volume_slider.setValue(30)
    assert window.player.audio_output.volume() == pytest.approx(0.30)
    window.player.stop()


def test_without_an_audio_device_the_player_says_there_is_no_audio_output(make_window, indexed_copy, qtbot, monkeypatch):
    from app.player import NO_AUDIO_OUTPUT_TEXT

    monkeypatch.setattr("app.player.audio_output_available", lambda: False)
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    with qtbot.waitSignal(window.player.failed) as failed:
        window.library_view.table.selectRow(0)
        window.library_view.play_current()
    assert "no audio output" in failed.args[0]
    assert window.player.now_playing.text() == NO_AUDIO_OUTPUT_TEXT and not window.player.play_button.isEnabled()


def test_f1_opens_the_keyboard_help_and_about_is_in_the_help_menu(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    assert window.help_action.shortcut().toString() == "F1"
    window.help_action.trigger()
    assert window.help_box.isVisible() and "Space" in window.help_box.text() and "Esc" in window.help_box.text()
    help_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&Help")
    assert window.about_action in help_menu.actions()
    window.help_box.close()


# ---- 8. scan feedback ----------------------------------------------------------------------------------------
def test_scan_state_is_shown_alike_everywhere_and_never_as_0_of_0_files(
        make_window, open_library, generated_library_source, tmp_path, qtbot):
    from app.folders_panel import LOOKING_TEXT, ScanState, progress_text
    from app.index_worker import IndexStatus

    assert progress_text(IndexStatus("scan", 0, 0, 0.0, 1.0)) == LOOKING_TEXT
    folder = tmp_path / "few"
    folder.mkdir()
    for path in generated_library_source.valid[:3]:
        shutil.copy(path, folder / path.name)
    library = open_library(tmp_path / "new.db")
    window = make_window(library)
    panel = window.folders_panel
    window.statusBar().showMessage("Scan cancelled: 3 added.")
    seen = []

    def record(_status=None) -> None:
        seen.append((panel.state, panel.scan_button.isEnabled(), window.scan_action.isEnabled(),
                     panel.cancel_button.isEnabled(), window.cancel_action.isEnabled(), panel.status_label.text(),
                     window.statusBar().currentMessage()))

    panel.scan_progressed.connect(record)
    with qtbot.waitSignal(panel.scan_finished, timeout=SCAN_TIMEOUT_MS):
        panel.add_folder(folder)
    assert seen and all(state is not ScanState.IDLE for state, *_ in seen)
    for _state, panel_scan, toolbar_scan, panel_cancel, toolbar_cancel, text, message in seen:
        assert panel_scan == toolbar_scan is False and panel_cancel == toolbar_cancel is True
        assert "0 / 0" not in text and "cancelled" not in message.lower()
    assert panel.state is ScanState.IDLE
    assert panel.scan_button.isEnabled() and window.scan_action.isEnabled() and not window.cancel_action.isEnabled()


def test_the_table_follows_a_removal_made_by_another_process(make_window, indexed_copy, app_model_dir, qtbot):
    from engine.library import Library

    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    model = window.library_view.model
    before = model.rowCount()
    with Library(indexed_copy.db_path, app_model_dir) as other:  # as `engine` in a terminal would
        other.store.remove_tracks([other.tracks(0, 1)[0].id])
    window.database_watch.check()
    qtbot.waitUntil(lambda: model.rowCount() == before - 1, timeout=RESULT_TIMEOUT_MS)


# ---- 9. training messages ------------------------------------------------------------------------------------
def test_too_few_tags_says_nothing_was_trained_and_names_the_control_not_the_flag(make_window, indexed_copy, qtbot):
    from app.training_command import LibraryTrainingRequest
    from app.training_messages import failure_message
    from engine.training_events import PLANNING

    reason = "too little to learn from: 0 genre label(s) with at least 10 tracks, 2 needed; tag more tracks or lower --min-tracks"
    message = failure_message(PLANNING, reason, 1)
    assert message.startswith("Nothing was trained: Too little") and "“Min. tracks per value”" in message
    assert "--" not in message and "Export" not in message
    window = make_window(indexed_copy)
    window.tabs.setCurrentIndex(2)
    view = window.training_view
    request = LibraryTrainingRequest(database=indexed_copy.db_path, fields=("genre",), name="too-few", min_tracks=10_000)
    seen: list[str] = []
    close_next_message_box(seen)
    view.start(request)
    qtbot.waitUntil(lambda: not view.running and view.start_button.isEnabled() and bool(seen), timeout=SCAN_TIMEOUT_MS)
    assert view.status.text().startswith("Nothing was trained:"), view.log.toPlainText()[-1000:]
    assert "--min-tracks" not in view.status.text() and "exit code" not in view.status.text()
    assert seen == [view.status.text()]


def test_the_suggested_tags_panel_names_the_training_option_that_exists(make_window, indexed_copy, qtbot):
    from app.suggestions_panel import NO_SUGGESTIONS_TEXT

    window = make_window(indexed_copy)
    option = window.training_view.from_library_button.text()
    assert f"\"{option}\"" in NO_SUGGESTIONS_TEXT
    assert window.tabs.tabText(2) in NO_SUGGESTIONS_TEXT


# ---- 10. start-up --------------------------------------------------------------------------------------------
def test_the_map_and_training_tabs_are_built_when_first_opened(make_window, indexed_copy, qtbot):
    from app.map_view import MapView
    from app.training_view import TrainingView

    window = make_window(indexed_copy)
    assert window._map_view is None and window._training_view is None  # not needed to show the window
    window.tabs.setCurrentIndex(1)
    assert isinstance(window.tabs.currentWidget(), MapView) and window._map_view is window.tabs.currentWidget()
    window.tabs.setCurrentIndex(2)
    assert isinstance(window._training_view, TrainingView)
    assert window.tabs.currentWidget().widget() is window._training_view  # in a scroll area: the tab never sets the window's size
    assert [window.tabs.tabText(position) for position in range(3)] == ["Library", "Map", "Training"]


# ---- the tracks' context menu ----------------------------------------------------------------------------------
def test_the_track_context_menu_plays_finds_similar_and_copies_the_selected_paths(
        make_window, indexed_copy, qtbot, sound_device):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    table = window.library_view.table
    assert table.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
    names = [action.text() for action in table.actions() if not action.isSeparator()]
    assert names == ["Play", "Find similar", "Show in file manager", "Copy path", "Add to crate…", "Write key to file…",
                     "Suggest tags…", "Remove from library…"]
    table.selectRow(1)
    table.selectionModel().select(table.model().index(2, 0), table.selectionModel().SelectionFlag.Select
                                  | table.selectionModel().SelectionFlag.Rows)
    selected = [window.library_view.model.track_at(row) for row in (1, 2)]
    window.copy_path_action.trigger()
    qtbot.waitUntil(lambda: QApplication.clipboard().text() != "", timeout=RESULT_TIMEOUT_MS)
    assert QApplication.clipboard().text().splitlines() == [row.display_path for row in selected]
    window.play_action.trigger()
    assert window.player.current_path in {str(row.path) for row in selected}
    window.player.stop()
    with qtbot.waitSignal(window.similarity_panel.results_shown, timeout=RESULT_TIMEOUT_MS):
        window.find_similar_action.trigger()
    assert window.similarity_panel.seed.track_id in {row.id for row in selected}


# ---- a dark desktop --------------------------------------------------------------------------------------------
def test_plots_follow_a_dark_platform_palette(qapp):
    import pyqtgraph as pg
    from PySide6.QtGui import QColor, QPalette

    from app import theme

    light = qapp.palette()
    dark = QPalette(light)
    dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    try:
        qapp.setPalette(dark)
        theme.configure_pyqtgraph()
        assert theme.platform_is_dark() and pg.getConfigOption("background") == theme.DARK_PLOT_BACKGROUND
    finally:
        qapp.setPalette(light)
        theme.configure_pyqtgraph()
    assert pg.getConfigOption("background") == theme.PLOT_BACKGROUND
