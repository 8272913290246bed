"""The scanner: symlink cycles, hidden and non-audio files, identities that survive a rename."""

from __future__ import annotations

import os
from pathlib import Path

from engine.scan import path_from_key, path_key, quick_hash, scan_paths


def test_scan_survives_symlink_cycles_and_skips_hidden_and_non_audio(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "song.mp3").write_bytes(b"x" * 10)
    (tmp_path / "a" / "b" / "SONG.FLAC").write_bytes(b"y" * 10)
    (tmp_path / "a" / ".hidden.mp3").write_bytes(b"z")
    (tmp_path / ".hidden-folder").mkdir()
    (tmp_path / ".hidden-folder" / "song.mp3").write_bytes(b"z")
    (tmp_path / "a" / "cover.jpg").write_bytes(b"jpg")
    (tmp_path / "a" / "Thumbs.db").write_bytes(b"db")
    (tmp_path / "a" / "b" / "up").symlink_to(Path("../.."), target_is_directory=True)
    (tmp_path / "a" / "b" / "self").symlink_to(Path("."), target_is_directory=True)
    (tmp_path / "a" / "gone.mp3").symlink_to("nowhere.mp3")
    (tmp_path / "a" / "loop.mp3").symlink_to("loop.mp3")  # a file link to itself: a file's problem, not a folder's
    result = scan_paths([tmp_path])
    names = sorted(Path(found.path).name for found in result.files)
    assert names == ["SONG.FLAC", "song.mp3"]
    found = sorted((Path(problem.path).name, problem.reason, problem.folder) for problem in result.problems)
    assert found[0] == ("gone.mp3", "dangling symlink", False)
    assert found[1][0] == "loop.mp3" and found[1][1].startswith("cannot stat") and not found[1][2]


def test_quick_hash_is_stable_across_renames_and_changes_with_content(tmp_path):
    first = tmp_path / "one.mp3"
    first.write_bytes(os.urandom(300_000))
    digest = quick_hash(str(first), first.stat().st_size)
    renamed = first.rename(tmp_path / "two.mp3")
    assert quick_hash(str(renamed), renamed.stat().st_size) == digest
    data = bytearray(renamed.read_bytes())
    data[150_000] ^= 0xFF
    renamed.write_bytes(bytes(data))
    assert quick_hash(str(renamed), renamed.stat().st_size) != digest


def test_non_utf8_paths_round_trip_through_keys(tmp_path):
    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.mp3")
    assert path_from_key(path_key(name)) == name


def test_links_back_to_the_folder_or_above_it_are_not_followed(tmp_path):
    """A link to ``..`` would bring in everything beside the folder the user named (``/proc/self/root`` is the
    whole file system); a link out to another folder (an external drive's music) is followed."""
    root = tmp_path / "music"
    (root / "album").mkdir(parents=True)
    (root / "album" / "a.mp3").write_bytes(b"x")
    (tmp_path / "beside.mp3").write_bytes(b"x")
    (tmp_path / "external").mkdir()
    (tmp_path / "external" / "b.mp3").write_bytes(b"x")
    os.symlink("..", root / "up")
    os.symlink(root, root / "album" / "home")
    os.symlink(tmp_path / "external", root / "drive")
    found = sorted(os.path.relpath(scanned.path, tmp_path) for scanned in scan_paths([root]).files)
    assert found == ["music/album/a.mp3", "music/drive/b.mp3"]


def test_a_root_reached_through_a_link_does_not_follow_links_to_the_links_folders(tmp_path):
    """Indexing ``home/Music`` where ``home/Music`` links to ``data/music``: a link inside back to ``home`` (the
    root's folder as the user named it) is not followed either."""
    (tmp_path / "data" / "music").mkdir(parents=True)
    (tmp_path / "data" / "music" / "a.mp3").write_bytes(b"x")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "elsewhere.mp3").write_bytes(b"x")
    os.symlink(tmp_path / "data" / "music", tmp_path / "home" / "Music")
    os.symlink(tmp_path / "home", tmp_path / "data" / "music" / "home-link")
    found = [os.path.relpath(scanned.path, tmp_path) for scanned in scan_paths([tmp_path / "home" / "Music"]).files]
    assert found == ["home/Music/a.mp3"]


def test_a_folder_seen_but_not_enterable_is_a_folder_problem(tmp_path, monkeypatch):
    """``chmod 644`` on a folder: its entries are listed, but its subfolders cannot be entered; each becomes a
    folder problem (what the library knows below it stays), not a silent gap."""
    from engine import scan

    (tmp_path / "music" / "disc1").mkdir(parents=True)
    (tmp_path / "music" / "disc1" / "a.mp3").write_bytes(b"x")
    locked = str(tmp_path / "music" / "disc1")
    real_stat = os.stat
    monkeypatch.setattr(scan.os, "stat", lambda path, *args, **kwargs: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", path)) if os.fspath(path) == locked else real_stat(path, *args, **kwargs))
    result = scan_paths([tmp_path / "music"])
    assert result.files == []
    assert [(problem.path, problem.folder) for problem in result.problems] == [(locked, True)]


def test_a_recorded_path_out_of_reach_is_not_known_gone(tmp_path, monkeypatch):
    """A moved file is matched to a track whose recorded path is gone; one behind a folder without permission may
    still be there, so its track is not taken over by a copy found elsewhere."""
    from engine import planner

    there = tmp_path / "a.mp3"
    there.write_bytes(b"x")
    assert not planner._known_gone(str(there)) and planner._known_gone(str(tmp_path / "gone.mp3"))
    assert planner._known_gone(str(there / "below-a-file.mp3"))
    monkeypatch.setattr(planner.os, "lstat", lambda path: (_ for _ in ()).throw(PermissionError(13, "denied", path)))
    assert not planner._known_gone(str(tmp_path / "locked" / "b.mp3"))
