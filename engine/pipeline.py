"""Run decode jobs through the model and into the store: the hot loop of indexing.

Decoding runs in spawned worker processes (PyAV releases no GIL worth sharing, and spawn is safe
next to torch's threads); inference runs here, on batches of windows from many tracks; results are
written in batched transactions. A finished track is committed with its analysis, so a cancelled or
killed run loses at most the current batch and the next run starts after the last commit.

The analyzer (torch and the network) is made only when there is a file to analyse, on a thread while the first
files are decoded: a rescan that finds nothing new never loads torch, and a first index stores its first track
about as soon as torch is loaded.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import chain, islice
from typing import TYPE_CHECKING

from engine.decode_pool import Decode, DecodePool, decode_alone, outcome_of
from engine.decoding import DecodeJob, DecodeOutcome, decode_job
from engine.planner import ScanCounts
from engine.results import IndexProgress
from engine.store import NewTrack, ProblemRecord, Store
from engine.track_analysis import DEFAULT_BATCH_WINDOWS, DEFAULT_MAX_WINDOWS

if TYPE_CHECKING:
    from engine.analyzer import Analyzer
    from engine.tempo import TempoEstimate

WRITE_INTERVAL_SECONDS = 3.0  # a decoded track waits at most this long for its commit, so a kill loses little
# Decode jobs queued per worker on top of one inference batch of tracks: while the main process runs a batch
# through the model, the workers go on decoding the next one (with only 4 queued they ran dry:
# docs/lab-notes/2026-12-03-speed-history.md, "Indexing speed").
IN_FLIGHT_PER_WORKER = 4
POLL_SECONDS = 0.25


@dataclass
class PipelineResult:
    analysed: int = 0
    added: int = 0
    updated: int = 0
    problems: int = 0
    audio_seconds: float = 0.0
    cancelled: bool = False


def default_worker_count() -> int:
    """Decode workers: one per core but one, leaving a core for inference (at least one worker)."""
    return max(1, (os.cpu_count() or 2) - 1)


def inference_thread_count(workers: int) -> int:
    """Torch threads for inference: the cores the decode workers leave free (oversubscribing is slower)."""
    return max(1, (os.cpu_count() or 2) - workers)


class AnalysisPipeline:
    """Decode (workers) → analyse (batched, here) → store (one transaction per inference batch)."""

    def __init__(
        self,
        make_analyzer: Callable[[], Analyzer],
        store: Store,
        model_id: str,
        workers: int | None = None,
        progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
        max_windows: int = DEFAULT_MAX_WINDOWS,
        batch_windows: int = DEFAULT_BATCH_WINDOWS,
        decode: Decode = decode_job,
    ) -> None:
        """``make_analyzer`` is called once, when the first decoded file is analysed; the analyses are stored as
        ``model_id``'s. ``max_windows`` and ``batch_windows`` are the analyzer's (they size the decode queue).
        ``decode`` turns a job into its outcome (a module-level function: workers import it by name)."""
        self._make_analyzer = make_analyzer
        self._decode = decode
        self._analyzer: Analyzer | None = None
        self._analyzer_loading: Future | None = None
        self.store = store
        self.model_id = model_id
        self.max_windows, self.batch_windows = max_windows, batch_windows
        self.workers = default_worker_count() if workers is None else max(0, workers)
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self._decoded: list[DecodeOutcome] = []
        self._decoded_windows = 0
        self._to_write: list[NewTrack] = []
        self._problems_to_write: list[ProblemRecord] = []
        self._tempos_to_write: list[tuple[int, TempoEstimate | None]] = []  # tracks whose tempo alone was due
        self._pending_since: float | None = None  # when the oldest not yet written outcome arrived
        self._result = PipelineResult()
        self._started = 0.0
        self._done = 0
        self._scan_counts: Callable[[], ScanCounts] = lambda: ScanCounts(0, 0, True)

    def run(self, jobs: Iterable[DecodeJob], scan_counts: Callable[[], ScanCounts] | None = None) -> PipelineResult:
        """Decode, analyse and store ``jobs``: a list, or a stream that a scan fills as it walks (then
        ``scan_counts`` tells progress displays how far the scan is and how many jobs it expects in all)."""
        self._started = time.monotonic()
        if scan_counts is not None:
            self._scan_counts = scan_counts
        elif isinstance(jobs, Sized):
            known = len(jobs)
            self._scan_counts = lambda: ScanCounts(known, known, True)
        jobs = iter(jobs)
        first = list(islice(jobs, 2))  # one file alone is decoded here: no worker pool for a single query
        jobs = chain(first, jobs)
        self._report("analyse", "")
        with ThreadPoolExecutor(1, thread_name_prefix="load-model") as loader:
            if any(not job.tempo_only for job in first):  # torch and the network load while the first files are
                self._analyzer_loading = loader.submit(self._make_analyzer)  # decoded (a tempo refresh needs neither)
            if self.workers == 0 or len(first) <= 1:
                self._run_inline(jobs)
            else:
                self._run_pooled(jobs)
            self._analyse_decoded()
            self._write()
        # The run is over: the caches are caught up next (at 100k tracks the FAISS index alone is ~430 MiB), and
        # the network and torch's buffers should not be held through that.
        self._analyzer = self._analyzer_loading = None
        self._report("done", "")
        return self._result

    # -- scheduling ---------------------------------------------------------------------------------
    def _run_inline(self, jobs: Iterator[DecodeJob]) -> None:
        for job in jobs:
            if self.cancel.is_set():
                self._result.cancelled = True
                return
            self._accept(self._decode(job))

    def _run_pooled(self, jobs: Iterator[DecodeJob]) -> None:
        in_flight: dict[Future, DecodeJob] = {}
        more = True
        tracks_per_batch = math.ceil(self.batch_windows / max(1, self.max_windows))
        limit = self.workers * IN_FLIGHT_PER_WORKER + tracks_per_batch
        pool = DecodePool(self.workers, self._decode)
        try:
            while more or in_flight:
                if self.cancel.is_set():
                    self._result.cancelled = True
                    break
                while more and len(in_flight) < limit:
                    job = next(jobs, None)
                    if job is None:
                        more = False
                    else:
                        in_flight[pool.submit(job)] = job
                finished, _ = wait(in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                broken = False
                for future in finished:
                    outcome = outcome_of(future)
                    if outcome is None:
                        broken = True
                    else:
                        del in_flight[future]
                        self._accept(outcome)
                if broken:  # a worker died: every job still in flight failed with it
                    pool.shutdown()
                    suspects, in_flight = list(in_flight.values()), {}
                    for outcome in decode_alone(suspects, self.cancel.is_set, self._decode):
                        self._accept(outcome)
                    pool = DecodePool(self.workers, self._decode)
                elif not finished:
                    self._write_if_due()
        finally:
            pool.shutdown()

    # -- stages ---------------------------------------------------------------------------------------
    def _accept(self, outcome: DecodeOutcome) -> None:
        self._done += 1
        if self._pending_since is None:
            self._pending_since = time.monotonic()
        if outcome.job.tempo_only:
            if outcome.reason is None:  # else the file could not be read now: its stored tempo waits for the next run
                self._tempos_to_write.append((outcome.job.track_id, outcome.tempo))
        elif outcome.windows is None:
            job = outcome.job
            # A known track whose changed file no longer decodes keeps its row (its analysis, crate places): a file a
            # sync client or an editor is halfway through writing is broken only for a while. The problem is listed
            # beside it, and the file's next outcome replaces both (restored: unchanged; fixed: analysed again).
            self._problems_to_write.append(ProblemRecord(job.path, outcome.reason or "unknown", job.size, job.mtime_ns))
        else:
            self._decoded.append(outcome)
            extra = 0 if outcome.key_windows is None else len(outcome.key_windows)
            self._decoded_windows += len(outcome.windows) + extra
            self._result.audio_seconds += outcome.duration_seconds
            if self._decoded_windows >= self.batch_windows or self._result.analysed == 0:
                self._analyse_decoded()
                self._write()  # one transaction per inference batch, and the first track at once
        self._report("analyse", outcome.job.path)
        self._write_if_due()

    def _analyse_decoded(self) -> None:
        if not self._decoded:
            return
        from engine.analyzer import torch_threads

        if self._analyzer is None:
            self._analyzer = self._analyzer_loading.result() if self._analyzer_loading else self._make_analyzer()
        with torch_threads(inference_thread_count(self.workers)):
            analyses = self._analyzer.analyze_tracks([outcome.windows for outcome in self._decoded],
                                                     [outcome.key_windows for outcome in self._decoded])
        for outcome, analysis in zip(self._decoded, analyses):
            job = outcome.job
            self._to_write.append(
                NewTrack(job.path, job.size, job.mtime_ns, job.quick_hash, outcome.metadata, analysis, job.track_id,
                         job.file_changed, outcome.landmarks, outcome.tempo, tempo_estimated=True)
            )
        self._decoded, self._decoded_windows = [], 0

    def _write_if_due(self) -> None:
        pending = self._pending_since is not None and (self._decoded or self._problems_to_write or self._tempos_to_write)
        if pending and time.monotonic() - self._pending_since >= WRITE_INTERVAL_SECONDS:
            self._analyse_decoded()
            self._write()

    def _write(self) -> None:
        if self._to_write:
            self.store.save_tracks(self._to_write, self.model_id)
            for item in self._to_write:
                self._result.analysed += 1
                if item.track_id is None:
                    self._result.added += 1
                else:
                    self._result.updated += 1
            self._to_write = []
        if self._tempos_to_write:
            self.store.save_tempos(self._tempos_to_write, self.model_id)
            self._result.updated += len(self._tempos_to_write)  # not "analysed": the network did not read them
            self._tempos_to_write = []
        if self._problems_to_write:
            self.store.record_problems(self._problems_to_write)
            self._result.problems += len(self._problems_to_write)
            self._problems_to_write = []
        self._pending_since = None

    def report_progress(self) -> None:
        """Send a progress update now (e.g. while the scan plans a long run of unchanged files)."""
        self._report("analyse", "")

    def _report(self, phase: str, path: str) -> None:
        if self.progress is not None:
            counts = self._scan_counts()
            self.progress(IndexProgress(phase, self._done, max(counts.expected_jobs, self._done),
                                        time.monotonic() - self._started, self._result.audio_seconds, path,
                                        files_found=counts.found, scan_finished=counts.finished))
