"""A FIFO, a device or a folder given where a file is expected is refused as "not a regular file" by every
command that takes files, instead of blocking forever on the read (issue 13, case 4)."""

from __future__ import annotations

import json
import os

import pytest

from reliability_checks import assert_one_line_exit_1

FIFO_SECONDS = 120  # a command that opens the FIFO blocks until killed: pytest-timeout ends the test instead


def _commands() -> set[str]:
    from engine.cli import build_parser

    parser = build_parser()
    return set(next(action for action in parser._actions if action.dest == "command").choices)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "stream.mp3"
    os.mkfifo(path)
    return path


@pytest.mark.timeout(FIFO_SECONDS)
@pytest.mark.parametrize("arguments", [("key",), ("tag",), ("similar",), ("key", "--write"),
                                       ("key", "--write", "--overwrite"), ("bpm",), ("bpm", "--write")])
def test_a_fifo_is_refused_by_every_command_that_takes_files(engine, indexed_copy, model_dir, fifo, arguments):
    if arguments[0] not in _commands():
        pytest.skip(f"no `engine {arguments[0]}` in this version")
    completed = engine(*arguments, str(fifo), "--db", str(indexed_copy), "--model", str(model_dir), "--json")
    assert completed.returncode == 1 and "Traceback" not in completed.stderr, completed.stderr
    (row,) = json.loads(completed.stdout)
    assert "not a regular file" in (row.get("error") or row.get("write_problem") or "")


@pytest.mark.timeout(FIFO_SECONDS)
def test_a_fifo_as_playlist_seed_is_one_line(engine, indexed_copy, model_dir, fifo, tmp_path):
    completed = engine("playlist", str(fifo), "-o", str(tmp_path / "radio.m3u8"), "--db", str(indexed_copy),
                       "--model", str(model_dir))
    assert_one_line_exit_1(completed, "not a regular file")


@pytest.mark.timeout(FIFO_SECONDS)
def test_a_fifo_as_playlist_output_is_refused(engine, indexed_copy, model_dir, tmp_path):
    output = tmp_path / "radio.m3u8"
    os.mkfifo(output)
    completed = engine("playlist", "1", "-o", str(output), "--overwrite", "--db", str(indexed_copy), "--model",
                       str(model_dir))
    assert_one_line_exit_1(completed, "not a regular file")


@pytest.mark.timeout(FIFO_SECONDS)
@pytest.mark.parametrize("special", ["/dev/zero", "folder"])
def test_a_device_or_folder_is_refused_by_key(engine, indexed_copy, model_dir, tmp_path, special):
    path = tmp_path if special == "folder" else special
    completed = engine("key", str(path), "--db", str(indexed_copy), "--model", str(model_dir), "--json")
    assert completed.returncode == 1
    assert json.loads(completed.stdout)[0]["error"] == "not a regular file"
