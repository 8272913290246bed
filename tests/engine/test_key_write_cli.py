"""`engine key --write` and ``Library.write_key``: the analysed key lands in the file's key tag, problems are
listed per file with exit 0, and an indexed track stays "unchanged" for the next scan."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

import audio_factory
from engine import cli
from engine.keys import Key
from engine.library import Library
from engine.metadata import read_metadata

SECONDS = 6.0


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("key-write-sources")
    samples = audio_factory.chord_progression(Key(2, "major"), SECONDS, seed=21)
    return {extension: str(audio_factory.write_audio(samples, folder / f"song.{extension}"))
            for extension in ("flac", "mp3", "m4a")}


@pytest.fixture
def music(sources, tmp_path) -> dict[str, str]:
    folder = tmp_path / "music"
    folder.mkdir()
    return {extension: str(shutil.copy(source, folder / f"song.{extension}")) for extension, source in sources.items()}


def run_engine(capsys, *arguments: str) -> tuple[int, object]:
    """The CLI in-process with ``--json``: (exit code, parsed stdout)."""
    code = cli.main([*arguments, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out)


def file_sha(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_key_without_write_changes_nothing(capsys, music, model_dir, tmp_path):
    before = {path: (file_sha(path), os.stat(path).st_mtime_ns) for path in music.values()}
    code, rows = run_engine(capsys, "key", *music.values(), "--db", str(tmp_path / "db"), "--model", str(model_dir))
    assert code == 0 and all("written" not in row for row in rows)
    assert {path: (file_sha(path), os.stat(path).st_mtime_ns) for path in music.values()} == before


def test_key_write_writes_keeps_and_overwrites_and_lists_problems(capsys, music, model_dir, tmp_path):
    common = ("--db", str(tmp_path / "db"), "--model", str(model_dir))
    read_only = str(shutil.copy(music["mp3"], tmp_path / "locked.mp3"))
    os.chmod(read_only, 0o444)
    missing = str(tmp_path / "missing.flac")

    code, rows = run_engine(capsys, "key", music["flac"], music["m4a"], read_only, missing,
                            "--write", "--notation", "camelot", *common)

    assert code == 0
    flac, m4a, locked, gone = rows
    for row, path in ((flac, music["flac"]), (m4a, music["m4a"])):
        assert row["written"] is True and row["write_problem"] is None and row["kept_existing"] is False
        assert row["key_tag"] == row["camelot"] == read_metadata(path).key
    assert locked["written"] is False and "read-only" in locked["write_problem"] and "camelot" in locked
    assert gone["written"] is False and "error" in gone and gone["write_problem"]
    assert not os.path.exists(missing)

    code, rows = run_engine(capsys, "key", music["flac"], "--write", "--notation", "openkey", *common)
    assert code == 0 and rows[0]["written"] is False and rows[0]["kept_existing"] is True
    assert rows[0]["key_tag"] == flac["camelot"] == read_metadata(music["flac"]).key

    code, rows = run_engine(capsys, "key", music["flac"], "--write", "--notation", "openkey", "--overwrite", *common)
    assert code == 0 and rows[0]["written"] is True
    assert rows[0]["key_tag"] == rows[0]["open_key"] == read_metadata(music["flac"]).key


def test_unknown_notation_is_a_usage_error(capsys, music):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["key", music["flac"], "--write", "--notation", "solfege"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("option", [["--notation", "camelot"], ["--overwrite"]])
def test_write_options_without_write_are_a_usage_error(capsys, music, option):
    """They would be silently ignored: the key is only printed."""
    before = Path(music["flac"]).read_bytes()
    assert cli.main(["key", music["flac"], *option]) == 2
    assert f"{option[0]} goes with --write" in capsys.readouterr().err
    assert Path(music["flac"]).read_bytes() == before


def test_library_write_key_keeps_an_indexed_track_unchanged_for_the_next_scan(music, model_dir, tmp_path):
    with Library(tmp_path / "library.db", model_dir) as library:
        library.index([os.path.dirname(music["flac"])], workers=0)
        track = next(row for row in library.tracks() if row.path == os.path.abspath(music["mp3"]))

        outcome = library.write_key(track.id, "standard")

        assert outcome.write.changed and outcome.key == track.key
        assert read_metadata(music["mp3"]).key == outcome.key.to_key().short_name
        stored = library.store.track_rows_by_ids(None, [track.id])[track.id]
        assert stored.tag_key == outcome.key.to_key().short_name
        after = os.stat(music["mp3"])
        assert (stored.size, stored.mtime_ns) == (after.st_size, after.st_mtime_ns)

        report = library.index(workers=0)

        assert (report.unchanged, report.analysed, report.updated) == (len(music), 0, 0)


def test_a_key_written_through_a_symlinked_folder_is_recorded_on_the_track_the_library_knows(music, model_dir,
                                                                                          tmp_path):
    """The library indexed the real folder; the user writes through a link to it: the same file, another path."""
    folder = os.path.dirname(music["flac"])
    link = tmp_path / "linked"
    link.symlink_to(folder, target_is_directory=True)
    with Library(tmp_path / "library.db", model_dir) as library:
        library.index([folder], workers=0)

        outcome = library.write_key(str(link / "song.mp3"), "standard")

        assert outcome.write.changed
        track_id = library.track_id_for_path(music["mp3"])
        stored = library.store.track_rows_by_ids(None, [track_id])[track_id]
        assert stored.path == os.path.abspath(music["mp3"])  # the row keeps its own path
        assert stored.tag_key == outcome.key.to_key().short_name
        assert library.index(workers=0).analysed == 0


def test_library_write_key_of_an_unknown_track_is_a_problem(model_dir, tmp_path):
    with Library(tmp_path / "library.db", model_dir) as library:
        outcome = library.write_key(12345)
    assert outcome.key is None and outcome.write.problem == "no such track"
