"""Issue 17's library actions in the window: Remove from library (asks, files stay), crates made from a selection
and from the similar list and exported as rekordbox XML and M3U8, and the Duplicates view whose keep-one action
moves the other copies to the trash only after a confirmation."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

import audio_factory
from app.excluded_files import PATH_ROLE
from engine.crate_export import path_from_uri
from tests_app_helpers import RESULT_TIMEOUT_MS, first_track_id, wait_for_results

SCAN_TIMEOUT_MS = 300_000  # the scan runs in a niced child process: on a machine busy with other jobs it is slow
DOCK_TITLE_HEIGHT = 20  # px of a dock's height taken by its title bar


def answer_next_question(button_text: str, seen: list[str]) -> None:
    """Press ``button_text`` in the modal question about to open (recording its text)."""
    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.text() + "\n" + box.informativeText())
        next(button for button in box.buttons() if button.text() == button_text).click()

    QTimer.singleShot(20, answer)


def select_rows(window, rows: list[int]) -> None:
    table = window.library_view.table
    model = window.library_view.model
    table.clearSelection()
    for row in rows:
        table.selectionModel().select(model.index(row, 0), QItemSelectionModel.SelectionFlag.Select
                                      | QItemSelectionModel.SelectionFlag.Rows)


# ---- Remove from library ---------------------------------------------------------------------------------------
def test_remove_from_library_asks_first_and_never_touches_the_files(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    model = window.library_view.model
    before = indexed_copy.track_count()
    select_rows(window, [0, 1])
    chosen = [model.track_at(0), model.track_at(1)]
    assert window.remove_action.isEnabled()
    seen: list[str] = []
    answer_next_question("Cancel", seen)
    window.remove_action.trigger()
    assert "Remove these 2 tracks" in seen[0] and "files stay on disk" in seen[0]
    window.tasks.wait_for_all()
    assert indexed_copy.track_count() == before
    answer_next_question("Remove from library", seen)
    window.remove_action.trigger()
    qtbot.waitUntil(lambda: model.rowCount() == before - 2, timeout=RESULT_TIMEOUT_MS)
    assert all(indexed_copy.track(track.id) is None and Path(track.path).is_file() for track in chosen)


def test_a_removed_track_stays_out_of_rescans_until_restored_from_the_excluded_files(
        make_window, generated_library_source, open_library, qtbot, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    for source in generated_library_source.valid[:2]:
        shutil.copy2(source, folder)
    library = open_library(tmp_path / "exclusions.db")
    library.index([folder], workers=0)
    window = make_window(library)
    first_track_id(qtbot, window)
    model = window.library_view.model
    select_rows(window, [0])
    removed = model.track_at(0)
    seen: list[str] = []
    answer_next_question("Remove from library", seen)
    window.remove_action.trigger()
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=RESULT_TIMEOUT_MS)
    assert "later scans skip them" in seen[0] and "Excluded files" in seen[0]

    window.folders_panel.start_scan()
    qtbot.waitUntil(lambda: not window.folders_panel.scanning, timeout=SCAN_TIMEOUT_MS)
    assert library.track_count() == 1 and library.track_id_for_path(removed.path) is None

    dialog = window.show_excluded_files()
    qtbot.waitUntil(lambda: dialog.file_list.count() == 1 and dialog.file_list.item(0).data(PATH_ROLE) is not None,
                    timeout=RESULT_TIMEOUT_MS)
    assert dialog.file_list.item(0).text() == removed.display_path and not dialog.restore_button.isEnabled()
    dialog.file_list.item(0).setSelected(True)
    dialog.restore_button.click()
    qtbot.waitUntil(lambda: window.folders_panel.scanning or library.track_count() == 2, timeout=RESULT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.folders_panel.scanning and model.rowCount() == 2, timeout=SCAN_TIMEOUT_MS)
    assert library.track_id_for_path(removed.path) is not None and library.excluded_files() == []
    qtbot.waitUntil(lambda: dialog.file_list.item(0).data(PATH_ROLE) is None, timeout=RESULT_TIMEOUT_MS)


def test_the_scan_summary_counts_the_files_it_skipped_as_removed():
    from app.folders_panel import report_text
    from engine.results import IndexReport

    assert report_text(IndexReport(unchanged=3, excluded=2, seconds=1.25)) == (
        "Scan finished: 3 unchanged, 2 skipped (removed from the library) in 1.2 s.")
    assert report_text(IndexReport(unchanged=3, missing_folders=["/media/usb/Music"], seconds=1.0)) == (
        "Scan finished: 3 unchanged in 1.0 s. Not found, so not scanned (their tracks are kept): /media/usb/Music.")
    assert report_text(IndexReport(unchanged=3, empty_folders=["/mnt/music"], seconds=1.0)) == (
        "Scan finished: 3 unchanged in 1.0 s. Empty, so not taken for gone (their tracks are kept; a drive not "
        "mounted? Remove the folder here to forget them): /mnt/music.")


def test_the_scan_progress_and_status_are_in_sight_in_the_first_run_folders_dock(indexed_copy, task_runner, qtbot):
    from app.folders_panel import FoldersPanel
    from app.main_window import LEFT_DOCK_HEIGHTS, SIDE_DOCK_WIDTHS, scrolling

    panel = FoldersPanel(indexed_copy, task_runner)
    dock_area = scrolling(panel, horizontal=True)  # as the window's Folders dock holds it
    qtbot.addWidget(dock_area)
    dock_area.resize(SIDE_DOCK_WIDTHS["folders"], LEFT_DOCK_HEIGHTS["folders"] - DOCK_TITLE_HEIGHT)
    dock_area.show()
    qtbot.waitUntil(lambda: panel.folder_list.count() > 0, timeout=RESULT_TIMEOUT_MS)
    panel.start_scan()
    qtbot.wait(100)  # the layout settles
    try:
        for widget in (panel.progress_bar, panel.cancel_button, panel.status_label):
            shown = widget.visibleRegion().boundingRect()
            assert widget.isVisible() and shown.height() == widget.height(), (
                f"{type(widget).__name__} shows {shown.height()} of {widget.height()} px")
    finally:
        panel.cancel_scan()
        qtbot.waitUntil(lambda: not panel.scanning, timeout=SCAN_TIMEOUT_MS)
        panel.wait_for_scan()


# ---- crates ----------------------------------------------------------------------------------------------------
def test_a_selection_becomes_a_crate_exported_as_rekordbox_xml_and_m3u8(make_window, indexed_copy, qtbot, monkeypatch,
                                                                        tmp_path):
    monkeypatch.setattr("app.crates_view.ask_crate_name", lambda _parent, _names, _suggested: "Friday — set")
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    model = window.library_view.model
    select_rows(window, [0, 1, 2])
    chosen = [model.track_at(row).id for row in range(3)]
    window.add_to_crate_action.trigger()
    crates = window.crates_view
    qtbot.waitUntil(lambda: crates.crate_list.count() == 1 and len(crates.model.tracks) == 3, timeout=RESULT_TIMEOUT_MS)
    assert crates.crate_list.item(0).text() == "Friday — set  (3)"
    assert [track.id for track in crates.model.tracks] == chosen

    crates.export("rekordbox", tmp_path / "set.xml")
    crates.export("m3u8", tmp_path / "set.m3u8")
    qtbot.waitUntil(lambda: (tmp_path / "set.xml").is_file() and (tmp_path / "set.m3u8").is_file(),
                    timeout=RESULT_TIMEOUT_MS)
    root = ElementTree.parse(tmp_path / "set.xml").getroot()
    entries = {int(entry.get("TrackID")): entry for entry in root.iter("TRACK") if entry.get("TrackID")}
    for track in crates.model.tracks:
        assert path_from_uri(entries[track.id].get("Location")) == track.path
        if track.key is not None:
            assert entries[track.id].get("Tonality") == track.key.to_key().short_name
        if track.mixing_bpm is not None:
            assert float(entries[track.id].get("AverageBpm")) == pytest.approx(track.mixing_bpm, abs=0.005)
    playlist = root.find("./PLAYLISTS/NODE/NODE")
    assert playlist.get("Name") == "Friday — set" and [int(t.get("Key")) for t in playlist] == chosen
    lines = (tmp_path / "set.m3u8").read_bytes().decode("utf-8", "surrogateescape").splitlines()
    assert lines[0] == "#EXTM3U" and lines[2::2] == [track.path for track in crates.model.tracks]

    messages: list[str] = []  # a path no M3U8 line can hold is left out, and the message says so
    crates.message.connect(messages.append)
    crates.model.tracks[0] = dataclasses.replace(crates.model.tracks[0], path=str(tmp_path / "two\nlines.mp3"))
    crates.export("m3u8", tmp_path / "odd.m3u8", overwrite=True)
    qtbot.waitUntil(lambda: bool(messages), timeout=RESULT_TIMEOUT_MS)
    assert "1 track(s) left out" in messages[0]


def test_the_similar_list_becomes_a_crate_with_its_seed_first(make_window, indexed_copy, qtbot, monkeypatch):
    asked: list[str] = []
    monkeypatch.setattr("app.crates_view.ask_crate_name",
                        lambda _parent, _names, suggested: asked.append(suggested) or suggested)
    window = make_window(indexed_copy)
    seed = first_track_id(qtbot, window)
    window.library_view.table.selectRow(0)
    panel = wait_for_results(qtbot, window.similarity_panel)
    listed = panel.result_ids()
    panel.crate_button.click()
    crates = window.crates_view
    qtbot.waitUntil(lambda: len(crates.model.tracks) == len(listed) + 1, timeout=RESULT_TIMEOUT_MS)
    assert asked[0].startswith("Like ")
    assert [track.id for track in crates.model.tracks] == [seed, *listed]


def crate_of_four(window, library, qtbot, name: str = "Warm-up"):
    """The Crates tab showing a crate of the library's first four tracks."""
    ids = [track.id for track in library.tracks(0, 4)]
    library.create_crate(name, ids)
    window.tabs.setCurrentIndex(3)
    crates = window.crates_view
    qtbot.waitUntil(lambda: len(crates.model.tracks) == 4, timeout=RESULT_TIMEOUT_MS)
    return crates, ids


