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
    stale = folder / f"{TEMPORARY_PREFIX}{_dead_pid()}-k9x2ab7q.flac"
    legacy = folder / f"{TEMPORARY_PREFIX}q8w7e6zz.flac"  # named before the writer's pid was in the name
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
        running = folder / f"{TEMPORARY_PREFIX}{sleeper.pid}-a1b2c3d4.flac"
        shutil.copy2(generated_library_source.valid[4], running)
        assert remove_stale_copies(str(folder)) == []
        assert _copies(folder) == [running.name]
    finally:
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()
    time.sleep(0.1)
    assert remove_stale_copies(str(folder)) == [running.name]


def test_a_users_own_files_named_like_the_prefix_are_never_removed(tmp_path):
    """Only names of the shape the writer makes (pid, mkstemp's eight characters, an audio extension) are copies."""
    from engine.safe_replace import remove_stale_copies

    own = [f"{TEMPORARY_PREFIX}notes.txt", f"{TEMPORARY_PREFIX}mix.wav", f"{TEMPORARY_PREFIX}{_dead_pid()}-draft.flac",
           f"{TEMPORARY_PREFIX}{_dead_pid()}-k9x2ab7q.txt"]
    stale = f"{TEMPORARY_PREFIX}{_dead_pid()}-k9x2ab7q.flac"
    for name in [*own, stale]:
        (tmp_path / name).write_bytes(b"mine")

    assert remove_stale_copies(str(tmp_path)) == [stale]
    assert _copies(tmp_path) == sorted(own)


def test_sigterm_during_a_write_removes_the_copy_and_leaves_the_file_whole(model_dir, tmp_path):
    """`kill` (SIGTERM) in the middle of `engine key --write`: the command stops as Ctrl-C stops it (exit 130) and the
    full-size copy beside the file is removed; the file is the old one or the new one, never a mix."""
    import numpy as np

    import audio_factory
    from engine.audio import decoded_audio_digest

    track = tmp_path / "long.flac"
    rng = np.random.default_rng(3)
    audio_factory.write_audio((0.1 * rng.standard_normal(16000 * 600)).astype(np.float32), track, sample_rate=16000)
    digest = decoded_audio_digest(str(track))
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "key", str(track), "--write", "--db",
                                str(tmp_path / "library.db"), "--model", str(model_dir), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not _copies(tmp_path) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _copies(tmp_path), "the write finished before its copy was seen"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert _copies(tmp_path) == []
    assert decoded_audio_digest(str(track)) == digest
