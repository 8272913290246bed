"""What a writer killed outright leaves beside the database (a temporary copy as large as the FAISS index, a
landmark merge folder) is removed by the next write of the same file; nothing of a writer still running, and no
file of the user's, is touched."""

from __future__ import annotations

import subprocess
import sys

from engine.atomic_write import remove_stale, write_bytes_atomically


def _gone_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_next_write_removes_a_killed_writers_temporaries_and_leaves_everything_else(tmp_path):
    dead, alive = _gone_pid(), subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        target = tmp_path / "library.db.default-0123.faiss"
        stale_file = tmp_path / f".library.db.default-0123.faiss.{dead}.140.abc123.tmp"
        stale_folder = tmp_path / f".library.db.default-0123.faiss.{dead}.xyz"
        running = tmp_path / f".library.db.default-0123.faiss.{alive.pid}.140.def456.tmp"
        users = [tmp_path / ".library.db.default-0123.faiss.notes.tmp", tmp_path / f".library.db.default-0123.faiss.{dead}.txt",
                 tmp_path / f".other.db.{dead}.1.x.tmp"]
        for path in (stale_file, running, *users):
            path.write_bytes(b"x" * 100)
        stale_folder.mkdir()
        (stale_folder / "run-0.npy").write_bytes(b"y")
        write_bytes_atomically(target, b"index")
        assert target.read_bytes() == b"index"
        assert not stale_file.exists() and not stale_folder.exists()
        assert running.exists() and all(path.exists() for path in users)
        remove_stale(tmp_path / "no-such-folder", ".x.")  # a folder that is not there: nothing to do, no error
    finally:
        alive.kill()
        alive.wait()


def test_a_landmark_merge_folder_left_by_a_killed_run_goes_with_the_next_merge(tmp_path, model_dir):
    import audio_factory
    from engine.keys import Key
    from engine.library import Library

    music = tmp_path / "music"
    music.mkdir()
    audio_factory.write_audio(audio_factory.chord_progression(Key(0, "major"), 8.0, seed=1), music / "a.flac")
    database = tmp_path / "library.db"
    with Library(database, model_dir) as library:
        library.index([music], workers=0)
    left = tmp_path / f".library.db.landmarks-v2.npy.{_gone_pid()}.k3x9"
    left.mkdir()
    (left / "run-0.npy").write_bytes(b"z" * 1000)
    audio_factory.write_audio(audio_factory.chord_progression(Key(7, "minor"), 8.0, seed=2), music / "b.flac")
    with Library(database, model_dir) as library:
        library.index([music], workers=0)
        assert library.similar(str(music / "b.flac"), k=1)  # the landmark index caught up (a merge ran)
    assert not left.exists()
