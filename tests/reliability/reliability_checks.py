"""Checks shared by the reliability tests: how a refused command must look, and what a write may leave behind."""

from __future__ import annotations

import subprocess
from pathlib import Path


def assert_one_line_exit_1(completed: subprocess.CompletedProcess, fragment: str) -> None:
    """Exit 1, nothing on stdout, one line on stderr naming the problem, no traceback."""
    assert completed.returncode == 1, (completed.returncode, completed.stderr)
    lines = completed.stderr.strip().splitlines()
    assert "Traceback" not in completed.stderr and len(lines) == 1, completed.stderr
    assert fragment in lines[0], lines[0]
    assert completed.stdout == ""


def temporary_files(folder: Path) -> list[str]:
    """Names that a write left behind: ``*.tmp`` files and hidden copies."""
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".tmp") or path.name.startswith(".tagwrite-"))
