"""The indexing progress bar of the CLI (rich, on stderr): files found, analysed, files/s and time left.

The scan streams into analysis, so the bar starts at once: the number of files found grows while the first ones
are analysed, and the total (files to analyse) is an estimate until the scan is over. The words are
``engine.progress_text``'s, which the app's scan label uses too.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.progress_text import found_text, progress_line, time_left_text
from engine.results import IndexProgress

PHASE_NAMES = {"scan": "scanning", "analyse": "analysing", "done": "done"}


WIDE_COLUMNS = 110  # a terminal this wide shows every column; a narrower one drops the real-time factor
LOG_EVERY_SECONDS = 30.0  # stderr not a terminal (a log, nohup): one plain progress line this often


class IndexProgressDisplay:
    """A context manager whose ``update`` is the ``progress`` callback of ``Library.index``: a live bar on a
    terminal, plain lines now and then when stderr goes to a file."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        wide = self.console.width >= WIDE_COLUMNS
        columns = [TextColumn("{task.description}"), BarColumn(bar_width=None if wide else 12), MofNCompleteColumn(),
                   TextColumn("{task.fields[found]}"), TextColumn("{task.fields[rate]:.1f} files/s")]
        columns += [TextColumn("{task.fields[realtime]:.0f}x real time")] if wide else []
        self.bar = Progress(*columns, TextColumn("{task.fields[left]}"), TimeElapsedColumn(), console=self.console,
                            transient=False, disable=not self.console.is_terminal)
        self.task = self.bar.add_task("scanning", total=None, found="", rate=0.0, realtime=0.0, left="")
        self._logged_at: float | None = None if self.console.is_terminal else time.monotonic()

    def update(self, progress: IndexProgress) -> None:
        self.bar.update(
            self.task, description=PHASE_NAMES.get(progress.phase, progress.phase), completed=progress.files_done,
            total=progress.files_total or None, found=found_text(progress), rate=progress.files_per_second,
            realtime=progress.realtime_factor, left=time_left_text(progress),
        )
        if self._logged_at is not None and time.monotonic() - self._logged_at >= LOG_EVERY_SECONDS:
            self._logged_at = time.monotonic()
            print(f"engine: {progress_line(progress)}", file=sys.stderr, flush=True)

    def __enter__(self) -> "IndexProgressDisplay":
        self.bar.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.bar.stop()

