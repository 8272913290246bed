"""Tempo through the product: `engine bpm`, the estimate stored at index time beside the file's own BPM tag,
sorting by it, `similar --bpm-range` and the radio, the schema upgrade, and `engine bpm --write` on every tag
family with the audio unchanged."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

import audio_factory
import rhythm_factory
from engine import cli
from engine.audio import decoded_audio_digest
from engine.decoding import DecodeJob, decode_job
from engine.library import Library
from engine.library_errors import QueryError
from engine.metadata import read_metadata
from engine.schema import SCHEMA_VERSION
from engine.tempo import TEMPO_VERSION

EXACT = 0.01  # the "exact within 1 %"


def relative_error(found: float, true: float) -> float:
    return abs(found / true - 1.0)


# "fast" is 150 and "half" 62: well inside the tempi the estimator reads these bare grooves at (test_tempo.py pins
# its limits), since these storage, sorting and write-back tests are not about the estimator's accuracy.
TEMPI = {"slow": 90.0, "mid": 124.0, "fast": 150.0, "half": 62.0}


@pytest.fixture(scope="module")
def grooves(tmp_path_factory) -> dict[str, str]:
    """One FLAC groove per tempo in ``TEMPI`` (22.05 kHz like real files, 24 s)."""
    folder = tmp_path_factory.mktemp("grooves")
    return {name: str(audio_factory.write_audio(rhythm_factory.drum_groove(bpm, 24.0, seed=index),
                                                folder / f"{name}.flac"))
            for index, (name, bpm) in enumerate(TEMPI.items())}


def run_engine(capsys, *arguments: str) -> tuple[int, object]:
    code = cli.main([*arguments, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out)


def test_engine_bpm_gives_each_files_tempo_and_an_error_row_for_an_undecodable_one(capsys, grooves, tmp_path):
    broken = audio_factory.make_random_bytes(tmp_path / "broken.mp3")
    code, rows = run_engine(capsys, "bpm", grooves["mid"], str(broken), "--db", str(tmp_path / "db"))
    assert code == 0
    assert rows[0]["path"] == grooves["mid"] and relative_error(rows[0]["bpm"], TEMPI["mid"]) <= EXACT
    assert 0.0 <= rows[0]["confidence"] <= 1.0
    assert rows[1]["path"] == str(broken) and rows[1]["error"] and "bpm" not in rows[1]
    code, rows = run_engine(capsys, "bpm", str(broken), "--db", str(tmp_path / "db"))
    assert code == 1 and "error" in rows[0]


@pytest.fixture
def indexed_grooves(grooves, model_dir, tmp_path):
    """The grooves in a library, "fast" tagged with a BPM the estimate disagrees with (its half)."""
    folder = tmp_path / "music"
    folder.mkdir()
    paths = {name: str(shutil.copy(path, folder / f"{name}.flac")) for name, path in grooves.items()}
    audio_factory.write_tags(paths["fast"], bpm="75")
    with Library(tmp_path / "library.db", model_dir) as library:
        library.index([folder], workers=0)
    return paths, tmp_path / "library.db"


def test_indexing_stores_the_estimate_beside_a_disagreeing_tag_bpm(capsys, indexed_grooves, model_dir):
    paths, database = indexed_grooves
    with Library(database, model_dir) as library:
        rows = {row.path: row for row in library.tracks(0, 10)}
    for name, bpm in TEMPI.items():
        assert relative_error(rows[paths[name]].estimated_bpm, bpm) <= EXACT
    assert rows[paths["fast"]].bpm == 75.0  # the tag is kept, never overwritten by the estimate
    assert rows[paths["slow"]].bpm is None
    code, output = run_engine(capsys, "similar", paths["mid"], "-k", "5", "--db", str(database), "--model", str(model_dir))
    fast = next(hit for hit in output[0]["results"] if hit["path"] == paths["fast"])
    assert fast["tag_bpm"] == 75.0 and relative_error(fast["bpm"], TEMPI["fast"]) <= EXACT


def test_sorting_by_bpm_follows_the_estimate_and_by_tag_bpm_the_tag(indexed_grooves, model_dir):
    paths, database = indexed_grooves
    with Library(database, model_dir) as library:
        by_estimate = [row.path for row in library.tracks(0, 10, order_by="bpm")]
        by_estimate_down = [row.path for row in library.tracks(0, 10, order_by="bpm", descending=True)]
        second_page = [row.path for row in library.tracks(2, 2, order_by="bpm")]
        tagged_first = library.tracks(0, 10, order_by="tag_bpm", descending=True)[0].path
    assert by_estimate == [paths[name] for name in ("half", "slow", "mid", "fast")]
    assert by_estimate_down == list(reversed(by_estimate)) and second_page == by_estimate[2:]
    assert tagged_first == paths["fast"]


@pytest.mark.parametrize("order_by", ["artist", "bpm", "key", "top_tag"])
def test_a_bpm_range_filters_the_browse_pages_in_every_sort_order(indexed_grooves, model_dir, order_by):
    paths, database = indexed_grooves
    with Library(database, model_dir) as library:
        count = library.track_count(bpm_range=(85.0, 130.0))
        shown = [row.path for row in library.tracks(0, 10, order_by=order_by, bpm_range=(85.0, 130.0))]
        with_words = library.track_count("mid", bpm_range=(85.0, 130.0))
        none = library.tracks(0, 10, order_by=order_by, filter_text="half", bpm_range=(85.0, 130.0))
        everything = library.track_count()
    assert count == 2 and sorted(shown) == sorted([paths["slow"], paths["mid"]])  # not 62, not 150 (tag 75)
    assert with_words == 1 and none == [] and everything == 4


def test_similar_bpm_range_keeps_matching_tempi_including_half_and_double(indexed_grooves, model_dir):
    paths, database = indexed_grooves
    with Library(database, model_dir) as library:
        unfiltered = {hit.track.path for hit in library.similar(paths["half"], k=5)}
        within = {hit.track.path for hit in library.similar(paths["half"], k=5, bpm_range=3.0)}
        by_id = {hit.track.path for hit in library.similar(library.store.track_id_for_path(paths["half"]), k=5,
                                                           bpm_range=3.0)}
        wide = {hit.track.path for hit in library.similar(paths["slow"], k=5, bpm_range=45.0)}
    assert unfiltered == {paths["slow"], paths["mid"], paths["fast"]}
    assert within == by_id == {paths["mid"]}  # 62 x 2 = 124; 90 and 150 are out of range
    assert wide == {paths["mid"], paths["fast"], paths["half"]}  # 45 % of 90: 124, and 150 / 2, 62 x 2


def test_a_file_query_without_a_tempo_matches_on_its_bpm_tag(indexed_grooves, model_dir, tmp_path):
    """As a library track's does, a file query's tempo falls back to its BPM tag when the audio has none (a held
    tone); with neither, the tempo filter says the tempo is unknown."""
    paths, database = indexed_grooves
    held = audio_factory.write_audio(audio_factory.tone(220.0, 20.0), tmp_path / "held.flac")
    with Library(database, model_dir) as library:
        with pytest.raises(QueryError, match="tempo unknown"):
            library.similar(str(held), k=5, bpm_range=3.0)
        audio_factory.write_tags(held, bpm="124")
        found = {hit.track.path for hit in library.similar(str(held), k=5, bpm_range=3.0)}
    assert found == {paths["mid"], paths["half"]}  # 124, and 62 doubled


def test_the_radio_keeps_to_the_seeds_tempo_range(indexed_grooves, model_dir):
    paths, database = indexed_grooves
    with Library(database, model_dir) as library:
        walk = [row.path for row in library.playlist(paths["mid"], 4, bpm_range=3.0)]
        unfiltered = [row.path for row in library.playlist(paths["mid"], 4)]
    assert walk == [paths["mid"], paths["half"]]
    assert len(unfiltered) == 4


def test_a_version_3_library_gets_tempi_on_the_next_index_run(indexed_grooves, model_dir):
    paths, database = indexed_grooves
    with sqlite3.connect(database) as connection:  # back to the version 3 layout
        connection.execute("DROP INDEX ix_analyses_by_bpm")
        for column in ("bpm", "bpm_confidence", "tempo_version"):
            connection.execute(f"ALTER TABLE analyses DROP COLUMN {column}")
        connection.execute("UPDATE settings SET value = '3' WHERE name = 'schema_version'")
    with Library(database, model_dir) as library:
        assert all(row.estimated_bpm is None for row in library.tracks(0, 10))
        report = library.index(workers=0)
        assert (report.updated, report.unchanged) == (4, 0)
        assert library.index(workers=0).unchanged == 4
        estimates = {row.path: row.estimated_bpm for row in library.tracks(0, 10)}
    assert relative_error(estimates[paths["mid"]], TEMPI["mid"]) <= EXACT
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT value FROM settings WHERE name = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_tempo_of_an_older_estimator_is_estimated_again_alone(indexed_grooves, model_dir, workers):
    """A new tempo estimator (TEMPO_VERSION) re-estimates stored tempi on the next index run without analysing the
    tracks again: the analysis rows (their ids, vectors, keys, times) stay, only the tempo columns change."""
    paths, database = indexed_grooves
    with sqlite3.connect(database) as connection:  # as an older estimator left them, one track without a version
        connection.execute("UPDATE analyses SET bpm = 1.0, bpm_confidence = 0.5, tempo_version = tempo_version - 1")
        connection.execute("UPDATE analyses SET tempo_version = NULL WHERE id = (SELECT MIN(id) FROM analyses)")
        before = connection.execute("SELECT id, track_id, embedding, key_index, analyzed_at FROM analyses "
                                    "ORDER BY id").fetchall()
    with Library(database, model_dir) as library:
        report = library.index(workers=workers)
        assert (report.updated, report.unchanged, report.problems) == (4, 0, 0)
        assert library.index(workers=workers).unchanged == 4
        estimates = {row.path: row.estimated_bpm for row in library.tracks(0, 10)}
    for name, bpm in TEMPI.items():
        assert relative_error(estimates[paths[name]], bpm) <= EXACT
    with sqlite3.connect(database) as connection:
        after = connection.execute("SELECT id, track_id, embedding, key_index, analyzed_at FROM analyses "
                                   "ORDER BY id").fetchall()
        versions = {row[0] for row in connection.execute("SELECT tempo_version FROM analyses")}
    assert after == before
    assert versions == {TEMPO_VERSION}


def test_a_moved_track_with_an_older_tempo_keeps_its_analysis_and_gets_the_tempo_alone(indexed_grooves, model_dir):
    """A file moved (same identity, old path gone) after a new tempo estimator: the move is recorded and only its
    tempo is estimated again, as for a track that stayed."""
    paths, database = indexed_grooves
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE analyses SET bpm = 1.0, tempo_version = tempo_version - 1")
        before = connection.execute("SELECT id, track_id, embedding, key_index, analyzed_at FROM analyses "
                                    "ORDER BY id").fetchall()
    moved = shutil.move(paths["slow"], paths["slow"].replace("slow.flac", "renamed.flac"))
    with Library(database, model_dir) as library:
        report = library.index(workers=0)
        assert (report.updated, report.unchanged, report.problems) == (4, 0, 0)
        rows = {row.path: row for row in library.tracks(0, 10)}
    assert paths["slow"] not in rows and relative_error(rows[moved].estimated_bpm, TEMPI["slow"]) <= EXACT
    with sqlite3.connect(database) as connection:
        after = connection.execute("SELECT id, track_id, embedding, key_index, analyzed_at FROM analyses "
                                   "ORDER BY id").fetchall()
        versions = {row[0] for row in connection.execute("SELECT tempo_version FROM analyses")}
    assert after == before and versions == {TEMPO_VERSION}


def test_engine_bpm_answers_a_stored_tempo_only_when_the_current_estimator_made_it(capsys, indexed_grooves, model_dir):
    """An indexed, unchanged file's tempo is read from the store; after a new estimator (an older TEMPO_VERSION
    stored) `engine bpm` estimates it again instead of answering the older estimator's value."""
    paths, database = indexed_grooves
    common = ("--db", str(database), "--model", str(model_dir))
    with sqlite3.connect(database) as connection:  # a stored value no estimator would give, to tell them apart
        connection.execute("UPDATE analyses SET bpm = 77.7, bpm_confidence = 0.25")
    _, rows = run_engine(capsys, "bpm", paths["mid"], *common)
    assert (rows[0]["bpm"], rows[0]["confidence"]) == (77.7, 0.25)
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE analyses SET tempo_version = tempo_version - 1")
    _, rows = run_engine(capsys, "bpm", paths["mid"], *common)
    assert relative_error(rows[0]["bpm"], TEMPI["mid"]) <= EXACT


