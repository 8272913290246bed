"""Crates kept in the library (schema 5) and exported as rekordbox XML, duplicates found by landmark matching,
and taking tracks out of the library without touching their files, kept out of later scans by the exclusion list
(schema 6)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

import audio_factory
from engine.crate_export import path_from_uri
from engine.duplicates import connected_groups
from engine.library import Library, LibraryError
from engine.schema import SCHEMA_VERSION

NON_ASCII_NAME = "Café — naïve Ünïcödé 東京.flac"


@pytest.fixture(scope="module")
def collection(tmp_path_factory, model_dir):
    """Three different melodies, a 96 kbit/s Ogg re-encode of the first, and a FLAC with a non-ASCII name,
    indexed once; tests work on copies of the database (``library``)."""
    folder = tmp_path_factory.mktemp("crates") / "music"
    folder.mkdir()
    melodies = [audio_factory.write_audio(audio_factory.random_melody(24.0, seed=70 + number),
                                          folder / f"melody{number}.mp3", bitrate="192k") for number in range(3)]
    copy = audio_factory.reencode(melodies[0], folder / "melody0-copy.ogg", bitrate="96k")
    accented = audio_factory.write_audio(audio_factory.random_melody(20.0, seed=80), folder / NON_ASCII_NAME)
    database = folder.parent / "db" / "library.db"
    database.parent.mkdir()
    with Library(database, model_dir) as library:
        assert library.index([folder], workers=0).added == 5
    return {"melodies": melodies, "copy": copy, "accented": accented, "database": database}


@pytest.fixture
def library(collection, model_dir, tmp_path):
    target = tmp_path / "db"
    shutil.copytree(collection["database"].parent, target)
    opened = Library(target / "library.db", model_dir)
    yield opened
    opened.close()


def _id(library: Library, path: Path) -> int:
    return library.track_id_for_path(path)


# -- crates -------------------------------------------------------------------------------------------------------
def test_a_crate_keeps_its_tracks_in_order_without_repeats(library, collection):
    ids = [_id(library, path) for path in collection["melodies"]]
    crate = library.create_crate("  warm-up ", [ids[2], ids[0]])
    assert library.add_to_crate(crate, [ids[0], ids[1], 999_999]) == 1  # already there / not in the library
    assert [track.id for track in library.crate_tracks(crate)] == [ids[2], ids[0], ids[1]]
    assert [(c.name, c.track_count) for c in library.crates()] == [("warm-up", 3)]
    with pytest.raises(LibraryError, match="exists already"):
        library.create_crate("warm-up")
    with pytest.raises(LibraryError, match="needs a name"):
        library.create_crate("  ")
    library.delete_crate(crate)
    assert library.crates() == [] and library.track_count() == 5


def test_a_crate_is_renamed_reordered_and_loses_one_track_while_the_library_keeps_it(library, collection):
    ids = [_id(library, path) for path in (*collection["melodies"], collection["accented"])]
    crate = library.create_crate("set", ids)
    other = library.create_crate("other", ids[:1])
    library.rename_crate(crate, "  Friday set ")
    assert sorted(c.name for c in library.crates()) == ["Friday set", "other"]
    with pytest.raises(LibraryError, match="exists already"):
        library.rename_crate(crate, "other")
    with pytest.raises(LibraryError, match="needs a name"):
        library.rename_crate(crate, " ")
    library.rename_crate(crate, "Friday set")  # its own name again is no clash

    assert library.move_in_crate(crate, [ids[3]], 0) == [ids[3], ids[0], ids[1], ids[2]]  # to the top
    assert library.move_in_crate(crate, [ids[0]], 99) == [ids[3], ids[1], ids[2], ids[0]]  # to the end
    assert library.move_in_crate(crate, [ids[0], ids[3]], 1) == [ids[1], ids[3], ids[0], ids[2]]  # two, kept in order
    assert [track.id for track in library.crate_tracks(crate)] == [ids[1], ids[3], ids[0], ids[2]]

    assert library.remove_from_crate(crate, [ids[3], 999_999]) == 1
    assert [track.id for track in library.crate_tracks(crate)] == [ids[1], ids[0], ids[2]]
    assert library.add_to_crate(crate, [ids[3]]) == 1  # appended after the renumbered positions
    assert [track.id for track in library.crate_tracks(crate)] == [ids[1], ids[0], ids[2], ids[3]]
    assert library.track_count() == 5 and [t.id for t in library.crate_tracks(other)] == ids[:1]


def test_a_version_4_library_gains_crates_and_a_newer_one_is_still_refused(library):
    database = library.db_path
    library.close()
    with sqlite3.connect(database) as connection:  # back to the version 4 layout
        connection.execute("DROP TABLE crate_tracks")
        connection.execute("DROP TABLE crates")
        connection.execute("UPDATE settings SET value = '4' WHERE name = 'schema_version'")
    with Library(database) as upgraded:
        assert upgraded.track_count() == 5
        crate = upgraded.create_crate("after the upgrade", [upgraded.tracks(0, 1)[0].id])
        assert len(upgraded.crate_tracks(crate)) == 1
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT value FROM settings WHERE name = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
        assert connection.execute("SELECT name FROM sqlite_master WHERE name = 'ix_crate_tracks_track'").fetchone()
        connection.execute(f"UPDATE settings SET value = '{SCHEMA_VERSION + 1}' WHERE name = 'schema_version'")
    with pytest.raises(LibraryError, match="newer version"):
        Library(database)


def test_rekordbox_xml_carries_paths_keys_and_tempi_that_read_back(library, collection, tmp_path):
    tracks = [library.track(_id(library, path)) for path in (collection["accented"], *collection["melodies"][:2])]
    assert all(track.key is not None and track.mixing_bpm is not None for track in tracks)
    target = library.write_rekordbox_xml(tracks, "Set — Friday", tmp_path / "set.xml")
    root = ElementTree.parse(target).getroot()
    assert root.tag == "DJ_PLAYLISTS"
    entries = root.findall("./COLLECTION/TRACK")
    assert root.find("COLLECTION").get("Entries") == "3" and len(entries) == 3
    by_id = {int(entry.get("TrackID")): entry for entry in entries}
    for track in tracks:
        entry = by_id[track.id]
        assert path_from_uri(entry.get("Location")) == track.path and os.path.isfile(path_from_uri(entry.get("Location")))
        assert entry.get("Location").startswith("file://localhost/") and entry.get("Location").isascii()
        assert entry.get("Tonality") == track.key.to_key().short_name
        assert float(entry.get("AverageBpm")) == pytest.approx(track.mixing_bpm, abs=0.005)
        assert int(entry.get("TotalTime")) == round(track.duration)
        assert entry.get("Name") == (track.title or Path(track.path).stem)
    assert path_from_uri(by_id[tracks[0].id].get("Location")).endswith(NON_ASCII_NAME)
    playlist = root.find("./PLAYLISTS/NODE[@Name='ROOT']/NODE")
    assert (playlist.get("Name"), playlist.get("Type"), playlist.get("Entries")) == ("Set — Friday", "1", "3")
    assert [int(item.get("Key")) for item in playlist.findall("TRACK")] == [track.id for track in tracks]


def test_rekordbox_locations_are_written_as_rekordbox_writes_them_on_windows_and_mac():
    """rekordbox runs on Windows and macOS: a drive path is file://localhost/C:/… with forward slashes (it was
    file://localhostC%3A%5C…, which rekordbox cannot find)."""
    import ntpath
    import posixpath

    from engine.crate_export import file_uri

    assert file_uri(r"C:\Users\dj\Music\My Track #1.mp3", ntpath) == \
        "file://localhost/C:/Users/dj/Music/My%20Track%20%231.mp3"
    assert file_uri("/Users/dj/Music/Ça & ça?.flac", posixpath) == \
        "file://localhost/Users/dj/Music/%C3%87a%20%26%20%C3%A7a%3F.flac"


