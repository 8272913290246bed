"""Fixtures for the reliability suite: the CLI run in-process, and a private copy of the indexed library.

Every case here comes from an outside attack on the ``engine`` command (issue 13): a fault that must end in
one line on stderr and exit 1, never a traceback, a lost file or a left-over temporary file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def engine(capsys):
    """Run the CLI in-process (same ``main`` as the console script) → a CompletedProcess-like result."""
    from engine import cli

    def run(*arguments: str) -> subprocess.CompletedProcess:
        try:
            code = cli.main(list(arguments))
        except SystemExit as exit_:  # argparse usage errors
            code = exit_.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(arguments), code, out, err)

    return run


@pytest.fixture
def indexed_copy(indexed_library, generated_library_source, tmp_path) -> Path:
    """A private copy of the indexed database (its caches included) in its own folder: tests may break it."""
    database, _ = indexed_library
    folder = tmp_path / "db"
    folder.mkdir()
    for path in database.parent.iterdir():
        if path.name.startswith(database.name) and path.is_file():
            shutil.copy2(path, folder / path.name)
    return folder / database.name


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(size)`` mounts a tmpfs of ``size`` (a real full disk, even for root) and returns (its folder,
    a function that grows it to 64 MB: space freed). Skipped where mounting is not allowed; the tests with an
    injected ``OSError(ENOSPC)`` cover those machines."""
    mounted: list[Path] = []

    def mount(size: str):
        mount_point = tmp_path / f"small-{len(mounted)}"
        mount_point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                              capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(mount_point)
        return mount_point, lambda: subprocess.run(["mount", "-o", "remount,size=64m", str(mount_point)], check=True)

    yield mount
    for mount_point in mounted:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
