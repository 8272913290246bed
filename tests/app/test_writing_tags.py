"""Writing into the user's files from the app: asked first, done on a worker, summed up with every problem."""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from engine.audio import decoded_audio_digest
from engine.metadata import read_metadata
from tests_app_helpers import RESULT_TIMEOUT_MS


def select_all_rows(qtbot, window) -> list[int]:
    view = window.library_view
    qtbot.waitUntil(lambda: view.model.rowCount() > 0 and view.model.track_at(0) is not None, timeout=RESULT_TIMEOUT_MS)
    view.table.selectAll()
    return view.selected_rows()


def answer_next_dialog(choose) -> None:
    """Let ``choose(dialog)`` answer the modal dialog that is about to open (it blocks the test otherwise)."""
    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, answer)
            return
        choose(dialog)

    QTimer.singleShot(20, answer)


def test_write_key_dialog_offers_three_notations_and_keeps_existing_tags_by_default(qtbot):
    from app.key_write import WriteKeyDialog

    dialog = WriteKeyDialog(3)
    qtbot.addWidget(dialog)
    assert dialog.notation() == "standard" and not dialog.overwrite()
    assert "3 files" in dialog.write_button.text()
    dialog.set_notation("openkey")
    assert dialog.notation() == "openkey"
    assert [button.property("notation") for button in dialog.notation_buttons.buttons()] == ["standard", "camelot", "openkey"]


def test_write_key_action_asks_first_and_writes_nothing_when_cancelled(make_window, writable_library, qtbot):
    library, paths = writable_library
    window = make_window(library)
    select_all_rows(qtbot, window)
    assert window.write_key_action.isEnabled() and window.write_key_action in window.library_view.table.actions()
    before = {name: os.stat(path).st_mtime_ns for name, path in paths.items()}
    answer_next_dialog(lambda dialog: dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Cancel).click())
    window.write_key_action.trigger()
    qtbot.wait(200)
    assert window.key_write.job is None
    assert {name: os.stat(path).st_mtime_ns for name, path in paths.items()} == before


def test_writing_the_key_tags_each_format_keeps_existing_keys_and_lists_problems(make_window, writable_library, qtbot):
    library, paths = writable_library
    os.chmod(paths["ogg"], 0o444)
    audio_before = decoded_audio_digest(paths["mp3"])
    window = make_window(library)
    rows = select_all_rows(qtbot, window)
    assert len(rows) == len(paths)

    def write_in_camelot(dialog) -> None:
        dialog.set_notation("camelot")
        dialog.skip_doubtful_box.setChecked(False)  # a random model doubts its keys: write them all the same
        dialog.write_button.click()

    answer_next_dialog(write_in_camelot)
    with qtbot.waitSignal(window.key_write.done, timeout=RESULT_TIMEOUT_MS) as done:
        window.write_key_action.trigger()
    summary = done.args[0]
    assert (summary.written, summary.kept, summary.not_done) == (2, 1, 0)
    assert [name for name, _ in summary.problems] == [paths["ogg"].name]
    assert "read-only" in summary.problems[0][1]
    for name in ("mp3", "m4a"):
        track = library.track(library.store.track_id_for_path(str(paths[name])))
        assert read_metadata(paths[name]).key == track.key.camelot
    assert read_metadata(paths["flac"]).key == "C"  # an existing key tag is kept unless asked to overwrite
    assert decoded_audio_digest(paths["mp3"]) == audio_before
    box = window.key_write.summary_box
    assert box.isVisible() and paths["ogg"].name in box.text() and "read-only" in box.text()


def test_overwrite_replaces_an_existing_key_tag(make_window, writable_library, qtbot):
    library, paths = writable_library
    window = make_window(library)
    select_all_rows(qtbot, window)
    flac_id = library.store.track_id_for_path(str(paths["flac"]))
    with qtbot.waitSignal(window.key_write.done, timeout=RESULT_TIMEOUT_MS) as done:
        window.key_write.write([flac_id], "openkey", overwrite=True)
    assert done.args[0].written == 1
    assert read_metadata(paths["flac"]).key == library.track(flac_id).key.open_key