def test_a_title_xml_cannot_hold_leaves_the_rekordbox_xml_readable(library, collection, tmp_path):
    """A UTF-16 tag with a second, opposite byte-order mark reads as U+FFFE, which XML 1.0 forbids: one such title
    made the whole export unparsable."""
    from dataclasses import replace

    track = library.track(_id(library, collection["melodies"][0]))
    odd = replace(track, title="\ufffeTrack\uffff Title", artist="Ar\ud800tist")
    root = ElementTree.parse(library.write_rekordbox_xml([odd], "odd", tmp_path / "odd.xml")).getroot()
    entry = root.find("./COLLECTION/TRACK")
    assert entry.get("Name") == " Track  Title" and entry.get("Artist") == "Ar tist"


def test_an_export_never_replaces_a_file_unless_asked(library, tmp_path):
    target = tmp_path / "set.xml"
    target.write_text("keep me", encoding="utf-8")
    tracks = library.tracks(0, 2)
    with pytest.raises(LibraryError, match="exists"):
        library.write_rekordbox_xml(tracks, "set", target)
    assert target.read_text(encoding="utf-8") == "keep me"
    library.write_rekordbox_xml(tracks, "set", target, overwrite=True)
    assert ElementTree.parse(target).getroot().tag == "DJ_PLAYLISTS"
    with pytest.raises(LibraryError, match="database"):
        library.write_rekordbox_xml(tracks, "set", library.db_path, overwrite=True)


