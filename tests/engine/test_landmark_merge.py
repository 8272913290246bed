"""The landmark index's external merge: sorted runs merged in small blocks give exactly the rows an in-memory sort
gives (ties included), with a removed track's old rows left out, whatever the run and block sizes."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from engine import landmark_merge
from engine.landmark_merge import RowFile, merge_runs, sorted_rows, write_runs
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


def test_a_merge_of_row_files_reads_each_run_once_in_blocks_and_gives_the_same_rows(small_blocks, tmp_path,
                                                                                     monkeypatch):
    """Runs on disk are read block by block (never whole), each row once; the merged rows are the arrays' merge."""
    pairs = [(track_id, _landmarks(track_id)) for track_id in range(1, 61)]
    runs = write_runs(iter(pairs), tmp_path)
    reads: dict[int, list[tuple[int, int]]] = {}
    block = RowFile.block
    monkeypatch.setattr(RowFile, "block",
                        lambda self, start, stop: (reads.setdefault(id(self), []).append((start, stop)),
                                                   block(self, start, stop))[1])
    files = [RowFile(run) for run in runs]
    assert np.array_equal(_merged(files, tmp_path), sorted_rows(pairs))
    for row_file in files:
        spans = reads[id(row_file)]
        assert [stop for _, stop in spans[:-1]] == [start for start, _ in spans[1:]]  # in order, each row once
        assert spans[0][0] == 0 and spans[-1][1] == row_file.length
        assert len([span for span in spans if span[1] > span[0]]) > 2  # in steps, not the run at once


def test_a_row_file_searched_by_reads_finds_what_a_search_of_its_rows_finds(tmp_path, monkeypatch):
    monkeypatch.setattr(landmark_merge, "BUCKET_READ_ROWS", 4)  # buckets here hold up to ~24 rows
    rows = sorted_rows([(track_id, _landmarks(track_id)) for track_id in range(1, 40)])  # many equal hashes
    np.save(tmp_path / "rows.npy", rows)
    row_file = RowFile(tmp_path / "rows.npy")
    values = np.arange(-1, HASH_RANGE + 2).clip(0).astype(np.uint32)
    for side in ("left", "right"):
        assert np.array_equal(row_file.search(values, side), np.searchsorted(rows[0], values, side=side))
    starts = row_file.search(values, "left")
    ends = [row_file.bucket_end(start, value) for start, value in zip(starts.tolist(), values.tolist())]
    assert ends == np.searchsorted(rows[0], values, side="right").tolist()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the mapping's resident size from /proc")
def test_merging_row_files_leaves_none_of_their_pages_in_the_process(monkeypatch, tmp_path):
    monkeypatch.setattr(landmark_merge, "MERGE_BLOCK_ROWS", 16_384)
    monkeypatch.setattr(landmark_merge, "MIN_RUN_BLOCK_ROWS", 4_096)
    generator = np.random.default_rng(0)
    rows = 400_000  # 4.8 MB of rows per run
    paths = []
    for number in range(2):
        run = np.stack([np.sort(generator.integers(0, 2**32, rows, dtype=np.uint32)),
                        np.full(rows, number, dtype=np.uint32), np.arange(rows, dtype=np.uint32)])
        paths.append(tmp_path / f"run-{number}.npy")
        np.save(paths[-1], run)
    files = [RowFile(path) for path in paths]
    assert _merged(files, tmp_path).shape == (3, 2 * rows)
    assert all(_resident_kib(path) <= 64 for path in paths)  # of ~4,700 KiB each, all of it read (through a map:
    # all of it resident, and more than the run for a merge of a whole index)


def _resident_kib(path) -> int:
    """The resident KiB of this process's mappings of ``path`` (/proc/self/smaps)."""
    resident, inside = 0, False
    for line in open("/proc/self/smaps", encoding="utf-8"):
        if line[0] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            resident += int(line.split()[1])
    return resident
