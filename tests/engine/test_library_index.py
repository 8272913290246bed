"""Indexing a generated library through the ``Library`` API: counts, incremental re-runs, moves, deletes, problems."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from engine.library import Library, LibraryError, LibraryOpenError, ModelUnavailableError


def test_index_adds_every_valid_track_and_lists_each_broken_file(library_copy, model_dir, tmp_path):
    with Library(tmp_path / "lib.db", model_dir) as library:
        report = library.index([library_copy.root], workers=0)
        assert report.added == len(library_copy.valid)
        assert report.problems == len(library_copy.broken)
        assert (report.updated, report.unchanged, report.removed) == (0, 0, 0)
        assert library.track_count() == len(library_copy.valid)
        reasons = {Path(problem.path).name: problem.reason for problem in library.problems()}
        assert set(reasons) == set(library_copy.broken)
        for name, fragment in library_copy.broken.items():
            assert fragment in reasons[name], (name, reasons[name])
        assert library.folders() == [str(library_copy.root)]


def test_reindex_of_unchanged_library_analyses_nothing(indexed_library, generated_library_source, model_dir):
    database, first = indexed_library
    with Library(database, model_dir) as library:
        report = library.index([generated_library_source.root], workers=0)
    assert report.analysed == 0
    assert report.unchanged == first.added
    assert (report.added, report.updated, report.removed) == (0, 0, 0)
    assert report.problems == first.problems


def test_moved_and_renamed_files_are_recognised_not_reanalysed(library_copy, model_dir, tmp_path):
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([library_copy.root], workers=0)
        source = library_copy.valid[0]
        before = library.store.track_id_for_path(str(source))
        target = library_copy.root / "moved-here" / "renamed.mp3"
        target.parent.mkdir()
        shutil.move(source, target)
        report = library.index(workers=0)
        assert report.moved == 1 and report.analysed == 0 and report.removed == 0 and report.added == 0
        assert library.store.track_id_for_path(str(target)) == before
        assert library.store.track_id_for_path(str(source)) is None


def test_deleted_files_leave_the_library(library_copy, model_dir, tmp_path):
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([library_copy.root], workers=0)
        library_copy.valid[1].unlink()
        (library_copy.root / "broken" / "zero.mp3").unlink()
        report = library.index(workers=0)
        assert report.removed == 1 and report.analysed == 0
        assert report.problems == len(library_copy.broken) - 1
        assert library.track_count() == len(library_copy.valid) - 1
        assert library.info().analysed_tracks == len(library_copy.valid) - 1  # the kept count follows the removal
        ids, matrix = library.embeddings()
        assert len(ids) == len(library_copy.valid) - 1 == len(matrix)


def test_changed_file_is_reanalysed_as_an_update(library_copy, model_dir, tmp_path):
    import audio_factory
    from engine.keys import Key

    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([library_copy.root], workers=0)
        changed = library_copy.valid[5]
        audio_factory.write_audio(audio_factory.chord_progression(Key(2, "major"), 7.0, seed=77), changed)
        report = library.index(workers=0)
        assert report.updated == 1 and report.analysed == 1 and report.added == 0


def test_index_with_worker_processes_matches_inline_index(library_copy, model_dir, tmp_path):
    with Library(tmp_path / "lib.db", model_dir) as library:
        report = library.index([library_copy.root], workers=2)
    assert report.added == len(library_copy.valid)
    assert report.problems == len(library_copy.broken)
    assert report.audio_seconds > 0


def test_cancel_stops_and_next_run_resumes(library_copy, model_dir, tmp_path):
    cancel = threading.Event()
    seen = []

    def progress(update):
        seen.append(update.files_done)
        if update.files_done >= 20:
            cancel.set()

    with Library(tmp_path / "lib.db", model_dir) as library:
        first = library.index([library_copy.root], workers=0, progress=progress, cancel=cancel)
        assert first.cancelled
        done = library.track_count()
        assert 0 < done < len(library_copy.valid)
        second = library.index(workers=0)
        assert second.added == len(library_copy.valid) - done
        assert second.unchanged == done


def test_non_utf8_and_long_file_names_are_indexed(indexed_library, generated_library_source, model_dir):
    database, _ = indexed_library
    with Library(database, model_dir) as library:
        for path in generated_library_source.special_names:
            track_id = library.store.track_id_for_path(path)
            assert track_id is not None
            row = library.track(track_id)
            assert row.path == path and os.path.exists(row.path)


def test_unreadable_file_is_a_problem(as_non_root, library_copy, model_dir, tmp_path):
    import audio_factory

    locked = audio_factory.make_unreadable(library_copy.valid[0], library_copy.root / "locked.mp3")
    try:
        with Library(tmp_path / "lib.db", model_dir) as library:
            library.index([library_copy.root], workers=0)
            reasons = {Path(problem.path).name: problem.reason for problem in library.problems()}
        assert "permission denied" in reasons["locked.mp3"]
    finally:
        locked.chmod(0o644)


def test_browsing_pages_sorts_and_filters(indexed_library, model_dir):
    database, report = indexed_library
    with Library(database, model_dir) as library:
        everything = library.tracks(0, 1000, order_by="title")
        assert len(everything) == report.added
        pages = library.tracks(0, 10, order_by="title") + library.tracks(10, 1000, order_by="title")
        assert [row.id for row in pages] == [row.id for row in everything]
        descending = library.tracks(0, 1000, order_by="title", descending=True)
        assert [row.id for row in descending] == [row.id for row in reversed(everything)]
        gammas = library.tracks(0, 100, filter_text="gamma")
        assert gammas and all(row.artist == "Gamma" for row in gammas)
        assert library.track_count("gamma") == len(gammas)
        assert library.track_count("album flac song") == 4
        row = library.track(everything[0].id)
        assert row.key is not None and row.key.source == "analysis" and 0 < row.key.confidence <= 1
        assert len(row.top_tags) == 3 and row.analysed
        with pytest.raises(LibraryError):
            library.tracks(0, 10, order_by="nonsense")


def test_browsing_works_without_a_model(indexed_library):
    database, report = indexed_library
    with Library(database) as library:
        assert library.track_count() == report.added
        assert library.info().model is None
        rows = library.tracks(0, 5)
        assert len(rows) == 5 and not rows[0].analysed
        with pytest.raises(ModelUnavailableError, match="no usable model"):
            library.similar(rows[0].id)


def test_bad_database_path_raises_one_clear_error(tmp_path):
    with pytest.raises(LibraryOpenError, match="does not exist"):
        Library(tmp_path / "missing-folder" / "lib.db")
    not_a_database = tmp_path / "text.db"
    not_a_database.write_text("hello, this is not SQLite" * 100)
    with pytest.raises(LibraryOpenError, match="cannot open"):
        Library(not_a_database)


def test_invalid_model_folder_raises(tmp_path):
    (tmp_path / "model").mkdir()
    with pytest.raises(ModelUnavailableError, match="config.json"):
        Library(tmp_path / "lib.db", tmp_path / "model")


def test_models_are_kept_apart_and_switchable(indexed_library, model_dir, second_model_dir, tmp_path):
    database, report = indexed_library
    copy = tmp_path / "lib.db"
    shutil.copyfile(database, copy)
    with Library(copy, model_dir) as library:
        first_id = library.active_model_id
        second_id = library.use_model(second_model_dir)
        assert second_id != first_id
        assert library.info().analysed_tracks == 0
        rerun = library.index(workers=0)
        assert rerun.analysed == report.added and rerun.updated == report.added
        counts = {model.model_id: model.analysed_tracks for model in library.models()}
        assert counts == {first_id: report.added, second_id: report.added}
        assert [model.active for model in library.models()] == [False, True]
    with sqlite3.connect(copy) as connection:
        per_model = connection.execute("SELECT model_id, count(*) FROM analyses GROUP BY model_id").fetchall()
    assert len(per_model) == 2


def test_a_library_folder_left_empty_keeps_its_tracks_and_crates_until_its_files_are_back(tmp_path, model_dir, capsys):
    """An unmounted drive usually leaves its mount point behind, empty: that is not every track deleted (their
    analyses and crate places would be lost and redone). A file deleted from a folder that still holds others is."""
    import audio_factory
    from engine import cli
    from engine.keys import Key

    mount, elsewhere = tmp_path / "mnt", tmp_path / "unplugged"
    mount.mkdir(), elsewhere.mkdir()
    for index in range(2):
        audio_factory.write_audio(audio_factory.chord_progression(Key(index, "major"), 6.0, seed=index),
                                  mount / f"song{index}.flac")
    database = tmp_path / "lib.db"
    with Library(database, model_dir) as library:
        library.index([mount], workers=0)
        crate = library.create_crate("gig", [row.id for row in library.tracks()])
        for song in mount.iterdir():
            song.rename(elsewhere / song.name)

        report = library.index(workers=0)

        assert (report.removed, report.empty_folders) == (0, [str(mount)])
        assert library.track_count() == 2 and len(library.crate_tracks(crate)) == 2
    code = cli.main(["index", "--db", str(database), "--model", str(model_dir), "--workers", "0"])
    assert code == 0 and "library folder is empty" in capsys.readouterr().err
    for song in elsewhere.iterdir():  # the drive is back: nothing is analysed again
        song.rename(mount / song.name)
    (mount / "song1.flac").unlink()  # and a file deleted with others still there is gone
    with Library(database, model_dir) as library:
        back = library.index(workers=0)
        assert (back.unchanged, back.analysed, back.removed, back.empty_folders) == (1, 0, 1, [])
        assert len(library.crate_tracks(crate)) == 1


def test_a_track_whose_file_is_broken_for_a_while_keeps_its_analysis_and_crate_place(tmp_path, model_dir):
    """A file caught halfway through a sync or an edit (here: cut short) is a problem beside its track, not a track
    deleted; restored, it is the unchanged track again and the problem is gone."""
    import shutil

    import audio_factory
    from engine.keys import Key

    folder, backup = tmp_path / "music", tmp_path / "backup.flac"
    folder.mkdir()
    song = audio_factory.write_audio(audio_factory.chord_progression(Key(3, "minor"), 8.0, seed=3), folder / "a.flac")
    audio_factory.write_audio(audio_factory.chord_progression(Key(8, "major"), 8.0, seed=8), folder / "b.flac")
    shutil.copy2(song, backup)
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([folder], workers=0)
        track_id = library.track_id_for_path(song)
        crate = library.create_crate("set", [track_id])
        with open(song, "r+b") as handle:
            handle.truncate(2000)

        broken = library.index(workers=0)

        assert (broken.removed, broken.problems) == (0, 1)
        assert library.track_id_for_path(song) == track_id and [row.id for row in library.crate_tracks(crate)] == [track_id]
        shutil.copy2(backup, song)  # restored from the backup, its time and all
        back = library.index(workers=0)
        assert (back.unchanged, back.analysed, back.problems) == (2, 0, 0)
        assert library.problems() == []


def test_a_library_folder_named_again_through_a_link_is_the_same_folder_not_a_second_set_of_tracks(tmp_path,
                                                                                                  model_dir):
    import audio_factory
    from engine.keys import Key

    real = tmp_path / "music"
    (real / "album").mkdir(parents=True)
    for index in range(2):
        audio_factory.write_audio(audio_factory.chord_progression(Key(index, "major"), 6.0, seed=index),
                                  real / "album" / f"song{index}.flac")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.index([link], workers=0)  # added through the link: the link's spelling is the library's
        again = library.index([real], workers=0)
        inside = library.index([real / "album"], workers=0)
        assert (again.added, again.unchanged, inside.added, inside.unchanged) == (0, 2, 0, 2)
        assert library.track_count() == 2 and str(link) in library.folders()
        assert not any(folder.startswith(str(real)) for folder in library.folders())


def test_a_library_folder_that_is_away_is_skipped_and_its_tracks_kept(tmp_path, model_dir, capsys):
    """An unmounted drive must not stop every rescan: a registered folder that is not there is reported, not
    scanned, and its tracks stay; a path named on the command line that is not there is still an error."""
    import audio_factory
    from engine import cli
    from engine.keys import Key

    here, away = tmp_path / "here", tmp_path / "drive"
    for index, folder in enumerate((here, away)):
        folder.mkdir()
        audio_factory.write_audio(audio_factory.chord_progression(Key(index, "major"), 6.0, seed=index),
                                  folder / "song.flac")
    database = tmp_path / "lib.db"
    with Library(database, model_dir) as library:
        library.index([here, away], workers=0)
        away.rename(tmp_path / "unmounted")
        audio_factory.write_audio(audio_factory.chord_progression(Key(5, "minor"), 6.0, seed=7), here / "new.flac")
        report = library.index(workers=0)
        assert report.missing_folders == [str(away)]
        assert (report.added, report.unchanged, report.removed) == (1, 1, 0)
        assert library.track_count() == 3
        with pytest.raises(LibraryError, match="not found"):
            library.index([away], workers=0)
        here.rename(tmp_path / "also-away")  # every library folder away (the one external drive): a report, no error
        everything_away = library.index(workers=0)
        assert sorted(everything_away.missing_folders) == sorted([str(away), str(here)])
        assert (everything_away.added, everything_away.removed) == (0, 0) and library.track_count() == 3
        (tmp_path / "also-away").rename(here)
    code = cli.main(["index", "--db", str(database), "--model", str(model_dir), "--workers", "0", "--json"])
    assert code == 0 and "library folder not found" in capsys.readouterr().err
    (tmp_path / "unmounted").rename(away)  # the drive is back: nothing of it was lost, nothing is redone
    with Library(database, model_dir) as library:
        back = library.index(workers=0)
        assert back.missing_folders == [] and (back.unchanged, back.added, back.removed) == (3, 0, 0)