def show_suggestions(qtbot, window, scope: str):
    from app.suggestions_panel import SELECTED_TRACK

    panel = window.suggestions_panel
    window.docks["suggestions"].show()
    window.docks["suggestions"].raise_()
    panel.confidence_box.setValue(0.0)  # a random head is unsure of everything: show every suggestion
    if scope == SELECTED_TRACK:
        window.library_view.table.selectRow(0)
    panel.scope_box.setCurrentText(scope)
    qtbot.waitUntil(lambda: bool(panel.suggestion_items()) and "Looking" not in panel.heading.text(), timeout=RESULT_TIMEOUT_MS)
    return panel


def test_suggestions_list_the_selected_tracks_empty_fields_unticked(make_window, suggesting_library, qtbot):
    from PySide6.QtCore import Qt

    from app.suggestions_panel import SELECTED_TRACK

    library, _ = suggesting_library
    window = make_window(library)
    select_all_rows(qtbot, window)
    panel = show_suggestions(qtbot, window, SELECTED_TRACK)
    assert panel.tree.topLevelItemCount() == 1
    texts = [item.text(0) for item in panel.suggestion_items()]
    assert texts and all(text.split(":")[0] in ("mood", "grouping") for text in texts)  # the genre tag is filled
    assert all(item.text(1).endswith("%") for item in panel.suggestion_items())
    assert all(item.checkState(0) == Qt.CheckState.Unchecked for item in panel.suggestion_items())
    assert not panel.write_button.isEnabled()


def test_ticked_suggestions_are_written_after_confirmation_and_leave_the_list(make_window, suggesting_library, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from app.suggestions_panel import TRACKS_LACKING_TAGS

    library, paths = suggesting_library
    window = make_window(library)
    select_all_rows(qtbot, window)
    panel = show_suggestions(qtbot, window, TRACKS_LACKING_TAGS)
    assert panel.tree.topLevelItemCount() == len(paths)
    mood_item = next(item for item in panel.suggestion_items() if item.text(0).startswith("mood:"))
    track, suggestion = mood_item.data(0, Qt.ItemDataRole.UserRole + 1)
    mood_item.setCheckState(0, Qt.CheckState.Checked)
    assert panel.write_button.isEnabled()
    answer_next_dialog(lambda box: box.button(QMessageBox.StandardButton.Yes).click())
    with qtbot.waitSignal(panel.written, timeout=RESULT_TIMEOUT_MS) as written:
        panel.write_button.click()
    assert (written.args[0].written, written.args[0].problems) == (1, [])
    assert read_metadata(track.path).mood == suggestion.value
    qtbot.waitUntil(lambda: "Looking" not in panel.heading.text() and bool(panel.suggestion_items()), timeout=RESULT_TIMEOUT_MS)
    remaining = {(item.data(0, Qt.ItemDataRole.UserRole + 1)[0].track_id, item.text(0).split(":")[0])
                 for item in panel.suggestion_items()}
    assert (track.track_id, "mood") not in remaining  # the field is filled now


def test_a_model_with_plain_tag_names_suggests_nothing_and_says_why(make_window, writable_library, qtbot):
    from app.suggestions_panel import TRACKS_LACKING_TAGS

    library, _ = writable_library
    window = make_window(library)
    panel = window.suggestions_panel
    window.docks["suggestions"].show()
    window.docks["suggestions"].raise_()
    panel.scope_box.setCurrentText(TRACKS_LACKING_TAGS)
    qtbot.waitUntil(lambda: "trained on your own tags" in panel.heading.text(), timeout=RESULT_TIMEOUT_MS)
    assert not panel.suggestion_items()
