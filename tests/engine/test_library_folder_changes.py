"""What an index run takes for gone, and what it keeps, as a collection changes: library folders emptied (a drive's
mount point) against folders a user empties, nested library folders, folders and files named through links, a track
whose file is broken for a while (not decoded again until it changes, never offered as the copy to keep), and
`engine remove-folder`, the command line's way to forget a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import audio_factory
from engine import cli
from engine.keys import Key
from engine.library import Library, LibraryError


def _songs(folder: Path, count: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [audio_factory.write_audio(audio_factory.chord_progression(Key((seed + n) % 12, "major"), 6.0, seed=seed + n),
                                      folder / f"song{seed + n}.flac") for n in range(count)]


def _empty(folder: Path, into: Path) -> None:
    into.mkdir(exist_ok=True)
    for song in folder.iterdir():
        song.rename(into / song.name)


def test_an_inner_library_folder_left_empty_keeps_its_tracks_when_the_outer_one_is_scanned_by_name(tmp_path,
                                                                                                   model_dir):
    outer = tmp_path / "music"
    _songs(outer, 1, seed=0)
    _songs(outer / "usb", 2, seed=1)
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([outer], workers=0)
        library.index([outer / "usb"], workers=0)  # a second library folder, inside the first
        _empty(outer / "usb", tmp_path / "unplugged")

        report = library.index([outer], workers=0)

        assert (report.removed, report.empty_folders) == (0, [str(outer / "usb")])
        assert library.track_count() == 3


def test_a_subfolder_a_user_empties_and_then_names_loses_its_tracks(tmp_path, model_dir):
    """Only folders that were library folders before the run are an empty mount point; naming an album folder the
    user has just emptied does not make it one."""
    root = tmp_path / "music"
    _songs(root / "album", 2, seed=0)
    _songs(root / "keep", 1, seed=2)
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([root], workers=0)
        for song in (root / "album").iterdir():
            song.unlink()

        report = library.index([root / "album"], workers=0)

        assert (report.removed, report.empty_folders) == (2, [])
        assert library.track_count() == 1


def test_files_moved_to_another_library_folder_leave_no_empty_folder_warning(tmp_path, model_dir):
    first, second = tmp_path / "a", tmp_path / "b"
    _songs(first, 2, seed=0)
    _songs(second, 1, seed=2)
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([first, second], workers=0)
        _empty(first, second)

        report = library.index(workers=0)

        assert (report.moved, report.removed, report.empty_folders) == (2, 0, [])


def test_a_file_named_through_a_link_is_indexed_as_that_link(tmp_path, model_dir):
    """A link inside the library is a track of its own (as a folder scan finds it); naming it brings it back from
    the exclusion list, as naming any file does."""
    album, favourites = tmp_path / "music" / "album", tmp_path / "music" / "favourites"
    [song] = _songs(album, 1)
    favourites.mkdir()
    link = favourites / song.name
    link.symlink_to(song)
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([tmp_path / "music"], workers=0)
        library.remove_tracks([library.track_id_for_path(link)])

        report = library.index([link], workers=0)

        assert report.added == 1 and library.track_id_for_path(link) is not None


def test_a_link_to_the_parent_of_a_library_folder_adds_no_second_set_of_tracks(tmp_path, model_dir):
    real = tmp_path / "disk"
    _songs(real / "music", 2)
    _songs(real / "other", 1, seed=5)
    (tmp_path / "links").mkdir()
    parent_link = tmp_path / "links" / "disk"
    parent_link.symlink_to(real, target_is_directory=True)
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([real / "music"], workers=0)

        report = library.index([parent_link], workers=0)

        assert (report.added, report.unchanged) == (1, 2) and library.track_count() == 3


def test_a_track_whose_file_stays_broken_is_not_decoded_again_and_is_no_copy_to_keep(tmp_path, model_dir):
    folder = tmp_path / "music"
    [song] = _songs(folder, 1)
    copy = audio_factory.reencode(song, folder / "song-copy.mp3", bitrate="128k")
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([folder], workers=0)
        assert [len(group.copies) for group in library.duplicate_groups()] == [2]
        with open(song, "r+b") as handle:  # a sync caught halfway
            handle.truncate(3000)

        first, second = library.index(workers=0), library.index(workers=0)

        assert (first.problems, first.removed, second.analysed, second.problems) == (1, 0, 0, 1)
        assert library.duplicate_groups() == []  # the broken FLAC is never suggested over the good copy
        assert library.track_id_for_path(copy) is not None


def test_remove_folder_forgets_a_library_folder_and_its_tracks_but_not_the_files(tmp_path, model_dir, capsys):
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    _songs(kept, 1)
    files = _songs(gone, 2, seed=3)
    database = str(tmp_path / "lib.db")
    with Library(database, model_dir) as library:
        library.index([kept, gone], workers=0)
    capsys.readouterr()

    code = cli.main(["remove-folder", str(gone), str(tmp_path / "nowhere"), "--db", database, "--json"])

    out, err = capsys.readouterr()
    answer = json.loads(out)
    assert code == 0 and [entry["path"] for entry in answer["removed"]] == [str(gone)]
    assert answer["removed"][0]["tracks"] == 2 and "not a library folder" in err
    assert all(path.exists() for path in files)
    with Library(database, model_dir) as library:
        assert library.folders() == [str(kept)] and library.track_count() == 1
    assert cli.main(["remove-folder", str(gone), "--db", database]) == 1


def test_a_folder_is_not_removed_while_an_index_run_works_on_the_library(tmp_path, model_dir, capsys):
    """A run under way stored the tracks of a folder removed beneath it: they then belonged to no library folder,
    which no scan cleans up and remove-folder refused. The removal waits for the run instead (one line)."""
    from engine.index_lock import index_lock

    _songs(tmp_path / "music", 1)
    database = str(tmp_path / "lib.db")
    with Library(database, model_dir) as library:
        library.index([tmp_path / "music"], workers=0)
    capsys.readouterr()
    with index_lock(Path(database)):  # as an index run in another process holds it
        code = cli.main(["remove-folder", str(tmp_path / "music"), "--db", database])
        with Library(database, model_dir) as library:
            with pytest.raises(LibraryError, match="an index run is working on this library"):
                library.remove_folder(tmp_path / "music")
    assert code == 1 and "an index run is working on this library" in capsys.readouterr().err
    with Library(database, model_dir) as library:
        assert library.folders() == [str(tmp_path / "music")] and library.track_count() == 1
        assert library.remove_folder(tmp_path / "music") == 1  # once the run has ended
    elsewhere = tmp_path / "no library yet"
    elsewhere.mkdir()
    assert cli.main(["remove-folder", str(tmp_path / "music"), "--db", str(elsewhere / "lib.db")]) == 1
    assert list(elsewhere.iterdir()) == []  # a library not there gets no lock file either


def test_a_removed_track_stays_out_when_its_file_is_renamed_or_its_folder_moved(tmp_path, model_dir):
    """The exclusion list knows the file (size and quick hash), not only its path: reorganising folders does not
    bring back what was taken out, and the list names the file where it is now."""
    folder = tmp_path / "music"
    songs = _songs(folder / "album", 2)
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([folder], workers=0)
        library.remove_tracks([library.track_id_for_path(songs[0])])
        (folder / "album").rename(folder / "album (2019)")
        renamed = folder / "album (2019)" / "intro.flac"
        (folder / "album (2019)" / songs[0].name).rename(renamed)

        report = library.index(workers=0)

        assert (report.added, report.moved, report.excluded) == (0, 1, 1)
        assert library.track_id_for_path(renamed) is None
        assert [entry.path for entry in library.excluded_files()] == [str(renamed)]


def test_another_file_at_an_excluded_path_is_added_and_the_exclusion_goes(tmp_path, model_dir):
    folder = tmp_path / "music"
    [song] = _songs(folder, 1)
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([folder], workers=0)
        library.remove_tracks([library.track_id_for_path(song)])
        audio_factory.write_audio(audio_factory.chord_progression(Key(6, "minor"), 9.0, seed=40), song)  # another song

        report = library.index(workers=0)

        assert (report.added, report.excluded) == (1, 0) and library.excluded_files() == []


def test_a_renamed_file_without_a_title_tag_is_listed_by_its_new_name_and_a_tagged_one_keeps_its_title(
        tmp_path, model_dir):
    """A moved file keeps its analysis; its title came from its old name when it has no title tag, and a fresh
    index would list it by the new one."""
    untagged, tagged = _songs(tmp_path / "music", 2)
    audio_factory.write_tags(tagged, title="Tagged Title")
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([tmp_path / "music"], workers=0)
        untagged.rename(tmp_path / "music" / "Autumn Song.flac")
        tagged.rename(tmp_path / "music" / "renamed.flac")
        report = library.index([tmp_path / "music"], workers=0)
        titles = sorted(track.title for track in library.tracks())
    assert report.moved == 2 and report.analysed == 0
    assert titles == ["Autumn Song", "Tagged Title"]