# -- duplicates ---------------------------------------------------------------------------------------------------
def test_pairs_join_into_groups_of_two_or_more():
    assert connected_groups([(5, 2), (2, 9), (7, 8), (3, 3)]) == [[2, 5, 9], [7, 8]]


def test_a_re_encode_and_its_original_are_one_group_with_the_better_copy_first(library, collection):
    groups = library.duplicate_groups()
    assert len(groups) == 1
    copies = groups[0].copies
    assert [copy.track.path for copy in copies] == [str(collection["melodies"][0]), str(collection["copy"])]
    assert copies[0].size == os.path.getsize(collection["melodies"][0]) and copies[0].track.bitrate > copies[1].track.bitrate


def test_a_duplicate_search_checks_the_landmark_index_against_sqlite_once_not_per_track(library, monkeypatch):
    """A read of the landmark state before every track's lookup was a quarter of a duplicate search's CPU time."""
    state_reads = []
    read_state = library.store.landmarks_state
    monkeypatch.setattr(library.store, "landmarks_state", lambda: state_reads.append(1) or read_state())
    assert len(library.duplicate_groups()) == 1
    assert 1 <= len(state_reads) <= 2 < library.track_count()  # loaded: one read to load, one to check it


# -- removing tracks ----------------------------------------------------------------------------------------------
def test_removed_tracks_leave_the_library_crates_and_searches_but_their_files_stay(library, collection):
    copy_id, original_id = _id(library, collection["copy"]), _id(library, collection["melodies"][0])
    crate = library.create_crate("crate", [copy_id, original_id])
    assert any(result.track.id == copy_id for result in library.similar(original_id, k=4))
    assert library.remove_tracks([copy_id, copy_id, 999_999]).removed == [copy_id]
    assert library.track(copy_id) is None and library.track_count() == 4
    assert collection["copy"].is_file()
    assert [track.id for track in library.crate_tracks(crate)] == [original_id]
    assert all(result.track.id != copy_id for result in library.similar(original_id, k=4))
    assert library.duplicate_groups() == []
    assert all(r.track.id != copy_id for r in library.similar(str(collection["copy"]), k=4))


