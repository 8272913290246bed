"""Tempo in the app: the library table shows the estimated BPM (the file's differing tag in the tooltip) and
sorts by it; the similar list's BPM-range control keeps tracks in the seed's tempo range."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

import audio_factory
import rhythm_factory
from app.library_model import BPM_COLUMN, LibraryTableModel
from app.similarity_panel import SimilarityPanel
from tests_app_helpers import RESULT_TIMEOUT_MS, wait_for_results

TEMPI = {"slow": 90.0, "mid": 124.0, "fast": 176.0, "half": 62.0}


@pytest.fixture
def groove_library(open_library, model_dir, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    paths = {}
    for index, (name, bpm) in enumerate(TEMPI.items()):
        paths[name] = str(audio_factory.write_audio(rhythm_factory.drum_groove(bpm, 20.0, seed=index),
                                                    folder / f"{name}.flac"))
    audio_factory.write_tags(paths["fast"], bpm="88")
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
    assert model.data(cells[3]) == "176"  # the estimate, not the file's tag (88)
    assert "88" in model.data(cells[3], Qt.ItemDataRole.ToolTipRole)
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
