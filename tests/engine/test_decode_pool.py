"""Decode workers that die: a file that kills its worker becomes a problem and the run goes on; workers start with
Ctrl-C ignored and leave when the index run that started them is killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import worker_faults
from engine.analyzer import Analyzer
from engine.decode_pool import CRASH_REASON, DecodePool
from engine.decoding import DecodeJob
from engine.library import Library
from engine.pipeline import AnalysisPipeline
from engine.planner import DecodeSettings, StreamingPlanner
from engine.scan import iter_scan

SIGINT_BIT = 1 << (signal.SIGINT - 1)  # in /proc/PID/status's SigIgn mask


def test_a_file_that_kills_its_decode_worker_is_a_problem_and_the_rest_are_analysed(library_copy, model_dir, tmp_path):
    """A decoder crash (or an out-of-memory kill) breaks the worker pool and every job in flight with it; those jobs
    are decoded again one at a time, so only the file that kills its worker again is recorded, with a reason."""
    crashing = Path(shutil.copy(library_copy.valid[0], library_copy.root / f"{worker_faults.CRASHING_NAME}.flac"))
    with Library(tmp_path / "lib.db", model_dir) as library:
        model = library.model()
        settings = DecodeSettings(model.config.sample_rate, model.config.window_samples, 2)
        planner = StreamingPlanner(library.store, [str(library_copy.root)], model.model_id, settings)
        pipeline = AnalysisPipeline(lambda: Analyzer(model, 2, 4), library.store, model.model_id, workers=1,
                                    max_windows=2, batch_windows=4, decode=worker_faults.decode_or_die)
        result = pipeline.run(planner.jobs(iter_scan([library_copy.root])))
        problems = {problem.path: problem.reason for problem in library.problems()}
    assert result.added == len(library_copy.valid)
    assert problems[str(crashing)] == CRASH_REASON
    assert list(problems.values()).count(CRASH_REASON) == 1  # the jobs in flight beside it were decoded


def _ignores_sigint(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & SIGINT_BIT)
    return False


def test_decode_workers_ignore_ctrl_c_from_their_first_instruction(tmp_path):
    """Read while the worker is still importing, before the pool's initializer runs: a Ctrl-C to the process group
    then would kill it mid-import (a traceback, and a broken pool)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a background job's
    pool = DecodePool(1)  # shell may have started this process with SIGINT ignored already)
    try:
        pool.submit(DecodeJob(str(tmp_path / "missing.flac"), 1, 1, "", None, 16_000, 16_000, 1))
        (pid,) = pool._executor._processes
        assert _ignores_sigint(pid)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the main process's handler is back
    finally:
        pool.shutdown()
        signal.signal(signal.SIGINT, previous)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # an orphan that exited may wait as a zombie for a reaper the container lacks


def test_a_decode_worker_watches_the_process_that_started_it_not_whoever_is_its_parent_when_it_starts():
    """An index run killed while its worker was still importing left that worker to init, whose pid the worker then
    read as its parent's and watched forever (holding the run's stdout open: a pipe reading it never ended). The pool
    passes its own pid; a worker whose parent is already not that process leaves at once."""
    script = "import time\nfrom engine.decoding import start_worker\nstart_worker(1)\ntime.sleep(60)\n"
    started = time.monotonic()
    completed = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2], timeout=30)
    assert completed.returncode == 0 and time.monotonic() - started < 20


def test_a_decode_worker_leaves_when_its_index_run_is_killed(tmp_path):
    """A run killed outright (kill -9, out of memory) cannot shut its pool down: its worker leaves by itself."""
    script = ("import sys, time\nfrom engine.decode_pool import DecodePool\nfrom engine.decoding import DecodeJob\n"
              "pool = DecodePool(1)\n"
              f"pool.submit(DecodeJob({str(tmp_path / 'missing.flac')!r}, 1, 1, '', None, 16000, 16000, 1)).result()\n"
              "print(*pool._executor._processes, flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        worker = int(parent.stdout.readline())
        assert _running(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(worker)
    finally:
        parent.kill()
        try:
            os.kill(worker, signal.SIGKILL)
        except (ProcessLookupError, UnboundLocalError):
            pass