def select_crate_rows(crates, rows: list[int]) -> None:
    crates.table.clearSelection()
    for row in rows:
        crates.table.selectionModel().select(crates.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select
                                             | QItemSelectionModel.SelectionFlag.Rows)


def shown_ids(crates) -> list[int]:
    return [track.id for track in crates.model.tracks]


def test_a_crate_is_renamed_and_a_clashing_name_is_refused(make_window, indexed_copy, qtbot, monkeypatch):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    crates, _ids = crate_of_four(window, indexed_copy, qtbot)
    indexed_copy.create_crate("Peak time")
    crates.refresh()
    qtbot.waitUntil(lambda: crates.crate_list.count() == 2, timeout=RESULT_TIMEOUT_MS)
    assert crates.current_crate()[1] == "Warm-up"
    monkeypatch.setattr("app.crates_view.ask_new_crate_name", lambda _parent, current: f"{current} — Friday")
    crates.rename_button.click()
    qtbot.waitUntil(lambda: crates.crate_list.currentItem().text() == "Warm-up — Friday  (4)", timeout=RESULT_TIMEOUT_MS)
    assert sorted(crate.name for crate in indexed_copy.crates()) == ["Peak time", "Warm-up — Friday"]
    errors: list[str] = []
    monkeypatch.setattr("app.crates_view.show_error", lambda _parent, _title, message: errors.append(message))
    monkeypatch.setattr("app.crates_view.ask_new_crate_name", lambda _parent, _current: "Peak time")
    crates.rename_button.click()
    qtbot.waitUntil(lambda: errors != [], timeout=RESULT_TIMEOUT_MS)
    assert "exists already" in errors[0]
    assert sorted(crate.name for crate in indexed_copy.crates()) == ["Peak time", "Warm-up — Friday"]


