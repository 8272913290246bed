"""``engine similar TRACK_ID`` reads a current library with ``sqlite3`` alone (``engine.track_search``): its answers
must be the ``Library``'s for every filter and every way the active model is found, its refusals the same, and a
library still to create or upgrade, or a file query, is left to the ``Library``."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from engine import cli
from engine.library import ACTIVE_MODEL_SETTING, Library, LibraryError, ModelUnavailableError, QueryError
from engine.library_reader import open_current_library
from engine.schema import SCHEMA_VERSION
from engine.track_search import TrackIdSearch, all_track_ids


@pytest.fixture
def library_copy(indexed_library, tmp_path):
    database = tmp_path / "library.db"
    shutil.copy(indexed_library[0], database)
    return database


def _outcome(search, query, **filters):
    try:
        return search.similar(query, **filters)
    except QueryError as error:
        return ("refused", str(error))


def test_track_id_answers_are_the_librarys(library_copy, model_dir, second_model_dir, monkeypatch):
    with Library(library_copy) as library:
        library.use_model(model_dir)
        library.register_model(second_model_dir)
        track_ids = [row.id for row in library.tracks(limit=100)]
    queries = [track_ids[0], str(track_ids[-1]), track_ids[len(track_ids) // 2], 99_999, 0]
    filter_sets = [dict(k=3), dict(k=100), dict(k=5, harmonic=True), dict(k=5, bpm_range=8.0),
                   dict(k=4, harmonic=True, bpm_range=20.0)]
    for model in (None, model_dir, second_model_dir):  # remembered, named, and one that analysed nothing
        with Library(library_copy, model, read_only=True) as library, \
                TrackIdSearch.open(library_copy, model) as search:
            for query in queries:
                for filters in filter_sets:
                    expected = _outcome(library, query, **filters)
                    assert _outcome(search, query, **filters) == expected, (model, query, filters)
    with Library(library_copy, None, read_only=True) as library, TrackIdSearch.open(library_copy, None) as search:
        found = search.similar(track_ids[0], k=5)
        assert len(found) == 5 and track_ids[0] not in [hit.track.id for hit in found]
        assert found == library.similar(track_ids[0], k=5)
    # No remembered folder and no default model: refused as the library refuses it, when a search needs the model.
    with sqlite3.connect(library_copy) as connection:
        connection.execute("DELETE FROM settings WHERE name = ?", (ACTIVE_MODEL_SETTING,))
    monkeypatch.setenv("ENGINE_MODEL_DIR", str(library_copy.parent / "no-model-here"))
    with Library(library_copy, None, read_only=True) as library, TrackIdSearch.open(library_copy, None) as search:
        with pytest.raises(ModelUnavailableError) as by_library:
            library.similar(track_ids[0])
        with pytest.raises(ModelUnavailableError) as by_reader:
            search.similar(track_ids[0])
        assert str(by_reader.value) == str(by_library.value)


def test_a_model_neither_folder_nor_registered_is_refused_alike(library_copy, tmp_path):
    for reference in ("no-such-model", tmp_path):
        with pytest.raises(ModelUnavailableError) as by_library:
            Library(library_copy, reference, read_only=True)
        with pytest.raises(ModelUnavailableError) as by_reader:
            TrackIdSearch.open(library_copy, reference)
        assert str(by_reader.value) == str(by_library.value)


def test_files_and_libraries_to_upgrade_go_through_the_library(indexed_library, generated_library_source, model_dir,
                                                               tmp_path, capsys):
    a_file = str(generated_library_source.valid[0])
    assert all_track_ids([3, "12"]) and not all_track_ids([3, a_file])
    with TrackIdSearch.open(indexed_library[0], model_dir) as search, pytest.raises(LibraryError):
        search.similar(a_file)

    old = tmp_path / "old.db"
    shutil.copy(indexed_library[0], old)
    with sqlite3.connect(old) as connection:
        connection.execute("UPDATE settings SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION - 1),))
    assert TrackIdSearch.open(old, model_dir) is None
    assert cli.main(["--db", str(old), "--model", str(model_dir), "similar", "3", "-k", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["results"]) == 2  # upgraded by the library, then searched
    with sqlite3.connect(old) as connection:
        assert connection.execute("SELECT value FROM settings WHERE name = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION)


def test_the_embedding_read_is_one_snapshot(library_copy, model_dir):
    """An analysis removed by another connection while a reader reads the embeddings is still in what it reads: the
    count, the fingerprint and the rows come from one transaction (a vector index built from them is consistent)."""
    with Library(library_copy, model_dir) as library:
        model_id = library.model_spec().model_id
    with open_current_library(library_copy) as reader:
        def consume(fingerprint, read):
            with sqlite3.connect(library_copy) as writer:
                writer.execute("DELETE FROM analyses WHERE id = (SELECT max(id) FROM analyses WHERE model_id = ?)",
                               (model_id,))
            return sum(len(track_ids) for track_ids, _ in read())

        (count, _), read_rows = reader.embedding_batches(model_id, consume, batch_rows=4)
        assert read_rows == count > 1
        assert reader.analyses_fingerprint(model_id)[0] == count - 1  # the next read sees the removal


def test_queries_that_are_no_sqlite_id_are_files(library_copy, model_dir, capsys):
    """"²" is a digit to ``str.isdigit`` but no number, and an id past 2**63 - 1 is none SQLite holds: both are looked
    for as files (one line, exit 1), not a traceback."""
    from engine.search import as_track_id

    assert as_track_id("²") is None and as_track_id(str(2**63)) is None and as_track_id(str(2**63 - 1)) == 2**63 - 1
    assert as_track_id(" 6") is None and as_track_id("0" * 25 + "6") is None  # ASCII digits only; 19 at most
    for query in ("²", str(2**63)):
        assert cli.main(["--db", str(library_copy), "--model", str(model_dir), "similar", query, "--json"]) == 1
        assert json.loads(capsys.readouterr().out)[0]["error"] == "no such file or track id"
    long_digits = "1" * 5000  # beyond what int() converts: a file name, and too long for one
    assert cli.main(["--db", str(library_copy), "--model", str(model_dir), "similar", long_digits, "--json"]) == 1
    assert "too long" in json.loads(capsys.readouterr().out)[0]["error"]
    assert cli.main(["--db", str(library_copy), "--model", str(model_dir), "similar", str(2**63 - 1), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)[0]["error"] == "no such track"


def test_a_reader_whose_models_cannot_be_read_is_closed(library_copy, monkeypatch):
    from engine import library_reader

    with sqlite3.connect(library_copy) as connection:
        connection.execute("DROP TABLE models")
    opened = []
    open_current = library_reader.open_current_library
    monkeypatch.setattr("engine.track_search.open_current_library",
                        lambda database: opened.append(open_current(database)) or opened[-1])
    with pytest.raises(sqlite3.OperationalError):
        TrackIdSearch.open(library_copy, "some-model")
    with pytest.raises(sqlite3.ProgrammingError):  # closed
        opened[0].get_setting("schema_version")


def test_the_stores_embedding_read_is_one_snapshot_too(library_copy, model_dir):
    """The store reads its embeddings as the reader does (``library_reads.embeddings_consumed``): the fingerprint and
    every batch from one transaction, while another connection deletes an analysis."""
    with Library(library_copy, model_dir) as library:
        model_id = library.model_spec().model_id

        def consume(fingerprint, read):
            with sqlite3.connect(library_copy) as writer:
                writer.execute("DELETE FROM analyses WHERE id = (SELECT max(id) FROM analyses WHERE model_id = ?)",
                               (model_id,))
            return sum(len(track_ids) for track_ids, _ in read())

        (count, _), read_rows = library.store.embedding_batches(model_id, consume, batch_rows=4)
        assert read_rows == count > 1
        assert library.store.analyses_fingerprint(model_id)[0] == count - 1
