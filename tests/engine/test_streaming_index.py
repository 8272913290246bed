"""Index runs stream: the scan feeds planning and analysis as it walks, progress shows files found from the start,
and a run stopped before the scan saw everything takes nothing for gone."""

from __future__ import annotations

import gc
import os
import threading
import weakref

from engine.analyzer import Analyzer
from engine.library import Library
from engine.pipeline import AnalysisPipeline
from engine.planner import DecodeSettings, StreamingPlanner
from engine.scan import BackgroundScan, iter_scan, scan_paths


def test_background_scan_yields_what_scan_paths_finds_in_the_same_order(library_copy):
    expected = scan_paths([library_copy.root])
    with BackgroundScan([library_copy.root]) as scan:
        streamed = list(scan)
    assert streamed == list(iter_scan([library_copy.root]))
    assert sorted(entry.path for entry in streamed) == sorted(entry.path for entry in expected.files + expected.problems)
    assert scan.finished and scan.found == len(expected.files) + len(expected.problems)


def test_the_first_track_is_stored_before_the_job_stream_is_drained(library_copy, model_dir, tmp_path):
    """With one window per commit, track 1 is in the database when the pipeline asks for job 3 (it looks two
    jobs ahead to choose between inline and pooled decoding)."""
    with Library(tmp_path / "lib.db", model_dir) as library:
        model = library.model()
        settings = DecodeSettings(model.config.sample_rate, model.config.window_samples, 1)
        planner = StreamingPlanner(library.store, [str(library_copy.root)], model.model_id, settings)
        stored_when_asked: list[int] = []

        def watched_jobs():
            for number, job in enumerate(planner.jobs(iter_scan([library_copy.root])), 1):
                if number >= 3:
                    stored_when_asked.append(library.track_count())
                yield job

        pipeline = AnalysisPipeline(lambda: Analyzer(model, 1, 1), library.store, model.model_id, workers=0,
                                    max_windows=1, batch_windows=1)
        result = pipeline.run(watched_jobs())
        assert result.added == len(library_copy.valid) and planner.complete
        assert stored_when_asked[0] >= 1
        assert stored_when_asked == sorted(stored_when_asked) and stored_when_asked[-1] < result.added


def test_progress_counts_files_found_and_estimates_time_left(library_copy, model_dir, tmp_path):
    updates = []
    scan = scan_paths([library_copy.root])  # a new library: every file the scan can stat is decoded
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([library_copy.root], workers=0, progress=updates.append)
    assert updates[0].phase == "scan" and not updates[0].scan_finished
    last = updates[-1]
    assert last.phase == "done" and last.scan_finished
    assert last.files_found == len(scan.files) + len(scan.problems)
    assert last.files_done == last.files_total == len(scan.files)
    middle = [update for update in updates if 0 < update.files_done < update.files_total]
    assert middle and all(update.seconds_left is not None and update.seconds_left >= 0 for update in middle)
    assert all(update.files_total >= update.files_done for update in updates)


def test_a_cancelled_run_takes_nothing_for_gone(library_copy, model_dir, tmp_path):
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([library_copy.root], workers=0)
        for changed in library_copy.valid[-2:]:  # the two files at the top of the folder: walked first
            os.utime(changed, ns=(os.stat(changed).st_atime_ns, os.stat(changed).st_mtime_ns + 10**9))
        library_copy.valid[-3].unlink()  # in the last folder walked
        cancel = threading.Event()
        cancel.set()  # stops at the first job: the scan has not been seen through
        stopped = library.index(workers=0, cancel=cancel)
        assert stopped.cancelled and stopped.removed == 0
        assert library.track_count() == len(library_copy.valid)
        finished = library.index(workers=0)
        assert finished.removed == 1 and library.track_count() == len(library_copy.valid) - 1


def test_a_finished_run_lets_go_of_its_analyzer(library_copy, model_dir, tmp_path):
    """An index run catches its caches up after the analysis: the network and its buffers are not held through it."""
    made: list[weakref.ref] = []
    with Library(tmp_path / "lib.db", model_dir) as library:
        model = library.model()
        settings = DecodeSettings(model.config.sample_rate, model.config.window_samples, 1)
        planner = StreamingPlanner(library.store, [str(library_copy.root)], model.model_id, settings)

        def make_analyzer() -> Analyzer:
            analyzer = Analyzer(model, 1, 1)
            made.append(weakref.ref(analyzer))
            return analyzer

        pipeline = AnalysisPipeline(make_analyzer, library.store, model.model_id, workers=0, max_windows=1,
                                    batch_windows=1)
        result = pipeline.run(planner.jobs(iter_scan([library_copy.root])))
        gc.collect()
        assert result.added == len(library_copy.valid)
        assert len(made) == 1 and made[0]() is None