def test_a_tempo_refresh_gives_no_tempo_for_silence_and_a_reason_for_a_file_it_cannot_read(tmp_path):
    """Silence has no tempo (stored as none, like a whole analysis would); a file gone or unreadable since the scan
    gives a reason instead, so the pipeline leaves the stored tempo for the next run rather than erasing it."""
    silent = audio_factory.write_audio(np.zeros(16_000 * 8, dtype=np.float32), tmp_path / "silent.flac", 16_000)

    def job(path: str) -> DecodeJob:
        return DecodeJob(path, 1, 1, "", 7, 16_000, 43_200, 6, file_changed=False, tempo_only=True)

    quiet = decode_job(job(str(silent)))
    assert quiet.reason is None and quiet.tempo is None and quiet.windows is None
    gone = decode_job(job(str(tmp_path / "gone.flac")))
    assert gone.reason and gone.tempo is None


# -- writing the tempo tag ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("extension", ["mp3", "flac", "ogg", "m4a"])
def test_bpm_write_puts_the_tempo_in_the_files_tag_with_the_audio_unchanged(capsys, grooves, extension, tmp_path):
    song = str(audio_factory.reencode(grooves["mid"], tmp_path / f"song.{extension}"))
    digest = decoded_audio_digest(song)
    common = ("--db", str(tmp_path / "db"))
    code, rows = run_engine(capsys, "bpm", song, "--write", *common)
    assert code == 0 and rows[0]["written"] and rows[0]["write_problem"] is None
    assert rows[0]["bpm_tag"] == str(round(rows[0]["bpm"]))
    assert read_metadata(song).bpm == round(rows[0]["bpm"]) and decoded_audio_digest(song) == digest


