"""An index run's progress in words: files found, analysed, files per second and time left.

The CLI's bar (``engine.cli_progress``) and the app's scan label say the same numbers, all read from the engine's
``IndexProgress`` (its rate and time left), so the two cannot drift apart. No rich and no Qt here: both import it.
"""

from __future__ import annotations

from engine.results import IndexProgress

SEPARATOR = " · "


def found_text(progress: IndexProgress) -> str:
    """"12,345 found…" while the scan goes on (the total to analyse is an estimate), "12,345 files" once it is
    over."""
    return f"{progress.files_found:,} files" if progress.scan_finished else f"{progress.files_found:,} found…"


def analysed_text(progress: IndexProgress) -> str:
    return f"{progress.files_done:,} / {progress.files_total:,} analysed"


def rate_text(progress: IndexProgress) -> str:
    return f"{progress.files_per_second:.1f} files/s"


def time_left_text(progress: IndexProgress) -> str:
    """"1:05 left", with "(so far)" while the scan still finds files; "" before the first file is done."""
    seconds = progress.seconds_left
    if seconds is None or progress.phase == "done":
        return ""
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    left = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
    return f"{left} left" + ("" if progress.scan_finished else " (so far)")


def progress_line(progress: IndexProgress) -> str:
    """"12,345 found… · 120 / 480 analysed · 3.2 files/s · 2:00 left (so far)": what there is to say yet (no
    "0 / 0 analysed" while nothing is planned, no rate before the first file is done)."""
    parts = [found_text(progress)]
    if progress.files_total:
        parts.append(analysed_text(progress))
    if progress.files_done:
        parts.append(rate_text(progress))
    left = time_left_text(progress)
    return SEPARATOR.join([*parts, left] if left else parts)
