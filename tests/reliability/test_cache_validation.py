"""The caches beside the database are checked against it, not trusted: a sidecar of the wrong JSON type, FAISS
vectors overwritten under an intact header and scrambled landmark ids are rebuilt from SQLite, and searches
give the same answers as with fresh caches (issue 13, case 6)."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from engine.landmark_index import landmark_index_paths
from engine.vector_index import index_paths


def _similar(engine, database: Path, model_dir: Path, *queries: str) -> list[dict]:
    completed = engine("similar", *queries, "-k", "5", "--db", str(database), "--model", str(model_dir), "--json")
    assert completed.returncode == 0 and "Traceback" not in completed.stderr, completed.stderr
    return [[(hit["track_id"], hit["same_recording"]) for hit in entry["results"]] for entry in json.loads(completed.stdout)]


def _vector_cache(database: Path) -> tuple[Path, Path]:
    (sidecar,) = database.parent.glob(database.name + ".*.faiss.json")
    return sidecar.with_name(sidecar.name[: -len(".json")]), sidecar


@pytest.fixture
def outside_copy(generated_library_source, tmp_path) -> Path:
    """A copy of a library track outside the library: its original is found as the same recording."""
    copy = tmp_path / "copy.flac"
    copy.write_bytes(generated_library_source.valid[4].read_bytes())
    return copy


@pytest.mark.parametrize("sidecar_text", ["[]", "null", '"text"', '{"format": 1, "count": "many", "max_analysis_id": 3}',
                                          '{"format": true, "count": -1}', "{not json"])
def test_a_sidecar_of_the_wrong_type_is_rebuilt(engine, indexed_copy, model_dir, outside_copy, sidecar_text):
    expected = _similar(engine, indexed_copy, model_dir, "3", str(outside_copy))
    _, vector_sidecar = _vector_cache(indexed_copy)
    landmark_sidecar = landmark_index_paths(indexed_copy)[1]
    for sidecar in (vector_sidecar, landmark_sidecar):
        sidecar.write_text(sidecar_text, encoding="utf-8")
    assert _similar(engine, indexed_copy, model_dir, "3", str(outside_copy)) == expected
    for sidecar in (vector_sidecar, landmark_sidecar):
        assert isinstance(json.loads(sidecar.read_text(encoding="utf-8")), dict)  # saved again, valid


def test_faiss_vectors_overwritten_under_an_intact_header_are_rebuilt(engine, indexed_copy, model_dir):
    expected = _similar(engine, indexed_copy, model_dir, "3", "7")
    index_file, _ = _vector_cache(indexed_copy)
    index = faiss.read_index(str(index_file))
    inner = faiss.downcast_index(index.index)
    vectors = faiss.rev_swig_ptr(inner.get_xb(), inner.ntotal * inner.d)
    vectors[:] = np.random.default_rng(0).standard_normal(vectors.size).astype(np.float32)  # same size, same header
    before = index_file.read_bytes()
    faiss.write_index(index, str(index_file))
    assert len(index_file.read_bytes()) == len(before) and index_file.read_bytes()[:64] == before[:64]
    assert _similar(engine, indexed_copy, model_dir, "3", "7") == expected


def test_faiss_ids_scrambled_under_an_intact_header_are_rebuilt(engine, indexed_copy, model_dir):
    expected = _similar(engine, indexed_copy, model_dir, "3", "7")
    index_file, _ = _vector_cache(indexed_copy)
    index = faiss.read_index(str(index_file))
    ids = faiss.vector_to_array(index.id_map)
    scrambled = np.random.default_rng(1).permutation(ids)
    faiss.copy_array_to_vector(scrambled, index.id_map)
    index.construct_rev_map()
    faiss.write_index(index, str(index_file))
    assert _similar(engine, indexed_copy, model_dir, "3", "7") == expected


def test_scrambled_landmark_ids_are_rebuilt_and_the_same_recording_is_still_found(engine, indexed_copy, model_dir,
                                                                                 outside_copy):
    expected = _similar(engine, indexed_copy, model_dir, str(outside_copy))
    assert expected[0][0][1], "the copy's original is listed first as the same recording"
    rows_file = landmark_index_paths(indexed_copy)[0]
    rows = np.load(rows_file)
    rows[1] = np.random.default_rng(2).permutation(rows[1])
    np.save(rows_file, rows, allow_pickle=False)
    assert _similar(engine, indexed_copy, model_dir, str(outside_copy)) == expected


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_cache_files_cut_short_or_overwritten_with_garbage_are_rebuilt(engine, indexed_copy, model_dir, outside_copy,
                                                                       damage):
    expected = _similar(engine, indexed_copy, model_dir, "3", str(outside_copy))
    index_file, _ = _vector_cache(indexed_copy)
    rows_file, _, members_file = landmark_index_paths(indexed_copy)
    for cache in (index_file, rows_file, members_file):
        content = cache.read_bytes()
        damaged = {"truncated": content[: len(content) // 2], "garbage": b"\x93NUMPY garbage" * 64, "empty": b""}
        cache.write_bytes(damaged[damage])  # empty: what a power cut can leave
    assert _similar(engine, indexed_copy, model_dir, "3", str(outside_copy)) == expected
    assert faiss.read_index(str(index_file)).ntotal > 0 and np.load(rows_file).shape[0] == 3  # saved again, whole
