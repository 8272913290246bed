"""The indexing progress bar of the CLI (rich, on stderr): files found, analysed, files/s and time left.

The scan streams into analysis, so the bar starts at once: the number of files found grows while the first ones
are analysed, and the total (files to analyse) is an estimate until the scan is over. The words are
``engine.progress_text``'s, which the app's scan label uses too.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.progress_text import found_text, time_left_text
from engine.results import IndexProgress

PHASE_NAMES = {"scan": "scanning", "analyse": "analysing", "done": "done"}


class IndexProgressDisplay:
    """A context manager whose ``update`` is the ``progress`` callback of ``Library.index``."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[found]}"),
            TextColumn("{task.fields[rate]:.1f} files/s"), TextColumn("{task.fields[realtime]:.0f}x real time"),
            TextColumn("{task.fields[left]}"), TimeElapsedColumn(), console=self.console, transient=False,
            disable=not self.console.is_terminal,
        )
        self.task = self.bar.add_task("scanning", total=None, found="", rate=0.0, realtime=0.0, left="")

    def update(self, progress: IndexProgress) -> None:
        self.bar.update(
            self.task, description=PHASE_NAMES.get(progress.phase, progress.phase), completed=progress.files_done,
            total=progress.files_total or None, found=found_text(progress), rate=progress.files_per_second,
            realtime=progress.realtime_factor, left=time_left_text(progress),
        )

    def __enter__(self) -> "IndexProgressDisplay":
        self.bar.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.bar.stop()

