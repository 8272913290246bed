"""Same-recording matching through the library: an excerpt, a re-encode or a copy of a library track comes
first in ``similar`` as the same recording; an unrelated file matches nothing; the landmark index is a cache
of SQLite that survives restarts and follows changes."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

import audio_factory
from engine.landmark_index import LandmarkIndex, landmark_index_paths
from engine.library import Library

TRACK_SECONDS = (48.0, 75.0, 62.0, 90.0, 55.0)
FORMATS = ("mp3", "ogg", "flac", "m4a", "mp3")


def _excerpt_mp3(source: Path, target: Path, start_seconds: float, seconds: float = 30.0) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-ss", str(start_seconds),
                    "-t", str(seconds), "-i", str(source), "-ac", "1", "-c:a", "libmp3lame", "-b:a", "96k",
                    str(target)], check=True)
    return target


@pytest.fixture(scope="module")
def melodies(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("melodies") / "music"
    folder.mkdir()
    return [audio_factory.write_audio(audio_factory.random_melody(seconds, seed=40 + number),
                                      folder / f"melody{number}.{extension}")
            for number, (seconds, extension) in enumerate(zip(TRACK_SECONDS, FORMATS))]


@pytest.fixture(scope="module")
def melody_library(melodies, model_dir, tmp_path_factory):
    database = tmp_path_factory.mktemp("melody-db") / "library.db"
    with Library(database, model_dir) as library:
        report = library.index([melodies[0].parent], workers=0)
        assert report.added == len(melodies) and report.problems == 0
        yield library


@pytest.mark.parametrize("number, start", [(1, 0.0), (3, 41.7), (2, 31.9)])
def test_a_96kbps_excerpt_finds_its_track_first_as_the_same_recording(melody_library, melodies, tmp_path, number, start):
    excerpt = _excerpt_mp3(melodies[number], tmp_path / "excerpt.mp3", start)
    results = melody_library.similar(str(excerpt), k=4)
    assert Path(results[0].track.path) == melodies[number]
    assert results[0].same_recording and results[0].score == 1.0 and results[0].aligned_hashes >= 10
    assert not any(result.same_recording for result in results[1:])
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_an_unrelated_file_is_nobody_s_recording(melody_library, tmp_path):
    stranger = audio_factory.write_audio(audio_factory.random_melody(40.0, seed=99), tmp_path / "stranger.mp3")
    results = melody_library.similar(str(stranger), k=5)
    assert len(results) == 5 and not any(result.same_recording for result in results)


def test_an_indexed_copy_asked_for_by_path_is_the_same_recording_of_its_original(melodies, model_dir, tmp_path):
    folder = tmp_path / "music"
    shutil.copytree(melodies[0].parent, folder)
    audio_factory.reencode(folder / melodies[1].name, folder / "copy-of-melody1.ogg", bitrate="96k")
    database = tmp_path / "library.db"
    with Library(database, model_dir) as library:
        library.index([folder], workers=0)
        original = library.store.track_id_for_path(str(folder / melodies[1].name))
        copy = library.store.track_id_for_path(str(folder / "copy-of-melody1.ogg"))
        by_path = library.similar(str(folder / "copy-of-melody1.ogg"), k=3)  # indexed: its stored landmarks
        assert by_path[0].track.id == original and by_path[0].same_recording
        assert all(result.track.id != copy for result in by_path)
        by_id = library.similar(original, k=3)  # a track id: the vector index alone, where the copy is nearest
        assert by_id[0].track.id == copy and not any(result.same_recording for result in by_id)


def _folder_with(melodies: list[Path], folder: Path) -> Path:
    folder.mkdir()
    for melody in melodies:
        shutil.copy(melody, folder)
    return folder


def _assert_same_as_a_rebuild(library: Library) -> None:
    rebuilt = LandmarkIndex(library.store)
    rebuilt._rebuild()
    assert np.array_equal(np.asarray(library.landmark_index()._rows), rebuilt._rows)


def test_the_landmark_index_is_saved_reloaded_and_follows_the_database(melodies, model_dir, tmp_path):
    folder = _folder_with(melodies[:3], tmp_path / "music")
    database = tmp_path / "library.db"
    excerpt = _excerpt_mp3(melodies[4], tmp_path / "excerpt.mp3", 10.0)
    with Library(database, model_dir) as library:
        library.index([folder], workers=0)  # the index run brings the landmark index up to date
        assert library.landmark_index().last_action == "rebuilt"
        assert all(path.is_file() for path in landmark_index_paths(database))
        assert not any(r.same_recording for r in library.similar(str(excerpt), k=3))
        assert library.landmark_index().last_action == "current"
    with Library(database, model_dir) as library:
        library.similar(str(excerpt), k=3)
        assert library.landmark_index().last_action == "loaded"
        shutil.copy(melodies[4], folder)
        library.index([folder], workers=0)
        assert library.landmark_index().last_action == "updated"  # only the new track's rows merged in
        _assert_same_as_a_rebuild(library)
        results = library.similar(str(excerpt), k=3)
        assert results[0].same_recording and Path(results[0].track.path).name == melodies[4].name
        (folder / melodies[4].name).unlink()
        library.index([folder], workers=0)
        assert library.landmark_index().last_action == "updated"  # the removed track's rows filtered out
        _assert_same_as_a_rebuild(library)
        assert not any(r.same_recording for r in library.similar(str(excerpt), k=3))
    with Library(database, model_dir) as library:  # the saved index is the updated one
        assert not any(r.same_recording for r in library.similar(str(excerpt), k=3))
        assert library.landmark_index().last_action == "loaded"
        changed = folder / melodies[0].name  # the file now holds another recording
        audio_factory.write_audio(audio_factory.random_melody(50.0, seed=77), tmp_path / "other.mp3")
        shutil.copy(tmp_path / "other.mp3", changed)
        library.index([folder], workers=0)
        assert library.landmark_index().last_action == "updated"
        _assert_same_as_a_rebuild(library)
        new_excerpt = _excerpt_mp3(changed, tmp_path / "new-excerpt.mp3", 12.0)
        old_excerpt = _excerpt_mp3(melodies[0], tmp_path / "old-excerpt.mp3", 12.0)
        assert library.similar(str(new_excerpt), k=1)[0].same_recording
        assert not any(r.same_recording for r in library.similar(str(old_excerpt), k=3))


def test_a_library_from_before_landmarks_gets_them_on_the_next_index_run(melodies, model_dir, tmp_path):
    folder = _folder_with(melodies[:2], tmp_path / "music")
    database = tmp_path / "library.db"
    with Library(database, model_dir) as library:
        library.index([folder], workers=0)
    with sqlite3.connect(database) as connection:  # back to the version 2 layout
        connection.execute("DROP TABLE track_landmarks")
        connection.execute("UPDATE settings SET value = '2' WHERE name = 'schema_version'")
    with Library(database, model_dir) as library:
        assert library.track_count() == 2
        report = library.index([folder], workers=0)
        assert (report.updated, report.unchanged) == (2, 0)
        assert library.index([folder], workers=0).unchanged == 2
        stored = library.store.landmarks_of(library.store.track_id_for_path(str(folder / melodies[0].name)))
        assert stored is not None and len(stored) > 100 and stored.frames.dtype == np.int32


def test_indexing_with_a_second_model_keeps_the_landmarks_and_their_index(melodies, model_dir, second_model_dir, tmp_path):
    folder = _folder_with(melodies[:2], tmp_path / "music")
    database = tmp_path / "library.db"
    with Library(database, model_dir) as library:
        library.index([folder], workers=0)
        before = library.store.landmarks_state()
    with Library(database, second_model_dir) as library:
        report = library.index([folder], workers=0)
        assert report.analysed == 2  # the new model analysed both tracks ...
        assert library.store.landmarks_state() == before  # ... and their landmark rows stayed as they were
        assert library.landmark_index().last_action == "loaded"
