"""Track details, similar tracks, dropped files, the harmonic toggle, playlists and the player."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.track_list_model import SAME_RECORDING_TEXT, SCORE_COLUMN
from decode_counter import DecodeCounter
from key_wheel import codes_mix
from tests_app_helpers import first_track_id, wait_for_results

RESULT_TIMEOUT_MS = 60_000


def test_selecting_a_track_shows_its_details_and_similar_tracks(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    track_id = first_track_id(qtbot, window)
    window.library_view.table.selectRow(0)
    panel = wait_for_results(qtbot, window.similarity_panel)
    assert track_id not in panel.result_ids()
    scores = panel.model.scores
    assert scores == sorted(scores, reverse=True)
    details = window.details_panel
    qtbot.waitUntil(lambda: details.details is not None and details.details.track_id == track_id, timeout=RESULT_TIMEOUT_MS)
    key = details.details.key
    assert key.name in details.key_label.text() and key.camelot in details.key_label.text()
    assert key.open_key in details.key_label.text() and "confidence" in details.key_label.text()
    assert len(details.tag_chart.values()) == 4  # every tag of the test model, not only the top three
    qtbot.waitUntil(lambda: details.waveform.low_curve.xData is not None and len(details.waveform.low_curve.xData) > 100,
                    timeout=RESULT_TIMEOUT_MS)


def test_dropping_an_audio_file_analyses_it_and_lists_similar_tracks(make_window, indexed_copy, generated_library_source, tmp_path, qtbot):
    window = make_window(indexed_copy)
    outside = tmp_path / "dropped.mp3"
    outside.write_bytes(generated_library_source.valid[1].read_bytes())  # same audio, a path not in the library
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(outside))])
    event = QDropEvent(QPoint(200, 200).toPointF(), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    panel = wait_for_results(qtbot, window.similarity_panel)
    assert "dropped.mp3" in panel.heading.text()
    top = panel.model.tracks[0]
    assert Path(top.path) == generated_library_source.valid[1]  # its own audio in the library comes first
    score_cell = panel.model.index(0, SCORE_COLUMN)
    assert panel.model.data(score_cell) == SAME_RECORDING_TEXT  # ... marked as the same recording
    assert "same recording" in panel.model.data(score_cell, Qt.ItemDataRole.ToolTipRole)
    assert panel.model.data(panel.model.index(1, SCORE_COLUMN)) != SAME_RECORDING_TEXT
    qtbot.waitUntil(lambda: window.details_panel.details is not None
                    and window.details_panel.details.path == str(outside), timeout=RESULT_TIMEOUT_MS)
    assert window.details_panel.details.key is not None


def test_a_dropped_file_is_decoded_once_for_its_details_waveform_similar_list_and_filters(
        make_window, indexed_copy, generated_library_source, tmp_path, qtbot, monkeypatch):
    window = make_window(indexed_copy)
    first_track_id(qtbot, window)
    outside = tmp_path / "dropped.ogg"
    outside.write_bytes(next(path for path in generated_library_source.valid if path.suffix == ".ogg").read_bytes())
    decodes = DecodeCounter(monkeypatch)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(outside))])
    window.dropEvent(QDropEvent(QPoint(200, 200).toPointF(), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    panel = wait_for_results(qtbot, window.similarity_panel)
    details = window.details_panel
    qtbot.waitUntil(lambda: details.details is not None and details.details.path == str(outside),
                    timeout=RESULT_TIMEOUT_MS)
    assert details.details.key is not None and details.details.duration
    assert len(details.waveform.low_curve.xData) > 100  # the overview, from the analysis's decode
    for harmonic in (True, False):  # each filter change searches again with the resolved file
        with qtbot.waitSignal(panel.results_shown, timeout=RESULT_TIMEOUT_MS):
            panel.harmonic_box.setChecked(harmonic)
    assert panel.model.tracks
    assert decodes.opened == {str(outside): 1}
    assert decodes.whole == {str(outside): 1}


def test_harmonic_toggle_keeps_only_tracks_whose_keys_mix(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    seed_id = first_track_id(qtbot, window)
    seed_key = indexed_copy.track(seed_id).key.to_key()
    panel = window.similarity_panel
    panel.query_track(seed_id, "seed")
    all_results = wait_for_results(qtbot, panel).model.tracks
    assert any(not codes_mix(seed_key.index, track.key.to_key().index) for track in all_results)
    with qtbot.waitSignal(panel.results_shown, timeout=RESULT_TIMEOUT_MS):
        panel.harmonic_box.setChecked(True)
    harmonic = panel.model.tracks
    assert harmonic, "the generated library has keys that mix with every seed"
    assert all(codes_mix(seed_key.index, track.key.to_key().index) for track in harmonic)  # the published wheel
    assert "Harmonic" in panel.heading.text()


def test_saved_playlist_is_a_readable_m3u8_of_the_listed_tracks(make_window, indexed_copy, tmp_path, qtbot):
    window = make_window(indexed_copy)
    panel = window.similarity_panel
    panel.query_track(first_track_id(qtbot, window), "seed")
    wait_for_results(qtbot, panel)
    target = tmp_path / "list.m3u8"
    panel.save_playlist(target)
    qtbot.waitUntil(target.exists, timeout=RESULT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: "saved" in panel.heading.text())
    lines = target.read_bytes().decode("utf-8", errors="surrogateescape").splitlines()
    assert lines[0] == "#EXTM3U"
    entries = [line for line in lines if line and not line.startswith("#")]
    assert entries == [str(Path(track.path).resolve()) for track in panel.model.tracks]
    assert all(Path(entry).is_file() for entry in entries)


def test_radio_builds_a_playlist_from_the_seed_without_repeats(make_window, indexed_copy, qtbot):
    window = make_window(indexed_copy)
    panel = window.similarity_panel
    seed_id = first_track_id(qtbot, window)
    panel.query_track(seed_id, "seed")
    wait_for_results(qtbot, panel)
    with qtbot.waitSignal(panel.results_shown, timeout=RESULT_TIMEOUT_MS):
        panel.make_radio()
    ids = panel.result_ids()
    assert ids[0] == seed_id and len(ids) == len(set(ids)) > 5
    assert "Radio" in panel.heading.text()
    assert not panel.harmonic_box.isEnabled()  # a radio walk goes by sound; the toggle is for similar lists


def test_double_clicking_a_result_plays_it_in_the_player(make_window, indexed_copy, qtbot, sound_device):
    from PySide6.QtMultimedia import QMediaPlayer

    window = make_window(indexed_copy)
    panel = window.similarity_panel
    panel.query_track(first_track_id(qtbot, window), "seed")
    wait_for_results(qtbot, panel)
    panel.table.doubleClicked.emit(panel.model.index(0, 1))
    assert window.player.current_path == str(panel.model.tracks[0].path)
    assert window.player.play_button.isEnabled() and window.player.seek_slider.isEnabled()
    # Immediate with the recorded transport; with a real device Qt may first finish loading the file.
    qtbot.waitUntil(lambda: window.player.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState,
                    timeout=RESULT_TIMEOUT_MS)
    window.player.toggle()
    qtbot.waitUntil(lambda: window.player.player.playbackState() == QMediaPlayer.PlaybackState.PausedState,
                    timeout=RESULT_TIMEOUT_MS)


def test_a_typed_name_without_its_extension_never_replaces_an_existing_playlist_unasked(
        make_window, indexed_copy, tmp_path, qtbot, monkeypatch):
    """The save dialog asks about the name it returns; the ``.m3u8`` the app adds can name a file the user has."""
    import app.save_target
    import app.similarity_panel

    window = make_window(indexed_copy)
    panel = window.similarity_panel
    panel.query_track(first_track_id(qtbot, window), "seed")
    wait_for_results(qtbot, panel)
    existing = tmp_path / "friday-set.m3u8"
    existing.write_text("#EXTM3U\n/my/own/list.flac\n", encoding="utf-8")
    monkeypatch.setattr(app.similarity_panel.QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (str(tmp_path / "friday-set"), ""))
    asked: list[str] = []
    answer = {"replace": False}
    monkeypatch.setattr(app.save_target, "confirm",
                        lambda parent, title, text, *rest, **kwargs: asked.append(text) or answer["replace"])
    panel.choose_playlist_file()
    assert asked == ["friday-set.m3u8 already exists."]
    qtbot.wait(300)
    assert existing.read_text(encoding="utf-8") == "#EXTM3U\n/my/own/list.flac\n"  # kept: the user said no
    answer["replace"] = True
    panel.choose_playlist_file()
    qtbot.waitUntil(lambda: "saved" in panel.heading.text(), timeout=RESULT_TIMEOUT_MS)
    assert b"/my/own/list.flac" not in existing.read_bytes()  # replaced (a library path may not be UTF-8)
    heading = panel.heading.text()
    monkeypatch.setattr(app.similarity_panel.QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (str(tmp_path / "Other.M3U8"), ""))  # an extension in capitals
    panel.choose_playlist_file()
    qtbot.waitUntil(lambda: (tmp_path / "Other.M3U8").exists(), timeout=RESULT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: panel.heading.text() != heading, timeout=RESULT_TIMEOUT_MS)
    assert panel.heading.text().count("saved to") == 1 and panel.heading.text().endswith("Other.M3U8")
    assert not (tmp_path / "Other.M3U8.m3u8").exists()
