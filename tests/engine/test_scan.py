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
    result = scan_paths([tmp_path])
    names = sorted(Path(found.path).name for found in result.files)
    assert names == ["SONG.FLAC", "song.mp3"]
    assert [(Path(problem.path).name, problem.reason) for problem in result.problems] == [("gone.mp3", "dangling symlink")]


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
