"""The indexing progress bar of the CLI (rich, on stderr): files, files/s and real-time factor."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.results import IndexProgress


class IndexProgressDisplay:
    """A context manager whose ``update`` is the ``progress`` callback of ``Library.index``."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f} files/s"), TextColumn("{task.fields[realtime]:.0f}x real time"),
            TimeElapsedColumn(), console=self.console, transient=False, disable=not self.console.is_terminal,
        )
        self.task = self.bar.add_task("scanning", total=None, rate=0.0, realtime=0.0)

    def update(self, progress: IndexProgress) -> None:
        description = {"scan": "scanning", "analyse": "analysing", "done": "done"}.get(progress.phase, progress.phase)
        self.bar.update(
            self.task, description=description, completed=progress.files_done,
            total=progress.files_total or None, rate=progress.files_per_second, realtime=progress.realtime_factor,
        )

    def __enter__(self) -> "IndexProgressDisplay":
        self.bar.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.bar.stop()
