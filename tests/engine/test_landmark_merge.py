"""The landmark index's external merge: sorted runs merged in small blocks give exactly the rows an in-memory sort
gives (ties included), with a removed track's old rows left out, whatever the run and block sizes."""

from __future__ import annotations

import numpy as np
import pytest

from engine import landmark_merge
from engine.landmark_merge import merge_runs, sorted_rows, write_runs
from engine.landmarks import Landmarks

HASH_RANGE = 200  # few distinct hashes: many ties, and buckets that span merge blocks


def _landmarks(seed: int) -> Landmarks:
    generator = np.random.default_rng(seed)
    count = int(generator.integers(5, 120))
    return Landmarks(generator.integers(0, HASH_RANGE, count).astype(np.uint32),
                     generator.integers(-5, 5000, count).astype(np.int32))


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(landmark_merge, "RUN_ROWS", 300)
    monkeypatch.setattr(landmark_merge, "MERGE_BLOCK_ROWS", 64)
    monkeypatch.setattr(landmark_merge, "MIN_RUN_BLOCK_ROWS", 8)


def _merged(runs, tmp_path, dropped=None) -> np.ndarray:
    target = tmp_path / "index.npy"
    count = merge_runs(runs, target, tmp_path, dropped)
    rows = np.load(target, allow_pickle=False)
    assert rows.dtype == np.uint32 and rows.shape == (3, count)
    return rows


def test_runs_merged_in_blocks_equal_one_sort_in_memory(small_blocks, tmp_path):
    pairs = [(track_id, _landmarks(track_id)) for track_id in range(1, 61)]
    runs = write_runs(iter(pairs), tmp_path)
    assert len(runs) > 5
    mapped = [np.load(run, mmap_mode="r") for run in runs]
    assert np.array_equal(_merged(mapped, tmp_path), sorted_rows(pairs))


def test_a_catch_up_merge_equals_a_rebuild(small_blocks, tmp_path):
    """The saved rows minus removed and changed tracks, merged with the rows added since, in row order."""
    old = [(track_id, _landmarks(track_id)) for track_id in range(1, 31)]
    new = [(track_id, _landmarks(100 + track_id)) for track_id in (*range(31, 45), 7)]  # 7 changed: new rows
    dropped = np.zeros(31, dtype=bool)
    dropped[[3, 7]] = True  # 3 removed, 7 replaced
    runs = write_runs(iter(new), tmp_path)
    merged = _merged([sorted_rows(old), *[np.load(run) for run in runs]], tmp_path, dropped)
    kept = [(track_id, found) for track_id, found in old if track_id not in (3, 7)]
    assert np.array_equal(merged, sorted_rows(kept + new))


def test_an_empty_library_gives_an_empty_index(tmp_path):
    runs = write_runs(iter([]), tmp_path)
    assert _merged([np.load(run) for run in runs], tmp_path).shape == (3, 0)
