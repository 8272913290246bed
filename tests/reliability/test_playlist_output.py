"""``engine playlist -o``: never destroys a file it was not asked to replace, never leaves a partial playlist,
and never lets a tag or a file name add a line to the playlist (issue 13, cases 1 and 2)."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from pathlib import Path

import pytest

from engine.library import Library
from reliability_checks import assert_one_line_exit_1, temporary_files


def _playlist(engine, database: Path, model_dir: Path, output: Path, *extra: str):
    return engine("playlist", "1", "-n", "5", "-o", str(output), "--db", str(database), "--model", str(model_dir), *extra)


def test_existing_playlist_is_kept_unless_overwrite(engine, indexed_copy, model_dir, tmp_path):
    output = tmp_path / "radio.m3u8"
    output.write_text("#EXTM3U\nmine\n", encoding="utf-8")
    assert_one_line_exit_1(_playlist(engine, indexed_copy, model_dir, output), "--overwrite")
    assert output.read_text(encoding="utf-8") == "#EXTM3U\nmine\n"
    replaced = _playlist(engine, indexed_copy, model_dir, output, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert output.read_bytes().startswith(b"#EXTM3U\n#EXTINF:")


def test_library_database_is_never_overwritten_even_with_overwrite(engine, indexed_copy, model_dir):
    before = indexed_copy.read_bytes()
    assert_one_line_exit_1(_playlist(engine, indexed_copy, model_dir, indexed_copy, "--overwrite"), "database")
    assert indexed_copy.read_bytes() == before
    with sqlite3.connect(indexed_copy) as connection:
        assert connection.execute("SELECT count(*) FROM tracks").fetchone()[0] > 0


def test_other_sqlite_database_is_never_overwritten(engine, indexed_copy, model_dir, tmp_path):
    other = tmp_path / "notes.m3u8"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    before = other.read_bytes()
    assert_one_line_exit_1(_playlist(engine, indexed_copy, model_dir, other, "--overwrite"), "database")
    assert other.read_bytes() == before


def test_audio_file_is_never_overwritten(engine, indexed_copy, model_dir, generated_library_source, tmp_path):
    audio = tmp_path / "song.flac"
    audio.write_bytes(generated_library_source.valid[4].read_bytes())
    before = audio.read_bytes()
    assert_one_line_exit_1(_playlist(engine, indexed_copy, model_dir, audio, "--overwrite"), "audio file")
    assert audio.read_bytes() == before


@pytest.mark.parametrize("source", [0, 1, 2])  # whatever format the library's files are in
def test_audio_under_a_playlist_name_is_never_overwritten(engine, indexed_copy, model_dir, generated_library_source,
                                                         tmp_path, source):
    """The name says playlist, the bytes say audio: --overwrite does not destroy it."""
    disguised = tmp_path / "radio.m3u8"
    disguised.write_bytes(generated_library_source.valid[source].read_bytes())
    before = disguised.read_bytes()
    assert_one_line_exit_1(_playlist(engine, indexed_copy, model_dir, disguised, "--overwrite"), "holds audio")
    assert disguised.read_bytes() == before


def test_a_replaced_playlist_keeps_its_permissions(engine, indexed_copy, model_dir, tmp_path):
    output = tmp_path / "radio.m3u8"
    output.write_text("#EXTM3U\nmine\n", encoding="utf-8")
    output.chmod(0o640)
    assert _playlist(engine, indexed_copy, model_dir, output, "--overwrite").returncode == 0
    assert output.stat().st_mode & 0o777 == 0o640 and output.read_bytes().startswith(b"#EXTM3U\n#EXTINF:")


def test_full_disk_leaves_the_old_playlist_and_no_partial_or_temporary_file(engine, indexed_copy, model_dir, tmp_path,
                                                                           monkeypatch):
    output = tmp_path / "radio.m3u8"
    output.write_text("#EXTM3U\nold\n", encoding="utf-8")
    real_write_bytes = Path.write_bytes

    def disk_full_after_4_kb(path: Path, data: bytes) -> int:
        real_write_bytes(path, data[:4096])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(Path, "write_bytes", disk_full_after_4_kb)
    assert_one_line_exit_1(_playlist(engine, indexed_copy, model_dir, output, "--overwrite"), "No space left")
    monkeypatch.undo()
    assert output.read_text(encoding="utf-8") == "#EXTM3U\nold\n"
    assert temporary_files(tmp_path) == []


def test_a_real_full_disk_leaves_the_old_playlist(engine, indexed_copy, model_dir, small_disk):
    folder, _ = small_disk("64k")
    output = folder / "radio.m3u8"
    output.write_text("#EXTM3U\nold\n", encoding="utf-8")
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:  # fill the disk to its last byte
        try:
            while True:
                handle.write(b"\0" * 1024)
        except OSError:
            pass
    completed = engine("playlist", "1", "-n", "30", "-o", str(output), "--overwrite", "--db", str(indexed_copy),
                       "--model", str(model_dir))
    assert_one_line_exit_1(completed, "No space left")
    assert output.read_text(encoding="utf-8") == "#EXTM3U\nold\n"
    assert temporary_files(folder) == []


def _retitle_first_track(database: Path, model_dir: Path, title: str) -> None:
    with Library(database, model_dir) as library:
        track = library.playlist(1, 1)[0]
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE tracks SET title = ?, artist = NULL WHERE id = ?", (title, track.id))


def test_control_characters_in_a_title_cannot_add_playlist_lines(engine, indexed_copy, model_dir, tmp_path):
    _retitle_first_track(indexed_copy, model_dir, "ok\nhttp://evil.example/track.mp3\r\x85\u2028end")
    output = tmp_path / "radio.m3u8"
    completed = _playlist(engine, indexed_copy, model_dir, output, "--json")
    assert completed.returncode == 0, completed.stderr
    lines = output.read_bytes().decode("utf-8", errors="replace").split("\n")
    assert not any(line.startswith("http") for line in lines)
    assert lines[1].startswith("#EXTINF:") and "ok http://evil.example/track.mp3" in lines[1]
    entries = [line for line in lines[1:] if line]
    assert len(entries) == 2 * len(json.loads(completed.stdout)["tracks"])
    assert all(entry.startswith("#EXTINF:") == (number % 2 == 0) for number, entry in enumerate(entries))


def test_a_file_name_with_a_newline_is_left_out_with_a_warning(engine, library_copy, model_dir, tmp_path):
    source = library_copy.valid[0]
    hostile = source.with_name("ok\nhttp:evil.example.mp3")
    source.rename(hostile)
    database = tmp_path / "library.db"
    with Library(database, model_dir) as library:
        library.index([library_copy.root], workers=0)
        hostile_id = library.store.track_id_for_path(str(hostile))
    output = tmp_path / "radio.m3u8"
    completed = engine("playlist", str(hostile_id), "-n", "5", "-o", str(output), "--db", str(database), "--model",
                       str(model_dir), "--json")
    assert completed.returncode == 0, completed.stderr
    assert "left out" in completed.stderr and "Traceback" not in completed.stderr
    result = json.loads(completed.stdout)
    assert [track["track_id"] for track in result["skipped"]] == [hostile_id]
    assert hostile_id not in [track["track_id"] for track in result["tracks"]]
    lines = output.read_bytes().split(b"\n")
    assert b"http:evil.example.mp3" not in lines and os.fsencode(str(hostile)) not in output.read_bytes()
    assert len([line for line in lines if line.startswith(b"#EXTINF:")]) == len(result["tracks"])