def test_bpm_exits_1_with_a_line_on_stderr_when_no_file_gives_a_result_or_takes_its_write(capsys, grooves, tmp_path):
    """The contract's exit 1: every file failed (no tempo, or a write asked for and refused), said on stderr;
    --overwrite without --write is a usage error, not silently ignored."""
    import os

    common = ("--db", str(tmp_path / "db"), "--json")
    silent = audio_factory.write_audio(np.zeros(16_000 * 8, dtype=np.float32), tmp_path / "silent.flac", 16_000)
    assert cli.main(["bpm", str(silent), *common]) == 1
    out, err = capsys.readouterr()
    assert "error" in json.loads(out)[0] and err.startswith("engine: ") and "silent.flac" in err
    song = str(shutil.copy(grooves["mid"], tmp_path / "linked.flac"))
    os.link(song, tmp_path / "other-name.flac")  # a hard link: a safe replace would split it, so it is refused
    assert cli.main(["bpm", song, "--write", *common]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)[0]["write_problem"] and "engine: " in err
    assert cli.main(["bpm", song, grooves["mid"], str(silent), *common]) == 0  # one result is enough
    capsys.readouterr()
    assert cli.main(["bpm", song, "--overwrite", *common]) == 2
    assert "--overwrite goes with --write" in capsys.readouterr().err


def test_bpm_write_keeps_an_existing_tag_unless_overwrite(capsys, grooves, tmp_path):
    song = str(shutil.copy(grooves["fast"], tmp_path / "tagged.flac"))
    audio_factory.write_tags(song, bpm="75")
    common = ("--db", str(tmp_path / "db"))
    _, rows = run_engine(capsys, "bpm", song, "--write", *common)
    assert not rows[0]["written"] and rows[0]["kept_existing"] and rows[0]["bpm_tag"] == "75"
    assert read_metadata(song).bpm == 75.0
    _, rows = run_engine(capsys, "bpm", song, "--write", "--overwrite", *common)
    assert rows[0]["written"] and read_metadata(song).bpm == round(TEMPI["fast"])
