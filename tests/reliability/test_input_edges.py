"""Inputs an outside sweep of every ``engine`` command found mishandled (2026-12-07): numbers that are no SQLite
integer, empty paths, a link to nothing as a playlist, a weights file cut short, folders the walk cannot list and
links that lead above the folder walked. Each must be one clear line, and none may change the library."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from reliability_checks import assert_one_line_exit_1


def _library_state(database) -> tuple:
    with sqlite3.connect(database) as connection:
        return tuple(connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                     for table in ("tracks", "problems", "models", "folders", "excluded_files"))


@pytest.mark.parametrize("arguments", [
    ("remove", "٣"), ("remove", str(2**63)), ("remove", "5", str(10**30)), ("remove", "1_0"),
    ("tag", "--suggest", "--accept", "٣:genre:rock"), ("tag", "--suggest", "--accept", f"{2**63}:genre:rock"),
    ("tag", "--suggest", "--accept", "0:genre:rock"), ("index", "--workers", str(10**20)),
])
def test_numbers_that_are_no_track_id_or_count_are_usage_errors(engine, indexed_copy, model_dir, arguments):
    before = _library_state(indexed_copy)
    result = engine(*arguments, "--db", str(indexed_copy), "--model", str(model_dir))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "argument" in result.stderr
    assert _library_state(indexed_copy) == before


@pytest.mark.parametrize("command", ["index", "restore"])
def test_an_empty_path_is_refused_not_read_as_the_working_folder(engine, indexed_copy, model_dir, tmp_path,
                                                                 monkeypatch, command):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    before = _library_state(indexed_copy)
    assert_one_line_exit_1(engine(command, "", "--db", str(indexed_copy), "--model", str(model_dir)), "empty path")
    assert _library_state(indexed_copy) == before


def test_the_library_refuses_an_empty_folder_path(indexed_copy, model_dir, tmp_path, monkeypatch):
    """``Library.add_folder("")`` would add the working folder, which nobody named; ``remove_folder("")`` would drop
    it. Both are refused, as the command line refuses an empty path (``Path("")`` is ``Path(".")``: a name)."""
    from engine.library import Library, LibraryError

    monkeypatch.chdir(tmp_path)
    before = _library_state(indexed_copy)
    with Library(indexed_copy, model_dir=model_dir) as library:
        for call in (library.add_folder, library.remove_folder):
            with pytest.raises(LibraryError, match="empty path"):
                call("")
    assert _library_state(indexed_copy) == before


def test_a_link_to_nothing_is_kept_unless_overwrite(engine, indexed_copy, model_dir, tmp_path):
    link = tmp_path / "radio.m3u8"
    link.symlink_to(tmp_path / "missing-target.m3u8")
    result = engine("playlist", "1", "-n", "3", "-o", str(link), "--db", str(indexed_copy), "--model", str(model_dir))
    assert_one_line_exit_1(result, "--overwrite")
    assert link.is_symlink()
    result = engine("playlist", "1", "-n", "3", "-o", str(link), "--overwrite", "--db", str(indexed_copy),
                    "--model", str(model_dir))
    assert result.returncode == 0 and link.is_file() and not link.is_symlink()


def test_a_weights_file_cut_short_is_refused_before_the_library_changes(engine, indexed_copy, model_dir,
                                                                        generated_library_source, tmp_path):
    broken = shutil.copytree(model_dir, tmp_path / "cut-short")
    weights = broken / "weights.safetensors"
    os.truncate(weights, weights.stat().st_size - 100)
    before = _library_state(indexed_copy)
    for arguments in (("index", str(generated_library_source.root)), ("info",), ("similar", "1")):
        result = engine(*arguments, "--db", str(indexed_copy), "--model", str(broken))
        assert_one_line_exit_1(result, "unreadable weights.safetensors")
        assert "truncated" in result.stderr
    assert _library_state(indexed_copy) == before


def test_a_folder_the_walk_cannot_list_keeps_its_tracks_and_is_a_problem(model_dir, library_copy, tmp_path,
                                                                         monkeypatch):
    """A folder made unreadable (permissions, an I/O error on a failing disk) was not seen, not found empty: its
    tracks stay, and the folder is listed among the problems until it can be read again."""
    from engine import scan
    from engine.library import Library

    music = library_copy.root
    hidden = music / "mp3"
    with Library(tmp_path / "library.db", model_dir) as library:
        library.index([music], workers=0)
        tracks = {row.path for row in library.tracks(limit=1000)}
        listing = os.scandir

        def refusing(path="."):
            if os.fspath(path) == str(hidden):
                raise PermissionError(13, "Permission denied", str(hidden))
            return listing(path)

        monkeypatch.setattr(scan.os, "scandir", refusing)
        report = library.index([music], workers=0)
        assert report.removed == 0 and {row.path for row in library.tracks(limit=1000)} == tracks
        assert any(problem.path == str(hidden) and "cannot read folder" in problem.reason
                   for problem in library.problems())
        monkeypatch.setattr(scan.os, "scandir", listing)
        library.index([music], workers=0)
        assert not any(problem.path == str(hidden) for problem in library.problems())
        assert {row.path for row in library.tracks(limit=1000)} == tracks


@pytest.mark.parametrize("arguments", [
    ("train", "pretrain", "--config", "{folder}"),
    ("train", "pretrain", "--config", "{binary}"),
    ("train", "centre-embedding", "--model", "{model}", "--manifest", "{binary}", "--out", "{folder}/centre"),
    ("train", "calibrate-tags", "--model", "{model}", "--scores", "{missing}", "--debian", "{missing}"),
    ("train", "calibrate-tags", "--model", "{model}", "--scores", "{no_split}", "--debian", "{no_split}"),
    ("eval", "--out", "{folder}/report", "--scores", "{missing}", "--no-essentia", "--skip-soundtracks", "--skip-tempo"),
    ("eval", "--out", "{folder}/report", "--scores", "{binary}", "--no-essentia", "--skip-soundtracks", "--skip-tempo"),
    ("eval", "--out", "{binary}", "--no-essentia", "--skip-renders", "--skip-soundtracks", "--skip-tempo"),
])
def test_training_and_evaluation_inputs_that_are_no_config_or_manifest_are_one_line(engine, model_dir, tmp_path,
                                                                                    arguments):
    """A config or manifest that is a folder, a binary file, missing, or not made of manifest records, and a report
    folder that is a file: ``error: ...`` and exit 1, not a traceback, and no empty report for a missing manifest."""
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    no_split = tmp_path / "no-split.jsonl"
    no_split.write_text('{"path": "x.flac"}\n', encoding="utf-8")
    names = {"folder": tmp_path, "binary": binary, "missing": tmp_path / "missing.jsonl", "no_split": no_split,
             "model": model_dir}
    result = engine(*(argument.format(**names) for argument in arguments))
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "error:" in result.stderr
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("offsets", ['["0", "4"]', "[0, null]", "[4, 0]", "[true, 4]", '"0-4"'])
def test_a_weights_header_with_bad_offsets_is_one_line(engine, model_dir, tmp_path, offsets):
    from engine.model_checks import check_weights_layout

    broken = shutil.copytree(model_dir, tmp_path / "bad-header")
    header = ('{"w": {"dtype": "F32", "shape": [1], "data_offsets": ' + offsets + '}}').encode()
    (broken / "weights.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    with pytest.raises(ValueError):
        check_weights_layout(broken / "weights.safetensors")
    assert_one_line_exit_1(engine("info", "--db", str(tmp_path / "library.db"), "--model", str(broken)),
                           "unreadable weights.safetensors")


def test_a_deeply_nested_weights_header_is_one_line(model_dir, tmp_path):
    from engine.model_checks import check_weights_layout

    header = b"[" * 100_000 + b"]" * 100_000
    weights = tmp_path / "weights.safetensors"
    weights.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(ValueError, match="unreadable safetensors header"):
        check_weights_layout(weights)


def test_a_broken_remembered_model_is_not_swapped_for_the_default(indexed_copy, model_dir, second_model_dir,
                                                                   tmp_path, monkeypatch):
    """The library's own model folder, cut short: the library says so instead of reading with the default model
    (an index run would analyse everything again with another model)."""
    from engine.library import Library, ModelUnavailableError

    own = shutil.copytree(second_model_dir, tmp_path / "own-model")
    with Library(indexed_copy) as library:
        library.use_model(own)
    weights = own / "weights.safetensors"
    os.truncate(weights, weights.stat().st_size - 100)
    monkeypatch.setenv("ENGINE_MODEL_DIR", str(model_dir))
    with Library(indexed_copy, read_only=True) as library, pytest.raises(ModelUnavailableError) as refused:
        library.model_spec()
    assert "the library's model cannot be used" in str(refused.value) and "truncated" in str(refused.value)