def test_crate_tracks_move_up_and_down_and_by_a_drag_and_the_order_is_stored(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    crates, ids = crate_of_four(window, indexed_copy, qtbot)
    crate_id = crates.current_crate()[0]
    select_crate_rows(crates, [0])
    assert not crates.up_button.isEnabled() and crates.down_button.isEnabled()
    crates.down_button.click()
    qtbot.waitUntil(lambda: shown_ids(crates) == [ids[1], ids[0], ids[2], ids[3]], timeout=RESULT_TIMEOUT_MS)
    assert crates.selected_rows() == [1]  # the moved track stays selected, so Move down again moves it on
    crates.track_actions[crates.down_button].trigger()  # Alt+Down
    qtbot.waitUntil(lambda: shown_ids(crates) == [ids[1], ids[2], ids[0], ids[3]], timeout=RESULT_TIMEOUT_MS)
    select_crate_rows(crates, [3])
    assert crates.up_button.isEnabled() and not crates.down_button.isEnabled()
    crates.up_button.click()
    qtbot.waitUntil(lambda: shown_ids(crates) == [ids[1], ids[2], ids[3], ids[0]], timeout=RESULT_TIMEOUT_MS)

    # a drag of rows 2 and 3 dropped above row 0: what the table's drop hands the model
    dragged = crates.model.mimeData([crates.model.index(2, 1), crates.model.index(3, 1)])
    crates.model.dropMimeData(dragged, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    expected = [ids[3], ids[0], ids[1], ids[2]]
    qtbot.waitUntil(lambda: shown_ids(crates) == expected, timeout=RESULT_TIMEOUT_MS)
    assert [track.id for track in indexed_copy.crate_tracks(crate_id)] == expected


def test_one_track_leaves_a_crate_but_stays_in_the_library(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    crates, ids = crate_of_four(window, indexed_copy, qtbot)
    before = indexed_copy.track_count()
    select_crate_rows(crates, [1])
    crates.track_actions[crates.take_out_button].trigger()  # Delete in the crate's table; asks nothing
    qtbot.waitUntil(lambda: shown_ids(crates) == [ids[0], ids[2], ids[3]], timeout=RESULT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: crates.crate_list.currentItem().text() == "Warm-up  (3)", timeout=RESULT_TIMEOUT_MS)
    assert indexed_copy.track_count() == before and indexed_copy.track(ids[1]) is not None
    assert not crates.take_out_button.isEnabled()  # nothing selected any more


# ---- duplicates ------------------------------------------------------------------------------------------------
@pytest.fixture
def library_with_a_re_encode(generated_library_source, open_library, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    originals = [Path(shutil.copy2(path, folder)) for path in generated_library_source.valid[:3]]
    copy = audio_factory.reencode(originals[0], folder / "copy-of-the-first.ogg", bitrate="64k")
    library = open_library(tmp_path / "dupes.db")
    library.index([folder], workers=0)
    return library, originals, copy


def test_keep_one_moves_the_other_copies_to_the_trash_only_after_confirmation(make_window, library_with_a_re_encode,
                                                                             qtbot, monkeypatch):
    library, originals, copy = library_with_a_re_encode
    trashed: list[str] = []
    monkeypatch.setattr("app.trash.move_to_trash", trashed.append)
    window = make_window(library)
    window.tabs.setCurrentIndex(4)
    view = window.duplicates_view
    view.find_button.click()
    qtbot.waitUntil(lambda: not view.searching and view.tree.topLevelItemCount() == 1, timeout=RESULT_TIMEOUT_MS)
    group = view.groups[0]
    assert {c.track.path for c in group.copies} == {str(originals[0]), str(copy)}
    view.select_copy(0, 1)  # keep the second copy: the suggested one goes
    kept, other = group.copies[1], group.copies[0]
    seen: list[str] = []
    answer_next_question("Cancel", seen)
    view.keep_button.click()
    window.tasks.wait_for_all()
    assert trashed == [] and library.track(other.track.id) is not None
    assert other.track.display_path in seen[0]
    answer_next_question("Move to trash", seen)
    view.keep_button.click()
    qtbot.waitUntil(lambda: trashed == [other.track.path], timeout=RESULT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not view.searching and view.tree.topLevelItemCount() == 0, timeout=RESULT_TIMEOUT_MS)
    assert library.track(other.track.id) is None and library.track(kept.track.id) is not None


def test_a_file_goes_to_the_freedesktop_trash_not_away(tmp_path, qapp):
    from app.trash import move_to_trash

    doomed = tmp_path / "music" / "copy.mp3"
    doomed.parent.mkdir()
    doomed.write_bytes(b"not really audio")
    move_to_trash(str(doomed))  # the test's XDG_DATA_HOME is tmp_path / "data" (conftest)
    assert not doomed.exists()
    assert (tmp_path / "data" / "Trash" / "files" / "copy.mp3").read_bytes() == b"not really audio"
    assert "Path=" in next((tmp_path / "data" / "Trash" / "info").iterdir()).read_text()


def test_a_file_whose_name_is_not_utf8_goes_to_the_trash_under_its_own_name(tmp_path, qapp):
    import os
    from urllib.parse import unquote_to_bytes

    from app.trash import move_to_trash

    folder = tmp_path / "music"
    folder.mkdir()
    for round_ in (1, 2):  # the second copy of the same name takes the next free name in the trash
        doomed = os.fsdecode(os.fsencode(folder) + b"/caf\xe9.mp3")
        with open(doomed, "wb") as handle:
            handle.write(b"copy %d" % round_)
        move_to_trash(doomed)
        assert not os.path.lexists(doomed)
    files = tmp_path / "data" / "Trash" / "files"
    assert sorted(os.listdir(os.fsencode(files))) == [b"caf\xe9.mp3", b"caf\xe9.mp3.2"]
    info = (tmp_path / "data" / "Trash" / "info").iterdir()
    paths = {unquote_to_bytes(line.removeprefix("Path=")) for entry in info
             for line in entry.read_text(encoding="ascii").splitlines() if line.startswith("Path=")}
    assert paths == {os.fsencode(folder) + b"/caf\xe9.mp3"}  # where each came from, byte for byte


def test_formats_read_as_people_name_them_not_as_decoders_report_them():
    from app.track_format import format_text

    reported = {"mp3float": "MP3", "mp4a.40.2": "AAC", "pcm_s16le": "PCM", "pcm_s16be": "PCM", "vorbis": "VORBIS",
                "flac": "FLAC", "Windows Media Audio V8": "WMA", "opus": "OPUS", None: "OGG"}
    assert {codec: format_text(codec, "/music/a.ogg") for codec in reported} == reported


GERMAN_TS = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS><TS version="2.1" language="de_DE">
<context><name>CratesView</name>
<message><source>Rename…</source><translation>Umbenennen…</translation></message></context>
<context><name>FoldersPanel</name>
<message><source>Scan finished: </source><translation>Scan beendet: </translation></message>
<message><source>{count} added</source><translation>{count} hinzugefügt</translation></message></context>
</TS>
"""


def test_a_translation_file_for_the_users_language_changes_the_apps_words(open_library, task_runner, qapp, tmp_path):
    from PySide6.QtCore import QLocale

    from app.crates_view import CratesView
    from app.folders_panel import report_text
    from app.translations import FILE_PREFIX, install_translations
    from engine.results import IndexReport

    source = tmp_path / f"{FILE_PREFIX}_de.ts"
    source.write_text(GERMAN_TS, encoding="utf-8")
    subprocess.run([str(Path(sys.executable).with_name("pyside6-lrelease")), str(source)], check=True,
                   capture_output=True)
    assert install_translations(qapp, tmp_path, QLocale("fr_FR")) is None  # no French file: English stays
    translator = install_translations(qapp, tmp_path, QLocale("de_AT"))  # German in Austria finds the German file
    try:
        view = CratesView(open_library(tmp_path / "empty.db"), task_runner)
        assert view.rename_button.text() == "Umbenennen…"
        assert view.delete_button.text() == "Delete crate…"  # untranslated: the English source text
        assert report_text(IndexReport(added=2)) == "Scan beendet: 2 hinzugefügt."
    finally:
        qapp.removeTranslator(translator)
    assert report_text(IndexReport(added=2)) == "Scan finished: 2 added."


# ---- watch folders ---------------------------------------------------------------------------------------------
def test_a_new_file_in_a_watched_folder_is_scanned_in_and_an_unwatched_folder_is_left_alone(
        make_window, generated_library_source, open_library, qtbot, tmp_path):
    watched, unwatched = tmp_path / "watched", tmp_path / "unwatched"
    for folder, source in ((watched, generated_library_source.valid[0]), (unwatched, generated_library_source.valid[1])):
        (folder / "album").mkdir(parents=True)
        shutil.copy2(source, folder / "album")
    library = open_library(tmp_path / "watch.db")
    library.index([watched, unwatched], workers=0)
    window = make_window(library)
    watch = window.folder_watch
    watch.debounce.setInterval(200)
    qtbot.waitUntil(lambda: len(watch.library_folders) == 2, timeout=RESULT_TIMEOUT_MS)
    watch.set_watched(str(watched), True)
    qtbot.waitUntil(lambda: set(watch.watched_directories()) == {str(watched), str(watched / "album")},
                    timeout=RESULT_TIMEOUT_MS)
    shutil.copy2(generated_library_source.valid[2], unwatched / "album")
    with qtbot.waitSignal(watch.rescan_requested, timeout=RESULT_TIMEOUT_MS) as requested:
        shutil.copy2(generated_library_source.valid[3], watched / "album")
    assert requested.args == [[str(watched)]] and window.folders_panel.scanning
    qtbot.waitUntil(lambda: not window.folders_panel.scanning, timeout=SCAN_TIMEOUT_MS)
    assert library.track_count() == 3  # the watched folder's new file, not the unwatched one's
    assert library.track_id_for_path(watched / "album" / generated_library_source.valid[3].name) is not None
