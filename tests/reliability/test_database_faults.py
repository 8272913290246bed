"""Ordinary database conditions end in one line and exit 1 and keep what was committed (issue 13, cases 3, 7
and 8): concurrent index runs, read-only media, a damaged page, a full disk, someone else's SQLite file, a
schema from a newer version and a database name too long for the files beside it."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from engine.database import APPLICATION_ID
from engine.index_lock import index_lock
from engine.store import Store
from reliability_checks import assert_one_line_exit_1, temporary_files


def _common(database: Path, model_dir: Path) -> tuple[str, ...]:
    return ("--db", str(database), "--model", str(model_dir))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _track_count(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT count(*) FROM tracks").fetchone()[0]


def test_a_second_index_run_on_one_library_is_refused_in_one_line(engine, indexed_copy, model_dir,
                                                                  generated_library_source):
    before = _track_count(indexed_copy)
    with index_lock(indexed_copy):
        completed = engine("index", str(generated_library_source.root), *_common(indexed_copy, model_dir))
    assert_one_line_exit_1(completed, "another index run")
    assert _track_count(indexed_copy) == before
    alias = indexed_copy.parent / "alias" / "same-library.db"  # the same file by another name: the same lock
    alias.parent.mkdir()
    alias.symlink_to(indexed_copy)
    with index_lock(indexed_copy):
        completed = engine("index", str(generated_library_source.root), *_common(alias, model_dir))
    assert_one_line_exit_1(completed, "another index run")


def test_two_index_runs_started_together_on_a_new_library_never_trace_back(library_copy, model_dir, tmp_path):
    for extra in library_copy.valid[6:]:
        extra.unlink()
    database = tmp_path / "new.db"
    command = [sys.executable, "-m", "engine.cli", "index", str(library_copy.root), "--workers", "0",
               *_common(database, model_dir)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    for code, _out, err in results:
        assert "Traceback" not in err and code in (0, 1), err
        if code == 1:
            assert len(err.strip().splitlines()) == 1 and "another index run" in err
    assert 0 in [code for code, _, _ in results]
    final = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert _track_count(database) == 6


def test_an_open_that_sqlite_answers_locked_is_tried_again(tmp_path, monkeypatch):
    """SQLite answers "database is locked" at once (no busy wait) where waiting could deadlock, e.g. when two
    processes switch a new library to WAL together: such an open is tried again instead of failing the run."""
    from engine import database

    real, answers = database._create_or_upgrade, []

    def locked_twice(connection, path):
        answers.append(path)
        if len(answers) <= 2:
            raise sqlite3.OperationalError("database is locked")
        return real(connection, path)

    monkeypatch.setattr(database, "_create_or_upgrade", locked_twice)
    engine = database.open_database(tmp_path / "new.db")
    engine.dispose()
    assert len(answers) == 3
    assert database.inspect_database(tmp_path / "new.db").current


def test_an_open_still_locked_after_the_busy_timeout_ends_in_one_clear_error(tmp_path, monkeypatch):
    from engine import database

    def always_locked(connection, path):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(database, "_create_or_upgrade", always_locked)
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 200)
    with pytest.raises(database.DatabaseOpenError, match="cannot open library database .*database is locked"):
        database.open_database(tmp_path / "new.db")


def test_reading_commands_never_write_the_database(engine, indexed_copy, model_dir, generated_library_source):
    before = _digest(indexed_copy)
    common = _common(indexed_copy, model_dir)
    query = str(generated_library_source.valid[1])
    for arguments in (("info",), ("problems",), ("similar", "3"), ("similar", query), ("key", query), ("tag", query)):
        completed = engine(*arguments, *common, "--json")
        assert completed.returncode == 0, (arguments, completed.stderr)
        json.loads(completed.stdout)
    assert _digest(indexed_copy) == before
    wal = indexed_copy.with_name(indexed_copy.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


@pytest.fixture
def read_only_mount(tmp_path):
    """A folder on a tmpfs remounted read-only (even root cannot write there); skipped where mounting is not
    allowed. Yields (writable staging folder, mount point): fill the first, then call remount()."""
    mount_point = tmp_path / "media"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): read-only media not testable")

    def remount() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)

    yield mount_point, remount
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_reading_commands_work_on_a_database_on_read_only_media(engine, indexed_copy, model_dir, read_only_mount,
                                                               generated_library_source):
    mount_point, remount = read_only_mount
    for path in indexed_copy.parent.iterdir():
        (mount_point / path.name).write_bytes(path.read_bytes())
    remount()
    database = mount_point / indexed_copy.name
    common = _common(database, model_dir)
    assert engine("info", *common).returncode == 0
    assert engine("problems", *common).returncode == 0
    similar = engine("similar", "3", str(generated_library_source.valid[2]), *common, "--json")
    assert similar.returncode == 0, similar.stderr
    assert all(entry["results"] for entry in json.loads(similar.stdout))
    key = engine("key", str(generated_library_source.valid[2]), *common, "--json")
    assert key.returncode == 0 and "camelot" in json.loads(key.stdout)[0]
    assert similar.stderr == key.stderr == ""  # no warning: a cache cannot be saved on read-only media, as expected
    assert_one_line_exit_1(engine("index", str(generated_library_source.root), *common), "library database")


def _corrupt_table_root(database: Path, table: str) -> None:
    with sqlite3.connect(database) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    with open(database, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xa5" * page_size)


def test_a_damaged_page_is_one_line_in_similar_and_index(engine, indexed_copy, model_dir, generated_library_source):
    _corrupt_table_root(indexed_copy, "tracks")
    common = _common(indexed_copy, model_dir)
    assert_one_line_exit_1(engine("similar", "3", *common), "malformed")
    assert_one_line_exit_1(engine("index", str(generated_library_source.root), *common), "malformed")
    assert temporary_files(indexed_copy.parent) == []


def test_a_damaged_page_is_one_line_with_advice_in_info_and_problems(engine, indexed_copy, model_dir):
    """``info`` and ``problems`` read without the library's database layer: a read that fails gives the same line."""
    for table in ("folders", "problems"):  # what each reads whole: info the folders, problems the problems
        _corrupt_table_root(indexed_copy, table)
    for command in ("info", "problems"):
        completed = engine(command, *_common(indexed_copy, model_dir))
        assert_one_line_exit_1(completed, "database disk image is malformed (the file is damaged; restore a backup")
        assert completed.stderr.startswith(f"engine: library database {indexed_copy}: ")


