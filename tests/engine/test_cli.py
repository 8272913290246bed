"""The ``engine`` command as outside users drive it: JSON shapes of DESIGN.md, exit codes, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import faiss
import pytest

from audio_factory import chord_progression, write_audio
from engine.keys import Key
from engine.library import Library
from engine.vector_index import index_paths
from json_contract import (
    BPM_TYPES, INDEX_TYPES, INFO_TYPES, KEY_TYPES, PROBLEM_TYPES, SIMILAR_TYPES, WHEEL_BY_INDEX, assert_types,
)

KEY_FIELDS = {"path", "tonic", "pitch_class", "mode", "camelot", "confidence", "key", "open_key"}
SIMILAR_RESULT_FIELDS = {"path", "track_id", "score", "title", "artist", "key", "same_recording"}
INDEX_FIELDS = {"added", "updated", "unchanged", "removed", "problems", "seconds"}
KILL_POLL_SECONDS = 0.05
SCORE_SLACK = 1e-6  # cosine of float32 unit vectors
CTRL_C_EXIT = 130
KILL_WAIT_SECONDS = 90


@pytest.fixture
def engine(capsys):
    """Run the CLI in-process (same ``main`` as the console script): → CompletedProcess-like result."""
    from engine import cli

    def run(*arguments: str, check_exit: int | None = 0) -> subprocess.CompletedProcess:
        try:
            code = cli.main(list(arguments))
        except SystemExit as exit_:  # argparse usage errors
            code = exit_.code
        out, err = capsys.readouterr()
        completed = subprocess.CompletedProcess(list(arguments), code, out, err)
        if check_exit is not None:
            assert code == check_exit, err
        return completed

    return run


@pytest.fixture
def engine_json(engine):
    return lambda *arguments: json.loads(engine(*arguments, "--json").stdout)


def engine_subprocess(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *arguments], capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())


def assert_one_clear_line(completed: subprocess.CompletedProcess, fragment: str) -> None:
    assert completed.returncode == 1
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in completed.stderr, completed.stderr
    assert fragment in lines[0]
    assert completed.stdout == ""


def test_similar_key_tag_info_problems_json_shapes(engine, engine_json, indexed_library, generated_library_source,
                                                   model_dir, tmp_path):
    database, report = indexed_library
    common = ("--db", str(database), "--model", str(model_dir))
    query_path = str(generated_library_source.valid[0])
    similar = engine_json("similar", query_path, "3", "-k", "4", *common)
    assert [entry["query"] for entry in similar] == [query_path, "3"]
    for entry in similar:
        assert len(entry["results"]) == 4
        for hit in entry["results"]:
            assert SIMILAR_RESULT_FIELDS <= set(hit)
            assert_types(hit, SIMILAR_TYPES)
            assert -1.0 - SCORE_SLACK <= hit["score"] <= 1.0 + SCORE_SLACK
        assert [hit["score"] for hit in entry["results"]] == sorted((hit["score"] for hit in entry["results"]), reverse=True)
    assert query_path not in {hit["path"] for hit in similar[0]["results"]}
    assert 3 not in {hit["track_id"] for hit in similar[1]["results"]}

    broken = str(generated_library_source.root / "broken" / "text.mp3")
    keys = engine_json("key", query_path, broken, *common)
    assert KEY_FIELDS <= set(keys[0]) and keys[0]["path"] == query_path
    assert_types(keys[0], KEY_TYPES)
    assert keys[0]["mode"] in ("major", "minor") and 0 <= keys[0]["pitch_class"] < 12
    index = keys[0]["pitch_class"] + (12 if keys[0]["mode"] == "minor" else 0)
    assert (keys[0]["key"], keys[0]["camelot"], keys[0]["open_key"]) == WHEEL_BY_INDEX[index]  # the published wheel
    assert keys[0]["key"] == f"{keys[0]['tonic']} {keys[0]['mode']}" and 0.0 <= keys[0]["confidence"] <= 1.0
    assert (keys[1]["path"], keys[1]["error"]) == (broken, "not an audio file or corrupt header")

    (tempo,) = engine_json("bpm", query_path, *common)
    assert_types(tempo, BPM_TYPES)

    tags = engine_json("tag", query_path, *common)
    assert set(tags[0]) - {"path_bytes"} == {"path", "tags", "tag_probabilities"}
    assert set(tags[0]["tags"]) == set(tags[0]["tag_probabilities"]) == {"rock", "jazz", "calm", "electronic"}
    assert tags[0]["tags"] == tags[0]["tag_probabilities"]  # an uncalibrated model asserts its plain probabilities
    assert all(isinstance(probability, float) for probability in tags[0]["tags"].values())

    info = engine_json("info", *common)
    assert_types(info, INFO_TYPES)
    assert (info["tracks"], info["problems"]) == (report.added, report.problems)
    assert info["folders"] == [str(generated_library_source.root)]

    problems = engine_json("problems", "--db", str(database))
    assert len(problems) == report.problems
    assert all(set(row) - {"path_bytes"} == {"path", "reason"} for row in problems)
    for row in problems:
        assert_types(row, PROBLEM_TYPES)

    playlist_file = tmp_path / "radio.m3u8"
    engine("playlist", "3", "-n", "5", "-o", str(playlist_file), *common)
    assert playlist_file.read_text(encoding="utf-8").startswith("#EXTM3U\n")


def test_without_a_model_analysis_commands_fail_in_one_line_and_browsing_works(engine, engine_json, indexed_library,
                                                                               tmp_path):
    database, report = indexed_library
    song = tmp_path / "x.mp3"
    song.write_bytes(b"")
    for command in (["index", str(tmp_path)], ["similar", "1"], ["key", str(song)], ["tag", str(song)]):
        assert_one_clear_line(engine(*command, "--db", str(database), check_exit=None), "no usable model")
    info = engine_json("info", "--db", str(database))
    assert info["model"] is None and info["tracks"] == report.added
    assert len(engine_json("problems", "--db", str(database))) == report.problems


def test_bad_database_and_model_folder_exit_1_with_one_line(engine, tmp_path, model_dir):
    assert_one_clear_line(engine("info", "--db", str(tmp_path / "no" / "such" / "lib.db"), check_exit=None),
                          "database folder does not exist")
    assert_one_clear_line(engine("info", "--db", str(tmp_path), check_exit=None), "database path is a folder")
    (tmp_path / "empty-model").mkdir()
    assert_one_clear_line(engine("info", "--db", str(tmp_path / "l.db"), "--model", str(tmp_path / "empty-model"),
                                 check_exit=None), "has no config.json")
    assert_one_clear_line(engine("similar", "123456", "--db", str(tmp_path / "l.db"), "--model", str(model_dir),
                                 check_exit=None), "no such track")


def test_reading_commands_on_a_library_that_is_not_there_create_nothing(engine, engine_json, tmp_path, model_dir):
    folder = tmp_path / "work"
    folder.mkdir()
    song = write_audio(chord_progression(Key(9, "minor"), 12.0), tmp_path / "song.wav")
    missing = folder / "typo.db"
    info = engine("info", "--db", str(missing), "--json")
    assert json.loads(info.stdout)["tracks"] == 0 and "no library at" in info.stderr
    assert engine_json("problems", "--db", str(missing)) == []
    assert engine_json("excluded", "--db", str(missing)) == []
    assert engine_json("remove", "1", "--db", str(missing))["not_found"] == [1]
    assert engine_json("restore", str(tmp_path / "a.mp3"), "--db", str(missing))["restored"] == []
    assert engine("similar", "1", "--db", str(missing), check_exit=None).returncode == 1
    query = engine_json("similar", str(song), "--harmonic", "--db", str(missing), "--model", str(model_dir))
    assert query[0]["results"] == []
    assert engine_json("key", str(song), "--db", str(missing), "--model", str(model_dir))[0]["tonic"]
    failed = engine("index", str(tmp_path / "no such folder"), "--db", str(missing), check_exit=None)
    assert failed.returncode == 1 and "not found" in failed.stderr  # a mistyped path: no new library either
    assert list(folder.iterdir()) == []  # no database, no index caches, no temporary folder left


def test_usage_errors_exit_2(engine):
    assert engine(check_exit=None).returncode == 2
    assert engine("--help", check_exit=None).returncode == 0
    assert engine("frobnicate", check_exit=None).returncode == 2
    assert engine("similar", check_exit=None).returncode == 2
    assert engine("similar", "1", "-k", "zero", check_exit=None).returncode == 2


def _track_count(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            return connection.execute("SELECT count(*) FROM tracks").fetchone()[0]
    except sqlite3.Error:
        return 0


def _kill_when(database: Path, arguments: list[str], more_than: int | None, delay: float = 0.0) -> None:
    """Start `engine index`, wait until more than ``more_than`` tracks are stored (or ``delay``), kill -9."""
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", *arguments], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        if more_than is None:
            time.sleep(delay)
        else:
            while _track_count(database) <= more_than and time.monotonic() < deadline and process.poll() is None:
                time.sleep(KILL_POLL_SECONDS)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the orphaned decode workers
        except ProcessLookupError:
            pass


def test_kill_9_at_several_points_then_resume_without_redoing_finished_tracks(library_copy, model_dir, tmp_path):
    database = tmp_path / "lib.db"
    arguments = ["index", str(library_copy.root), "--db", str(database), "--model", str(model_dir),
                 "--workers", "1", "--batch-windows", "6"]
    _kill_when(database, arguments, more_than=None, delay=1.0)  # during start-up or scan
    _kill_when(database, arguments, more_than=0)  # right after the first commit
    stored = _track_count(database)
    _kill_when(database, arguments, more_than=stored + 3)  # mid-run
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finished = dict(connection.execute("SELECT track_id, id FROM analyses").fetchall())
    assert 0 < len(finished) < len(library_copy.valid)

    with Library(database, model_dir) as library:  # FAISS consistent with SQLite after the kills
        ids, _ = library.embeddings()
        index = library._vector_index(library.model())
        index.ensure_current()
        assert index.size == len(ids) == len(finished)

    completed = engine_subprocess(*arguments, "--json")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert INDEX_FIELDS <= set(report)
    assert report["added"] == len(library_copy.valid) - len(finished)
    assert report["unchanged"] == len(finished)
    assert report["problems"] == len(library_copy.broken)
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        after = dict(connection.execute("SELECT track_id, id FROM analyses").fetchall())
        (model_id,) = connection.execute("SELECT DISTINCT model_id FROM analyses").fetchone()
    assert all(after[track_id] == analysis_id for track_id, analysis_id in finished.items())
    assert len(after) == len(library_copy.valid)
    index_file, meta_file = index_paths(database, model_id)
    saved = faiss.read_index(str(index_file))
    assert saved.ntotal == len(after)
    assert json.loads(meta_file.read_text())["max_analysis_id"] == max(after.values())


@pytest.mark.skipif(sys.platform != "linux", reason="SIGINT to a process group")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly_and_resume_finishes(library_copy, model_dir, tmp_path, stop):
    """Ctrl-C (to the process group, as a terminal sends it) and SIGTERM (to the process, as `kill` and `timeout`
    send it) both stop after the current batch, shut the decode workers down and exit 130."""
    database = tmp_path / "lib.db"
    arguments = [sys.executable, "-m", "engine.cli", "index", str(library_copy.root), "--db", str(database),
                 "--model", str(model_dir), "--workers", "1", "--batch-windows", "6", "--json"]
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while _track_count(database) == 0 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(KILL_POLL_SECONDS)
    if stop == signal.SIGINT:
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    else:
        process.send_signal(stop)
    stdout, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr
    assert process.returncode == CTRL_C_EXIT, (process.returncode, stderr)  # stopped mid-run, not "already done"
    stopped = json.loads(stdout)
    assert stopped["cancelled"] is True
    assert_types(stopped, INDEX_TYPES)
    stored = _track_count(database)
    assert 0 < stored < len(library_copy.valid)
    resumed = engine_subprocess(*arguments[3:])
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert_types(report, INDEX_TYPES)
    assert report["cancelled"] is False and report["added"] == len(library_copy.valid) - report["unchanged"]
    assert report["unchanged"] >= 1 and report["added"] >= 1


def test_train_and_eval_are_handed_to_training_lazily(monkeypatch):
    import types

    from engine import cli

    calls = []
    for name in ("training.cli", "training.evaluation.cli"):
        fake = types.ModuleType(name)
        fake.main = lambda rest, name=name: calls.append((name, rest)) or 7
        monkeypatch.setitem(sys.modules, name, fake)
    assert cli.main(["train", "pretrain", "--epochs", "1"]) == 7
    assert cli.main(["eval", "report"]) == 7
    assert calls == [("training.cli", ["pretrain", "--epochs", "1"]), ("training.evaluation.cli", ["report"])]


def test_console_entry_point_prints_only_json_on_stdout(indexed_library):
    database, report = indexed_library
    completed = engine_subprocess("info", "--db", str(database), "--json")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["tracks"] == report.added


def test_missing_training_package_is_one_clear_line(monkeypatch, capsys):
    from engine import cli

    monkeypatch.setitem(sys.modules, "training.evaluation.cli", None)  # import raises ImportError
    assert cli.main(["eval", "report"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
