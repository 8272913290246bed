"""Problems of the moment (permission denied, I/O errors) are retried on the next index run; problems with the
content are kept until the file changes or ``engine index --retry-problems`` (issue 13, case 5)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import engine.planner as planner_module
from engine.problem_reasons import is_transient


def _problems(database: Path) -> dict[str, tuple[str, float]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT path, reason, recorded_at FROM problems").fetchall()
    return {Path(path).name: (reason, recorded_at) for path, reason, recorded_at in rows}


def _index(engine, library_root: Path, database: Path, model_dir: Path, *extra: str) -> dict:
    completed = engine("index", str(library_root), "--workers", "0", "--db", str(database), "--model", str(model_dir),
                       "--json", *extra)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_a_file_unreadable_during_one_run_is_indexed_on_the_next(engine, library_copy, model_dir, tmp_path,
                                                                 monkeypatch):
    for extra in library_copy.valid[6:]:
        extra.unlink()
    locked = library_copy.valid[2]
    real_hash = planner_module.quick_hash

    def denied_for_one_file(path, size):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_hash(path, size)

    database = tmp_path / "library.db"
    monkeypatch.setattr(planner_module, "quick_hash", denied_for_one_file)
    first = _index(engine, library_copy.root, database, model_dir)
    assert _problems(database)[locked.name][0] == "permission denied"
    monkeypatch.undo()
    second = _index(engine, library_copy.root, database, model_dir)
    assert locked.name not in _problems(database)
    assert second["added"] == 1 and second["problems"] == first["problems"] - 1


def test_content_problems_are_kept_until_retry_problems(engine, library_copy, model_dir, tmp_path):
    for extra in library_copy.valid[4:]:
        extra.unlink()
    database = tmp_path / "library.db"
    _index(engine, library_copy.root, database, model_dir)
    first = _problems(database)
    assert first["text.mp3"][0] and not is_transient(first["text.mp3"][0])
    _index(engine, library_copy.root, database, model_dir)
    assert _problems(database)["text.mp3"] == first["text.mp3"]  # not decoded again
    _index(engine, library_copy.root, database, model_dir, "--retry-problems")
    reason, recorded_at = _problems(database)["text.mp3"]
    assert reason == first["text.mp3"][0] and recorded_at > first["text.mp3"][1]  # decoded again, same verdict


def test_reasons_about_the_moment_are_told_from_reasons_about_the_content():
    for reason in ("permission denied", "cannot read (Input/output error)", "dangling symlink", "file not found",
                   "cannot stat (Stale file handle)"):
        assert is_transient(reason), reason
    for reason in ("not an audio file or corrupt header", "truncated: decodes to 4.0 s of a stated 40.0 s",
                   "too short (0.40 s; at least 1 s needed)", "no audio stream (video-only or not media)"):
        assert not is_transient(reason), reason


def test_problems_below_a_folder_a_run_cannot_list_stay_until_it_can(engine, library_copy, model_dir, tmp_path,
                                                                     monkeypatch):
    """A problem is replaced by its file's new outcome, never forgotten before it: while a folder cannot be listed,
    the problems below it (of the moment and of the content, even with --retry-problems) stay as they were."""
    from engine import scan

    for extra in library_copy.valid[4:]:
        extra.unlink()
    broken = next(library_copy.root.rglob("text.mp3")).parent
    denied = broken / library_copy.valid[0].name
    library_copy.valid[0].rename(denied)
    real_hash = planner_module.quick_hash
    monkeypatch.setattr(planner_module, "quick_hash", lambda path, size: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", path)) if Path(path) == denied else real_hash(path, size))
    database = tmp_path / "library.db"
    _index(engine, library_copy.root, database, model_dir)
    first = _problems(database)
    assert first[denied.name][0] == "permission denied" and not is_transient(first["text.mp3"][0])

    real_scandir = scan.os.scandir
    monkeypatch.setattr(scan.os, "scandir", lambda path=".": (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", path)) if Path(path) == broken else real_scandir(path))
    for extra in ((), ("--retry-problems",)):
        _index(engine, library_copy.root, database, model_dir, *extra)
        now = _problems(database)
        assert {name: now[name] for name in first} == first  # the same rows, not recorded again
        assert now[broken.name][0].startswith("cannot read folder")

    monkeypatch.undo()
    report = _index(engine, library_copy.root, database, model_dir)
    last = _problems(database)
    assert denied.name not in last and broken.name not in last and report["added"] == 1
    assert last["text.mp3"] == first["text.mp3"]  # a content problem waits for --retry-problems or a change


def test_a_link_whose_target_comes_back_is_no_problem_any_more(engine, library_copy, model_dir, tmp_path):
    """A track reached through a link whose target was away for one run: the problem of that run goes once the
    target is back and the track is seen unchanged (nothing decodes it again, so nothing else would replace it)."""
    import os

    for extra in library_copy.valid[3:]:
        extra.unlink()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    target = library_copy.valid[0].rename(outside / library_copy.valid[0].name)
    link = library_copy.root / "linked.wav"
    os.symlink(target, link)
    database = tmp_path / "library.db"
    first = _index(engine, library_copy.root, database, model_dir)
    away = target.rename(outside / "away.wav")
    during = _index(engine, library_copy.root, database, model_dir)
    assert _problems(database)[link.name][0] == "dangling symlink" and during["problems"] == first["problems"] + 1
    away.rename(target)
    after = _index(engine, library_copy.root, database, model_dir)
    assert link.name not in _problems(database) and after["problems"] == first["problems"]
    assert (during["unchanged"], after["unchanged"], after["added"]) == (2, 3, 0)  # the track stayed, not analysed again