def test_a_library_another_process_holds_locked_is_not_read_half_written(engine, indexed_copy, model_dir):
    """A writer holding the file exclusively (a rollback journal mid-write) makes the reading commands say so in one
    line; they never fall back to reading the file as immutable, which is only for a WAL file on read-only media."""
    holder = sqlite3.connect(indexed_copy, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode = DELETE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE settings SET value = value WHERE name = 'schema_version'")
        for command in ("info", "problems"):
            assert_one_line_exit_1(engine(command, *_common(indexed_copy, model_dir)), "database is locked")
    finally:
        holder.execute("ROLLBACK")
        holder.execute("PRAGMA journal_mode = WAL")
        holder.close()
    assert engine("info", *_common(indexed_copy, model_dir)).returncode == 0


def test_database_full_during_index_keeps_committed_tracks(engine, library_copy, model_dir, tmp_path, monkeypatch):
    database = tmp_path / "library.db"
    real_save = Store.save_tracks
    saved_batches = []

    def full_after_two_batches(self, items, model_id):
        if len(saved_batches) == 2:
            raise OperationalError("INSERT INTO tracks ...", {}, sqlite3.OperationalError("database or disk is full"))
        saved_batches.append(len(items))
        return real_save(self, items, model_id)

    monkeypatch.setattr(Store, "save_tracks", full_after_two_batches)
    completed = engine("index", str(library_copy.root), "--workers", "0", "--batch-windows", "8",
                       *_common(database, model_dir))
    assert_one_line_exit_1(completed, "database or disk is full")
    assert _track_count(database) == sum(saved_batches) > 0
    assert temporary_files(tmp_path) == []
    monkeypatch.undo()
    resumed = engine("index", str(library_copy.root), "--workers", "0", *_common(database, model_dir), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["unchanged"] == sum(saved_batches)


def test_a_real_full_disk_during_index_is_one_line_and_the_run_resumes_once_space_is_freed(
        library_copy, model_dir, small_disk):
    mount_point, grow = small_disk("384k")
    database = mount_point / "library.db"
    command = [sys.executable, "-m", "engine.cli", "index", str(library_copy.root), "--workers", "0",
               *_common(database, model_dir)]
    full = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert_one_line_exit_1(full, "database or disk is full")
    grow()
    resumed = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert _track_count(database) == len(library_copy.valid)
    assert temporary_files(mount_point) == []


def _faiss_writes_on_a_full_disk(monkeypatch) -> None:
    import faiss

    def full_disk(_index, path):  # FAISS's own wording: a RuntimeError ending in the system's reason
        Path(path).write_bytes(b"\0" * 4096)
        raise RuntimeError(f"Error in faiss::FileIOWriter: write error in {path}: 0 != 4096 (No space left on device)")

    monkeypatch.setattr(faiss, "write_index", full_disk)


def _landmark_renames_on_a_full_disk(monkeypatch) -> None:
    real_replace = os.replace

    def full_disk(source, target, *arguments, **options):
        if ".landmarks-v" in Path(target).name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(source, target, *arguments, **options)

    monkeypatch.setattr(os, "replace", full_disk)


def test_a_cache_that_cannot_be_saved_on_a_full_disk_leaves_no_temporary_file(engine, indexed_copy, model_dir,
                                                                             monkeypatch):
    for cache in indexed_copy.parent.glob(indexed_copy.name + ".*.faiss*"):
        cache.unlink()
    _faiss_writes_on_a_full_disk(monkeypatch)
    completed = engine("similar", "3", *_common(indexed_copy, model_dir), "--json")
    assert completed.returncode == 0 and json.loads(completed.stdout)[0]["results"]
    warnings = completed.stderr.strip().splitlines()
    assert len(warnings) == 1 and "could not save the cache" in warnings[0] and "Traceback" not in completed.stderr
    assert temporary_files(indexed_copy.parent) == []
    assert not list(indexed_copy.parent.glob(indexed_copy.name + ".*.faiss*"))


@pytest.mark.parametrize(("cache_suffix", "full_disk"), [(".faiss", _faiss_writes_on_a_full_disk),
                                                         (".landmarks-v", _landmark_renames_on_a_full_disk)])
def test_an_index_run_whose_cache_cannot_be_saved_is_one_line_and_keeps_its_tracks(engine, library_copy, model_dir,
                                                                                  tmp_path, monkeypatch, cache_suffix,
                                                                                  full_disk):
    """A reading command answers from memory when a cache cannot be saved (above); an index run exists to leave
    the library ready on disk, so there a full disk is exit 1, the tracks stay committed, and the next run saves."""
    for extra in library_copy.valid[6:]:
        extra.unlink()
    database = tmp_path / "library.db"
    full_disk(monkeypatch)
    common = ("--workers", "0", *_common(database, model_dir))
    completed = engine("index", str(library_copy.root), *common, "--json")
    assert_one_line_exit_1(completed, f"could not save the cache {database.name}.")
    assert cache_suffix in completed.stderr and "No space left on device" in completed.stderr
    assert "tracks of this run are stored" in completed.stderr
    assert _track_count(database) == 6
    assert temporary_files(tmp_path) == [] and not [path for path in tmp_path.iterdir() if path.name.startswith(".")]
    assert not [path for path in tmp_path.iterdir() if cache_suffix in path.name]
    monkeypatch.undo()
    resumed = engine("index", str(library_copy.root), *common, "--json")
    assert resumed.returncode == 0 and resumed.stderr == "", resumed.stderr
    assert json.loads(resumed.stdout)["unchanged"] == 6
    assert [path for path in tmp_path.iterdir() if cache_suffix in path.name]


def test_a_landmark_cache_save_on_a_full_disk_leaves_no_temporary_file(engine, indexed_copy, model_dir, monkeypatch,
                                                                      generated_library_source, tmp_path):
    import numpy as np

    for cache in indexed_copy.parent.glob(indexed_copy.name + ".landmarks*"):
        cache.unlink()

    def full_disk(target, array, allow_pickle=False):
        if hasattr(target, "write"):
            target.write(b"\0" * 4096)
        else:
            Path(target).write_bytes(b"\0" * 4096)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    copy = tmp_path / "copy.flac"  # outside the library: its original is the same recording
    copy.write_bytes(generated_library_source.valid[4].read_bytes())
    monkeypatch.setattr(np, "save", full_disk)
    completed = engine("similar", str(copy), *_common(indexed_copy, model_dir), "--json")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)[0]["results"][0]["same_recording"]
    assert "could not save the cache" in completed.stderr and "Traceback" not in completed.stderr
    assert temporary_files(indexed_copy.parent) == []


@pytest.mark.parametrize("table", ["tracks", "notes"])  # a table named like one of ours, or not
def test_another_programs_sqlite_database_is_refused_untouched(engine, model_dir, tmp_path, generated_library_source,
                                                               table):
    database = tmp_path / "other.db"
    with sqlite3.connect(database) as connection:
        connection.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute(f"INSERT INTO {table} (name) VALUES ('mine')")
    before = _digest(database)
    for arguments in (("info",), ("index", str(generated_library_source.root))):
        assert_one_line_exit_1(engine(*arguments, *_common(database, model_dir)), "not a semisup-music library")
    assert _digest(database) == before
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_library_is_stamped_with_the_application_id_and_an_older_unstamped_one_is_adopted(engine, indexed_copy,
                                                                                           model_dir):
    with sqlite3.connect(indexed_copy) as connection:
        assert connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        connection.execute("PRAGMA application_id = 0")  # as written before the id existed
    assert engine("info", *_common(indexed_copy, model_dir)).returncode == 0
    assert engine("index", *_common(indexed_copy, model_dir)).returncode == 0
    with sqlite3.connect(indexed_copy) as connection:
        assert connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_newer_schema_is_refused_before_anything_is_written(engine, indexed_copy, model_dir):
    with sqlite3.connect(indexed_copy) as connection:
        connection.execute("UPDATE settings SET value = '99' WHERE name = 'schema_version'")
    before = _digest(indexed_copy)
    assert_one_line_exit_1(engine("info", *_common(indexed_copy, model_dir)), "newer version")
    assert _digest(indexed_copy) == before


def test_a_very_long_database_name_indexes_and_searches(engine, library_copy, model_dir, tmp_path):
    for extra in library_copy.valid[4:]:
        extra.unlink()
    database = tmp_path / ("d" * 240 + ".db")
    common = _common(database, model_dir)
    indexed = engine("index", str(library_copy.root), "--workers", "0", *common)
    assert indexed.returncode == 0, indexed.stderr
    assert engine("similar", "1", *common).returncode == 0
    assert all(len(path.name.encode()) <= 255 for path in tmp_path.iterdir())
    too_long = tmp_path / ("e" * 250 + ".db")
    assert_one_line_exit_1(engine("info", *_common(too_long, model_dir)), "too long")


def test_a_short_write_of_a_cache_in_an_index_run_is_called_a_full_disk_and_names_its_file(
        engine, library_copy, model_dir, tmp_path, monkeypatch):
    """numpy reports a write the disk cut short with no error number ("108357 requested and 56288 written"): it read
    as a cryptic line with the wrong advice, and named the index file whichever file failed."""
    import numpy as np

    for extra in library_copy.valid[6:]:
        extra.unlink()
    database = tmp_path / "library.db"
    real_save = np.save

    def short_members_write(target, array, allow_pickle=False):
        if ".members" in str(getattr(target, "name", target)) or len(array.shape) == 2 and array.shape[1] == 2:
            raise OSError("108357 requested and 56288 written")
        return real_save(target, array, allow_pickle=allow_pickle)

    monkeypatch.setattr(np, "save", short_members_write)
    completed = engine("index", str(library_copy.root), "--workers", "0", *_common(database, model_dir), "--json")
    assert completed.returncode == 1 and "Traceback" not in completed.stderr
    assert "No space left on device" in completed.stderr and "free some space" in completed.stderr
    assert "members" in completed.stderr
    assert _track_count(database) == 6
