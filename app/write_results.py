"""What a batch of tag writes did, told to the user: counts, and every file that could not be written, with why.

Used by every action that writes into the user's files (keys, accepted tag suggestions): the engine's
``TagWriteResult`` per file comes in, one summary box comes out (non-modal, so tests and users can read it
while the app goes on).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMessageBox, QWidget

PROBLEMS_LISTED = 8  # in the box itself; all of them are in its details


@dataclass
class WriteSummary:
    """Counts of files written and left alone, and (file name, reason) for each problem."""

    written: int = 0
    kept: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    not_done: int = 0  # items a cancel left untouched

    @property
    def lines(self) -> list[str]:
        lines = [QCoreApplication.translate("WriteResults", "Written into {files}.").format(files=_files(self.written))]
        if self.kept:
            lines.append(QCoreApplication.translate("WriteResults", "1 file already had a value and kept it.")
                         if self.kept == 1 else
                         QCoreApplication.translate("WriteResults", "{count:,} files already had a value and kept it.")
                         .format(count=self.kept))
        if self.not_done:
            lines.append(QCoreApplication.translate("WriteResults", "Cancelled: {files} not touched.").format(
                files=_files(self.not_done)))
        if self.problems:
            lines.append(QCoreApplication.translate("WriteResults", "1 problem (that file is unchanged):")
                         if len(self.problems) == 1 else
                         QCoreApplication.translate("WriteResults", "{count} problems (those files are unchanged):")
                         .format(count=len(self.problems)))
        return lines


def summarise(results: Sequence[Any], asked: int) -> WriteSummary:
    """``results``: ``TagWriteResult``s of the files done; ``asked``: how many files the user asked for."""
    summary = WriteSummary(not_done=max(0, asked - len(results)))
    for result in results:
        if result.problem:
            summary.problems.append((Path(result.path).name or str(result.path), result.problem))
        elif result.changed:
            summary.written += 1
        else:
            summary.kept += 1
    return summary


def show_summary(parent: QWidget | None, title: str, summary: WriteSummary) -> QMessageBox:
    """A non-modal box with the counts and the problems (first few listed, all in the details)."""
    listed = [f"• {name}: {reason}" for name, reason in summary.problems]
    text = "\n".join(summary.lines + listed[:PROBLEMS_LISTED])
    if len(listed) > PROBLEMS_LISTED:
        text += "\n" + QCoreApplication.translate("WriteResults", "… and {count} more (Show Details)").format(
            count=len(listed) - PROBLEMS_LISTED)
    icon = QMessageBox.Icon.Warning if summary.problems else QMessageBox.Icon.Information
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    if summary.problems:
        box.setDetailedText("\n".join(f"{name}: {reason}" for name, reason in summary.problems))
    box.open()
    return box


def _files(count: int) -> str:
    return (QCoreApplication.translate("WriteResults", "1 file") if count == 1 else
            QCoreApplication.translate("WriteResults", "{count:,} files").format(count=count))