def test_engine_remove_reports_what_left_the_library_as_json(library, collection, capsys):
    from engine import cli

    database = str(library.db_path)
    copy_id = _id(library, collection["copy"])
    library.close()
    assert cli.main(["remove", str(copy_id), "424242", "--db", database, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "removed": [copy_id], "not_found": [424242],
        "excluded": [{"path": str(collection["copy"]), "path_bytes": _base64_path(collection["copy"])}]}
    assert collection["copy"].is_file()
    with Library(database) as reopened:
        assert reopened.track(copy_id) is None


# -- the exclusion list -------------------------------------------------------------------------------------------
def _base64_path(path: Path) -> str:
    return base64.b64encode(os.fsencode(path)).decode("ascii")


def test_a_removed_file_stays_out_of_the_next_scan_until_restored(library, collection):
    accented = collection["accented"]
    removal = library.remove_tracks([_id(library, accented)])
    assert removal.excluded == [str(accented)] and accented.is_file()
    assert [entry.path for entry in library.excluded_files()] == [str(accented)]

    rescan = library.index(workers=0)
    assert (rescan.added, rescan.excluded, rescan.unchanged) == (0, 1, 4)
    assert library.track_id_for_path(accented) is None and library.track_count() == 4
    assert library.problems() == []

    assert library.restore_excluded([accented.parent]) == [str(accented)]  # a folder restores what lies below it
    assert library.excluded_files() == []
    rescan = library.index(workers=0)
    assert (rescan.added, rescan.excluded) == (1, 0)
    assert library.track_id_for_path(accented) is not None and library.track_count() == 5


def test_removing_without_excluding_lets_the_next_scan_add_the_file_again(library, collection):
    removal = library.remove_tracks([_id(library, collection["copy"])], exclude=False)
    assert removal.excluded == [] and library.excluded_files() == []
    assert library.index(workers=0).added == 1


def test_indexing_an_excluded_file_by_name_takes_it_off_the_list(library, collection):
    library.remove_tracks([_id(library, collection["copy"])])
    report = library.index([collection["copy"]], workers=0)
    assert report.added == 1 and library.excluded_files() == []


def test_forgetting_a_folder_forgets_the_exclusions_below_it(library, collection):
    library.remove_tracks([_id(library, collection["copy"])])
    library.remove_folder(collection["copy"].parent)
    assert library.excluded_files() == []


def test_a_version_5_library_gains_an_empty_exclusion_list(library, collection, model_dir):
    database = library.db_path
    library.close()
    with sqlite3.connect(database) as connection:  # back to the version 5 layout
        connection.execute("DROP TABLE excluded_files")
        connection.execute("UPDATE settings SET value = '5' WHERE name = 'schema_version'")
    with Library(database, model_dir) as upgraded:
        assert upgraded.track_count() == 5 and upgraded.excluded_files() == []
        upgraded.remove_tracks([_id(upgraded, collection["copy"])])
        assert upgraded.index(workers=0).excluded == 1
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT value FROM settings WHERE name = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)


def test_engine_excluded_and_restore_list_and_take_files_off_the_list(library, collection, capsys):
    from engine import cli

    database = str(library.db_path)
    copy, accented = collection["copy"], collection["accented"]
    library.remove_tracks([_id(library, copy), _id(library, accented)])
    library.close()
    assert cli.main(["excluded", "--db", database, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [entry["path_bytes"] for entry in listed] == sorted([_base64_path(copy), _base64_path(accented)])
    assert all(entry["exists"] and entry["excluded_at"] > 0 for entry in listed)

    missing = str(copy.parent / "never-there.mp3")
    assert cli.main(["restore", str(copy), missing, "--db", database, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "restored": [{"path": str(copy), "path_bytes": _base64_path(copy)}], "not_excluded": [missing]}
    assert cli.main(["excluded", "--db", database]) == 0
    assert capsys.readouterr().out.strip() == str(accented)
    assert cli.main(["remove", "424242", "--db", database]) == 0
    assert "not in the library: 424242" in capsys.readouterr().out
