"""The panels never name one track and act on another: a dropped file that fails, a track that leaves the library,
rows that move under the selection, a library folder whose name is not UTF-8, a library file that is read-only."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from urllib.parse import quote_from_bytes

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

import audio_factory
from tests_app_helpers import RESULT_TIMEOUT_MS, first_track_id, wait_for_results


def drop(window, url: QUrl) -> None:
    mime = QMimeData()
    mime.setUrls([url])
    window.dropEvent(QDropEvent(QPoint(200, 200).toPointF(), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


def close_message_boxes(seen: list[str]) -> QTimer:
    """Closes every modal message box as it opens (they would block the test), keeping their texts."""
    def close() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.close()

    timer = QTimer()
    timer.timeout.connect(close)
    timer.start(20)
    return timer


def test_a_dropped_file_that_fails_leaves_nothing_of_the_track_before_to_act_on(make_window, indexed_copy, tmp_path,
                                                                                qtbot):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    window.library_view.table.selectRow(0)
    wait_for_results(qtbot, window.similarity_panel)
    details, similar = window.details_panel, window.similarity_panel
    qtbot.waitUntil(lambda: details.details is not None, timeout=RESULT_TIMEOUT_MS)
    seen: list[str] = []
    closer = close_message_boxes(seen)
    drop(window, QUrl.fromLocalFile(str(audio_factory.make_zero_byte(tmp_path / "empty.mp3"))))
    qtbot.waitUntil(lambda: "Cannot show" in details.heading.text() and bool(seen), timeout=RESULT_TIMEOUT_MS)
    closer.stop()
    assert "empty file" in details.heading.text() and "empty file" in seen[0]
    assert details.details is None and not details.play_button.isEnabled() and not details.outside_box.isVisible()
    assert all(not label.text() for label in details.fields.values())
    assert similar.model.tracks == [] and similar.seed is None
    assert not (similar.save_button.isEnabled() or similar.crate_button.isEnabled() or similar.radio_button.isEnabled())


def test_a_dropped_file_whose_name_is_not_utf8_is_found(make_window, indexed_copy, generated_library_source, tmp_path,
                                                        qtbot):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    name = os.fsencode(tmp_path) + b"/caf\xe9.mp3"
    shutil.copy(generated_library_source.valid[1], os.fsdecode(name))
    url = QUrl.fromEncoded(b"file://" + quote_from_bytes(name).encode("ascii"))  # as a file manager sends it
    drop(window, url)
    qtbot.waitUntil(lambda: window.details_panel.details is not None
                    and window.details_panel.details.path == os.fsdecode(name), timeout=RESULT_TIMEOUT_MS)
    assert "caf\ufffd.mp3" in window.details_panel.heading.text()  # shown, with the byte that is not UTF-8 marked


def test_a_track_that_leaves_the_library_leaves_the_panels_and_the_selection_follows_tracks(
        make_window, writable_library, qtbot):
    library, paths = writable_library
    window = make_window(library)
    first_track_id(qtbot, window)
    view, model = window.library_view, window.library_view.model
    qtbot.waitUntil(lambda: all(model.track_at(row) is not None for row in range(model.rowCount())),
                    timeout=RESULT_TIMEOUT_MS)
    chosen_row = 2
    chosen = model.track_at(chosen_row)
    view.table.selectRow(chosen_row)
    wait_for_results(qtbot, window.similarity_panel)
    above = model.track_at(0)  # the table's first row leaves: every row below moves up one
    library.remove_tracks([above.id], exclude=False)
    model.refresh()
    qtbot.waitUntil(lambda: view.selected_track_id() == chosen.id and view.selected_rows() == [chosen_row - 1],
                    timeout=RESULT_TIMEOUT_MS)
    assert window.details_panel.shown_track_id() == chosen.id  # the panels still show the track selected

    library.remove_tracks([chosen.id], exclude=False)  # now the shown track itself goes (a rescan found it gone)
    model.refresh()
    qtbot.waitUntil(lambda: window.details_panel.details is None, timeout=RESULT_TIMEOUT_MS)
    assert "no longer in the library" in window.details_panel.heading.text()
    assert window.similarity_panel.seed is None and window.similarity_panel.model.tracks == []
    qtbot.waitUntil(lambda: not view.table.selectionModel().hasSelection(), timeout=RESULT_TIMEOUT_MS)
    assert not window.write_key_action.isEnabled()


def test_a_library_folder_whose_name_is_not_utf8_is_listed_readably_and_removed(make_window, open_library, tmp_path,
                                                                              qtbot):
    folder = os.fsdecode(os.fsencode(tmp_path) + b"/d\xe9mos")
    os.mkdir(folder)
    library = open_library(tmp_path / "lib.db")
    library.add_folder(folder)
    window = make_window(library)
    panel = window.folders_panel
    qtbot.waitUntil(lambda: panel.folder_list.count() == 1, timeout=RESULT_TIMEOUT_MS)
    assert panel.folder_list.item(0).text().endswith("d\ufffdmos") and panel.folders() == [folder]
    panel.folder_list.item(0).setSelected(True)
    with qtbot.waitSignal(panel.tracks_removed, timeout=RESULT_TIMEOUT_MS):
        panel.remove_selected()
    assert library.folders() == [] and panel.folder_list.count() == 0
    assert not panel.scanning  # nothing left to scan: no scan, and no "no folders" error


def test_a_read_only_library_file_is_browsed_and_searched_but_never_scanned(
        make_window, open_library, app_indexed_database, tmp_path, qtbot, monkeypatch):
    copy = tmp_path / "indexed"
    shutil.copytree(app_indexed_database.parent, copy)
    database = copy / app_indexed_database.name
    with sqlite3.connect(database) as connection:  # fold the WAL in: a read-only file is read whole
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database.chmod(stat.S_IRUSR | stat.S_IRGRP)
    real_access = os.access  # root may write any file whatever its mode: the check is told what a user would see
    monkeypatch.setattr("engine.store.os.access",
                        lambda path, mode: False if str(path) == str(database) and mode == os.W_OK else
                        real_access(path, mode))
    library = open_library(database)
    window = make_window(library)
    track_id = first_track_id(qtbot, window)
    assert library.store.read_only and "read-only" in window.folders_panel.status_label.text()
    controls = window.folders_panel.controls()
    assert not (controls.add or controls.scan or controls.remove)
    assert not window.scan_action.isEnabled() and not window.add_action.isEnabled()
    window.folders_panel.start_scan()  # as a folder watch would ask
    assert not window.folders_panel.scanning
    window.library_view.table.selectRow(0)
    wait_for_results(qtbot, window.similarity_panel)
    assert window.similarity_panel.model.tracks and window.details_panel.shown_track_id() == track_id
    with pytest.raises(Exception, match="read-only"):
        library.index(workers=0)


def test_a_track_selected_before_its_rows_are_loaded_is_shown_when_they_arrive(make_window, open_library, tmp_path,
                                                                               qtbot):
    """A far jump (a dot on the map, a crate, "Select it") selects a row whose page is not loaded yet: the panels
    must show that track once the page arrives, not stay empty."""
    import numpy as np

    from engine.keys import KEY_CLASS_COUNT
    from engine.metadata import TrackMetadata
    from engine.analyzer import TrackAnalysis
    from engine.store import NewTrack

    library = open_library(tmp_path / "big.db")
    model = library.model()
    probabilities = np.full(KEY_CLASS_COUNT, 1.0 / KEY_CLASS_COUNT, dtype=np.float32)
    items = [NewTrack(f"/music/{number:04d}.mp3", 1000, number, f"{number:032x}",
                      TrackMetadata(title=f"Song {number:04d}"),
                      TrackAnalysis(np.ones(model.config.embedding_dim, np.float32), probabilities,
                                    np.zeros(len(model.config.tag_names), np.float32), 1))
             for number in range(700)]
    library.store.save_tracks(items, model.model_id)
    window = make_window(library)
    view = window.library_view
    qtbot.waitUntil(lambda: view.model.rowCount() == 700, timeout=RESULT_TIMEOUT_MS)
    far = next(row for row in reversed(library.tracks(0, 700)) if view.model.loaded_row_of(row.id) is None)
    view.select_track_id(far.id)
    qtbot.waitUntil(lambda: window.details_panel.shown_track_id() == far.id, timeout=RESULT_TIMEOUT_MS)
    assert view.selected_track_id() == far.id


def test_the_similar_list_drops_a_track_that_left_the_library_outside_the_app(make_window, writable_library, qtbot):
    library, _paths = writable_library
    window = make_window(library)
    first_track_id(qtbot, window)
    window.library_view.table.selectRow(0)
    wait_for_results(qtbot, window.similarity_panel)
    gone = window.similarity_panel.result_ids()[0]
    library.remove_tracks([gone], exclude=False)  # as `engine remove` in a terminal would
    window._on_database_changed()  # what the database watch calls when another process wrote
    qtbot.waitUntil(lambda: window.similarity_panel.result_ids() and gone not in window.similarity_panel.result_ids(),
                    timeout=RESULT_TIMEOUT_MS)


def test_space_ticks_a_focused_check_box_instead_of_playing_and_tab_leaves_the_table(make_window, indexed_copy, qtbot):
    from PySide6.QtTest import QTest

    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    played = []
    window.play_or_pause = lambda: played.append(True)
    box = window.similarity_panel.harmonic_box
    box.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is box)
    QTest.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(box.isChecked)
    assert played == []
    assert not window.library_view.table.tabKeyNavigation()


def test_no_model_is_switched_to_while_a_scan_runs(make_window, indexed_copy, model_dir, qtbot):
    """The toolbar picker was off during a scan but the Models dialog's "Use this model" was not: the library ended
    on a model that had analysed nothing, its rescan dropped."""
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    picker = window.model_picker
    before = indexed_copy.active_model_id
    picker.set_scanning(True)
    assert not picker.isEnabled()
    seen: list[str] = []
    closer = close_message_boxes(seen)
    changed: list[str] = []
    picker.model_changed.connect(changed.append)
    picker.switch_to(str(model_dir))
    qtbot.waitUntil(lambda: bool(seen), timeout=RESULT_TIMEOUT_MS)
    closer.stop()
    assert "scan is running" in seen[0] and changed == [] and indexed_copy.active_model_id == before
    picker.set_scanning(False)
    assert picker.isEnabled()
