"""Tempo in the app: the library table shows the estimated BPM (the file's differing tag in the tooltip), sorts
by it and is filtered to a BPM range; the similar list's BPM-range control keeps tracks in the seed's tempo
range."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

import audio_factory
import rhythm_factory
from app.bpm_range_filter import HIGHEST_BPM, bpm_range_of
from app.library_model import BPM_COLUMN, LibraryTableModel
from app.library_view import LibraryView
from app.similarity_panel import SimilarityPanel
from tests_app_helpers import RESULT_TIMEOUT_MS, wait_for_results

TEMPI = {"slow": 90.0, "mid": 124.0, "fast": 150.0, "half": 62.0}  # 150: see tests/engine/test_tempo_library.py


@pytest.fixture
def groove_library(open_library, model_dir, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    paths = {}
    for index, (name, bpm) in enumerate(TEMPI.items()):
        paths[name] = str(audio_factory.write_audio(rhythm_factory.drum_groove(bpm, 20.0, seed=index),
                                                    folder / f"{name}.flac"))
    audio_factory.write_tags(paths["fast"], bpm="75")
    library = open_library(tmp_path / "library.db", model_dir)
    library.index([folder], workers=0)
    return library, paths


def test_the_bpm_column_shows_the_estimate_with_a_differing_tag_in_its_tooltip_and_sorts(groove_library, task_runner,
                                                                                         qtbot):
    library, paths = groove_library
    model = LibraryTableModel(library, task_runner)
    model.sort(BPM_COLUMN, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: model.rowCount() == 4 and model.track_at(3) is not None, timeout=RESULT_TIMEOUT_MS)
    assert [model.track_at(row).path for row in range(4)] == [paths[name] for name in ("half", "slow", "mid", "fast")]
    cells = [model.index(row, BPM_COLUMN) for row in range(4)]
    assert [model.data(cell) for cell in cells[:3]] == ["62", "90", "124"]
    assert model.data(cells[3]) == "150"  # the estimate, not the file's tag (75)
    assert "75" in model.data(cells[3], Qt.ItemDataRole.ToolTipRole)
    assert model.data(cells[2], Qt.ItemDataRole.ToolTipRole) == paths["mid"]  # no tag: the usual tooltip


def test_the_bpm_range_control_keeps_the_similar_list_in_the_seeds_tempo_range(groove_library, task_runner, qtbot):
    library, paths = groove_library
    panel = SimilarityPanel(library, task_runner)
    qtbot.addWidget(panel)
    seed = library.store.track_id_for_path(paths["half"])
    panel.query_track(seed, "half")
    wait_for_results(qtbot, panel)
    assert len(panel.model.tracks) == 3
    panel.bpm_range_box.setCurrentIndex(panel.bpm_range_box.findData(4.0))
    qtbot.waitUntil(lambda: len(panel.model.tracks) == 1 and "…" not in panel.heading.text(), timeout=RESULT_TIMEOUT_MS)
    assert panel.model.tracks[0].path == paths["mid"]  # 62 BPM doubled is 124
    panel.make_radio()
    qtbot.waitUntil(lambda: panel.mode == "radio" and "Radio" in panel.heading.text(), timeout=RESULT_TIMEOUT_MS)
    assert [track.path for track in panel.model.tracks] == [paths["half"], paths["mid"]]


def shown_paths(view: LibraryView) -> set[str]:
    return {view.model.track_at(row).path for row in range(view.model.rowCount()) if view.model.track_at(row)}


def test_the_library_table_is_filtered_to_a_bpm_range_together_with_the_search(groove_library, task_runner, qtbot):
    library, paths = groove_library
    view = LibraryView(library, task_runner)
    qtbot.addWidget(view)
    view.reload()
    qtbot.waitUntil(lambda: len(shown_paths(view)) == 4, timeout=RESULT_TIMEOUT_MS)
    view.bpm_filter.low_box.setValue(85.0)
    view.bpm_filter.high_box.setValue(130.0)
    qtbot.waitUntil(lambda: shown_paths(view) == {paths["slow"], paths["mid"]}, timeout=RESULT_TIMEOUT_MS)
    assert view.count_label.text() == "2 tracks found"
    view.search_box.setText("mid")  # the search words and the range both apply
    qtbot.waitUntil(lambda: shown_paths(view) == {paths["mid"]}, timeout=RESULT_TIMEOUT_MS)
    view.search_box.clear()
    view.bpm_filter.high_box.setValue(0.0)  # "any": only the lower end holds (the fast track's tag says 75)
    qtbot.waitUntil(lambda: shown_paths(view) == {paths["slow"], paths["mid"], paths["fast"]}, timeout=RESULT_TIMEOUT_MS)
    view.bpm_filter.low_box.setValue(40.0)
    view.bpm_filter.high_box.setValue(45.0)  # a range no track is in shows the no-match page
    qtbot.waitUntil(lambda: view.model.rowCount() == 0 and view.stack.currentWidget() is view.no_match,
                    timeout=RESULT_TIMEOUT_MS)
    view.bpm_filter.clear()
    qtbot.waitUntil(lambda: len(shown_paths(view)) == 4, timeout=RESULT_TIMEOUT_MS)
    assert view.model.bpm_range is None


def test_a_bpm_range_with_an_open_or_swapped_end_is_read_as_dj_software_would():
    assert bpm_range_of(0.0, 0.0) is None
    assert bpm_range_of(120.0, 0.0) == pytest.approx((119.95, HIGHEST_BPM + 0.05))
    assert bpm_range_of(0.0, 90.0) == pytest.approx((0.0, 90.05))
    assert bpm_range_of(130.0, 110.0) == pytest.approx((109.95, 130.05))
    low, high = bpm_range_of(48.4, 48.4)  # what the column shows as 48.4 is in the range "48.4 to 48.4"
    assert low <= 48.43 <= high and low <= 48.36 and high >= 48.44 and not low <= 48.46 <= high
