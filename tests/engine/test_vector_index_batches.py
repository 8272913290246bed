"""The FAISS cache reads SQLite in bounded batches: a catch-up or rebuild over many batches answers searches exactly
as an index built from one read of every embedding does, so memory need not hold the library's embeddings."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest

from engine.library import Library
from engine.vector_index import VectorIndex

SMALL_BATCH = 4  # the ~30 generated tracks take 8 batches
KEPT_BEFORE_CATCH_UP = 6  # analyses the stale index holds; the rest arrive in several batches


def _index(library: Library, batch_rows: int, standardise: bool = False) -> VectorIndex:
    model = library.model()
    return VectorIndex(library.store, model.model_id, model.config.embedding_dim, standardise, batch_rows=batch_rows)


def _all_neighbours(index: VectorIndex, library: Library, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    _, matrix = library.embeddings()
    return index.search(matrix, 10, exact=exact)


def _take_out_late_analyses(database) -> list[tuple]:
    """Delete every analysis after the first ``KEPT_BEFORE_CATCH_UP`` and return the rows, to put back later."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT * FROM analyses WHERE id > (SELECT id FROM analyses ORDER BY id "
                                  "LIMIT 1 OFFSET ?) ORDER BY id", (KEPT_BEFORE_CATCH_UP - 1,)).fetchall()
        connection.executemany("DELETE FROM analyses WHERE id = ?", [(row[0],) for row in rows])
    return rows


def _put_back(database, rows: list[tuple]) -> None:
    """Store the rows again, in their order, as new analyses (new ids, as an index run would give them)."""
    with sqlite3.connect(database) as connection:
        connection.executemany(f"INSERT INTO analyses VALUES ({', '.join('?' * len(rows[0]))})",
                               [(None, *row[1:]) for row in rows])


@pytest.mark.parametrize("graph", [False, True], ids=["flat", "graph"])
def test_catch_up_in_small_batches_answers_as_a_one_shot_build(indexed_library, model_dir, tmp_path, monkeypatch,
                                                              graph):
    from engine import vector_index

    if graph:  # a graph built in other batches links other neighbours: compare the exact scans of its vectors
        monkeypatch.setattr(vector_index, "FLAT_LIMIT", 2)
        monkeypatch.setattr(vector_index, "ADDED_LIMIT", 0)  # added to the graph, not held beside it
    database, report = indexed_library
    one_shot_copy, caught_up_copy = tmp_path / "one-shot.db", tmp_path / "caught-up.db"
    shutil.copyfile(database, one_shot_copy)
    shutil.copyfile(database, caught_up_copy)
    late = _take_out_late_analyses(caught_up_copy)
    assert len(late) > 2 * SMALL_BATCH
    with Library(caught_up_copy, model_dir) as library:
        stale = _index(library, SMALL_BATCH)
        stale.ensure_current()
        assert stale.size == KEPT_BEFORE_CATCH_UP
        _put_back(caught_up_copy, late)
        stale.ensure_current()
        assert stale.last_action == "extended" and stale.size == report.added
        caught_up = _all_neighbours(stale, library, exact=graph)
    with Library(one_shot_copy, model_dir) as library:
        whole = _index(library, batch_rows=10 * report.added)
        whole.ensure_current()
        assert whole.last_action == "rebuilt"
        one_shot = _all_neighbours(whole, library, exact=graph)
    np.testing.assert_array_equal(caught_up[1], one_shot[1])
    np.testing.assert_array_equal(caught_up[0], one_shot[0])


def test_standardised_rebuild_in_small_batches_fits_the_moments_of_one_read(indexed_library, model_dir, tmp_path):
    database, report = indexed_library
    copy = tmp_path / "lib.db"
    shutil.copyfile(database, copy)
    with Library(copy, model_dir) as library:
        batched, whole = _index(library, SMALL_BATCH, standardise=True), _index(library, 10 * report.added, True)
        batched.ensure_current()
        for saved in (batched.index_path, batched.meta_path):
            saved.unlink()
        whole.ensure_current()
        assert batched.last_action == whole.last_action == "rebuilt"
        assert batched._standardisation.fitted_on == whole._standardisation.fitted_on == report.added
        np.testing.assert_allclose(batched._standardisation.mean, whole._standardisation.mean, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(batched._standardisation.scale, whole._standardisation.scale, rtol=1e-5)
        batched_scores, batched_ids = _all_neighbours(batched, library, exact=False)
        whole_scores, whole_ids = _all_neighbours(whole, library, exact=False)
    np.testing.assert_allclose(batched_scores, whole_scores, atol=1e-5)
    assert (batched_ids[:, 0] == whole_ids[:, 0]).all()


def test_store_hands_embeddings_over_in_batches_of_at_most_the_size_asked(indexed_library, model_dir, tmp_path):
    database, report = indexed_library
    with Library(database, model_dir) as library:
        model_id = library.model_spec().model_id
        fingerprint, batches = library.store.embedding_batches(model_id, lambda _, read: list(read()),
                                                               batch_rows=SMALL_BATCH)
        everything = library.store.embedding_snapshot(model_id)
    assert fingerprint == everything[0] and fingerprint[0] == report.added
    assert all(len(ids) <= SMALL_BATCH for ids, _ in batches) and len(batches) == -(-report.added // SMALL_BATCH)
    np.testing.assert_array_equal(np.concatenate([ids for ids, _ in batches]), everything[1])
    np.testing.assert_array_equal(np.concatenate([matrix for _, matrix in batches]), everything[2])


def test_a_rebuild_lets_go_of_the_stale_index_before_building_the_new_one(indexed_library, model_dir, tmp_path,
                                                                         monkeypatch):
    """Two indexes held at once doubled the peak memory of an index run that replaced analyses (1 % of 100k tracks)."""
    from engine import vector_index

    database, report = indexed_library
    copy = tmp_path / "replaced.db"
    shutil.copyfile(database, copy)
    with Library(copy, model_dir) as library:
        index = _index(library, SMALL_BATCH)
        index.ensure_current()
        _put_back(copy, _take_out_late_analyses(copy))  # replaced analyses: the index cannot just be extended
        held_while_building = []
        build = vector_index.build_faiss_index
        monkeypatch.setattr(vector_index, "build_faiss_index",
                            lambda *arguments: held_while_building.append(index._index) or build(*arguments))
        index.ensure_current()
        assert index.last_action == "rebuilt" and index.size == report.added
        assert held_while_building == [None]
