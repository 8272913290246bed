"""A hidden ``.tagwrite-*`` copy left by a writer killed mid-write is removed by the next write in its folder;
the copy of a write still running is left alone (issue 13, case 8)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.safe_replace import TEMPORARY_PREFIX


def _dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def _copies(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith(TEMPORARY_PREFIX))


def test_a_copy_left_by_a_killed_writer_is_removed_by_the_next_write(engine, generated_library_source, model_dir,
                                                                     tmp_path):
    folder = tmp_path / "album"
    folder.mkdir()
    track = folder / "song.flac"
    shutil.copy2(generated_library_source.valid[4], track)
    stale = folder / f"{TEMPORARY_PREFIX}{_dead_pid()}-k9x2.flac"
    legacy = folder / f"{TEMPORARY_PREFIX}q8w7e6.flac"  # named before the writer's pid was in the name
    for copy in (stale, legacy):
        shutil.copy2(track, copy)
    completed = engine("key", str(track), "--write", "--db", str(tmp_path / "library.db"), "--model", str(model_dir),
                       "--json")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)[0]["written"]
    assert _copies(folder) == []


def test_the_copy_of_a_write_in_progress_is_kept(generated_library_source, tmp_path):
    from engine.safe_replace import remove_stale_copies

    folder = tmp_path / "album"
    folder.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = folder / f"{TEMPORARY_PREFIX}{sleeper.pid}-a1b2.flac"
        shutil.copy2(generated_library_source.valid[4], running)
        assert remove_stale_copies(str(folder)) == []
        assert _copies(folder) == [running.name]
    finally:
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()
    time.sleep(0.1)
    assert remove_stale_copies(str(folder)) == [running.name]
