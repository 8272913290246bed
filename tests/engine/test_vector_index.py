"""The FAISS cache stays consistent with SQLite: loaded when current, extended on additions, rebuilt otherwise."""

from __future__ import annotations

import shutil

import faiss
import numpy as np

from engine.library import Library
from engine.vector_index import FLAT_LIMIT, VectorIndex, build_faiss_index, index_paths


def _fresh_index(library: Library) -> VectorIndex:
    model = library.model()
    return VectorIndex(library.store, model.model_id, model.config.embedding_dim)


def test_saved_index_is_loaded_when_current_and_rebuilt_when_missing_or_corrupt(indexed_library, model_dir, tmp_path):
    database, report = indexed_library
    copy = tmp_path / "lib.db"
    shutil.copyfile(database, copy)
    with Library(copy, model_dir) as library:
        first = _fresh_index(library)
        first.ensure_current()
        assert first.last_action == "rebuilt" and first.size == report.added
        second = _fresh_index(library)
        second.ensure_current()
        assert second.last_action == "loaded"
        index_file, _ = index_paths(copy, library.active_model_id)
        index_file.write_bytes(b"garbage")
        third = _fresh_index(library)
        third.ensure_current()
        assert third.last_action == "rebuilt" and third.size == report.added


def test_index_follows_additions_and_removals(library_copy, model_dir, tmp_path):
    with Library(tmp_path / "lib.db", model_dir) as library:
        for path in library_copy.valid[10:]:
            path.rename(path.with_name("." + path.name))  # hidden: not indexed yet
        library.index([library_copy.root], workers=0)
        stale = _fresh_index(library)
        stale.ensure_current()
        for path in library_copy.valid[10:]:
            path.with_name("." + path.name).rename(path)
        library.index(workers=0)
        stale.ensure_current()
        assert stale.last_action == "extended" and stale.size == len(library_copy.valid)
        library_copy.valid[0].unlink()
        library.index(workers=0)
        stale.ensure_current()
        assert stale.last_action == "rebuilt" and stale.size == len(library_copy.valid) - 1
        ids, _ = library.embeddings()
        assert all(stale.vector_of(int(track_id)) is not None for track_id in ids)


def test_large_collections_use_an_approximate_index():
    assert isinstance(faiss.downcast_index(build_faiss_index(8, FLAT_LIMIT).index), faiss.IndexFlatIP)
    hnsw = build_faiss_index(8, FLAT_LIMIT + 1)
    assert isinstance(faiss.downcast_index(hnsw.index), faiss.IndexHNSWFlat)
    vectors = np.random.default_rng(0).standard_normal((500, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    hnsw.add_with_ids(vectors, np.arange(500, dtype=np.int64) + 1000)
    _, found = hnsw.search(vectors[:5], 1)
    assert list(found[:, 0]) == [1000, 1001, 1002, 1003, 1004]


def test_graph_index_answers_exact_searches_by_scanning_every_vector(indexed_library, model_dir, tmp_path, monkeypatch):
    from engine import vector_index

    monkeypatch.setattr(vector_index, "FLAT_LIMIT", 4)  # the ~30 generated tracks now make a graph
    database, _ = indexed_library
    copy = tmp_path / "lib.db"
    shutil.copyfile(database, copy)
    with Library(copy, model_dir) as library:
        index = _fresh_index(library)
        index.ensure_current()
        assert isinstance(faiss.downcast_index(index._index.index), faiss.IndexHNSWFlat)
        ids, matrix = library.embeddings()
        queries = matrix[:3] * 0.5 + matrix[3:6] * 0.5
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        scores, found = index.search(queries, 5, exact=True)
        exact_scores = queries @ matrix.T  # (3, N); the random test model makes near-ties, so compare scores
        position = {int(track_id): n for n, track_id in enumerate(ids)}
        np.testing.assert_allclose(scores, np.sort(exact_scores, axis=1)[:, ::-1][:, :5], rtol=1e-5)
        for row, hits in enumerate(found):
            np.testing.assert_allclose(scores[row], [exact_scores[row, position[int(t)]] for t in hits], rtol=1e-5)
        _, approximate = index.search(queries, 5)
        assert set(approximate.ravel().tolist()) <= set(ids.tolist())


def test_flat_index_that_outgrows_the_limit_is_rebuilt_as_a_graph(library_copy, model_dir, tmp_path, monkeypatch):
    from engine import vector_index

    monkeypatch.setattr(vector_index, "FLAT_LIMIT", 12)
    with Library(tmp_path / "lib.db", model_dir) as library:
        for path in library_copy.valid[10:]:
            path.rename(path.with_name("." + path.name))
        library.index([library_copy.root], workers=0)
        index = _fresh_index(library)
        index.ensure_current()
        assert isinstance(faiss.downcast_index(index._index.index), faiss.IndexFlatIP)
        for path in library_copy.valid[10:]:
            path.with_name("." + path.name).rename(path)
        library.index(workers=0)
        index.ensure_current()
        assert index.last_action == "rebuilt"
        assert isinstance(faiss.downcast_index(index._index.index), faiss.IndexHNSWFlat)


def test_searches_from_several_threads_take_turns_at_the_index(indexed_library, model_dir, tmp_path, monkeypatch):
    """The app searches from worker threads: two threads loading and searching one FAISS index at once crashed
    the process (a segfault in faiss). Each catch-up and search now holds the index's lock; here every search
    starts on an index not yet loaded, and the catch-up is slowed so that unguarded threads would overlap."""
    import threading
    import time

    database, report = indexed_library
    copy = tmp_path / "lib.db"
    shutil.copyfile(database, copy)
    with Library(copy, model_dir) as library:
        index = _fresh_index(library)
        inside, most_inside, guard = [0], [0], threading.Lock()
        catch_up = VectorIndex._catch_up

        def slow_catch_up(self, *args, **kwargs):
            with guard:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
            time.sleep(0.05)
            try:
                return catch_up(self, *args, **kwargs)
            finally:
                with guard:
                    inside[0] -= 1

        monkeypatch.setattr(VectorIndex, "_catch_up", slow_catch_up)
        query = library.store.embeddings_of(index.model_id, [1])[1][None, :]
        found, errors = [], []

        def search() -> None:
            try:
                found.append(index.search(query, 3)[1][0].tolist())
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)

        threads = [threading.Thread(target=search) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors and len(found) == 6
        assert most_inside[0] == 1  # one catch-up at a time
        assert all(ids == found[0] for ids in found) and found[0][0] == 1
        assert index.size == report.added
