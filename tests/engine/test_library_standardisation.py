"""Library-level standardisation: the moments, and search through a library whose model asks for it, checked
against a brute-force ranking of the stored vectors standardised by hand."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engine.library import Library
from engine.library_standardisation import PRIOR_TRACKS, fit_standardisation
from engine.vector_index import index_paths


def test_a_large_library_is_centred_and_scaled_on_its_own_moments():
    rng = np.random.default_rng(0)
    vectors = rng.normal(loc=[5.0, -2.0, 0.0], scale=[1.0, 10.0, 0.1], size=(20_000, 3))
    moments = fit_standardisation(vectors)
    standardised = (vectors - moments.mean) / moments.scale
    assert np.allclose(standardised.mean(axis=0), 0.0, atol=0.01)
    assert np.allclose(standardised.std(axis=0), 1.0, atol=0.01)


def test_a_tiny_library_is_mostly_left_alone():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1]])
    moments = fit_standardisation(vectors)
    own_weight = 2 / (2 + PRIOR_TRACKS)
    assert np.allclose(moments.mean, own_weight * vectors.mean(axis=0))
    assert np.all(moments.scale > 0)
    # two tracks cannot turn into opposite poles: their cosine stays positive after standardising
    applied = moments.apply(vectors)
    assert float(applied[0] @ applied[1]) > 0.5


def test_applied_vectors_are_unit_length_and_zero_rows_stay_zero():
    moments = fit_standardisation(np.random.default_rng(1).normal(size=(50, 4)))
    applied = moments.apply(np.vstack([np.ones(4), moments.mean]))
    assert np.isclose(np.linalg.norm(applied[0]), 1.0)
    assert np.allclose(applied[1], 0.0)


@pytest.fixture
def standardising_model(model_dir, tmp_path):
    folder = tmp_path / "standardising-model"
    shutil.copytree(model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["search"] = {"library_standardisation": True}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_similar_ranks_by_cosine_of_library_standardised_vectors(indexed_library, standardising_model, tmp_path):
    database = tmp_path / "library.db"
    shutil.copy(indexed_library[0], database)
    with Library(database, standardising_model) as library:
        track_ids, vectors = library.embeddings()
        assert len(track_ids) >= 10
        moments = fit_standardisation(vectors)
        standardised = moments.apply(vectors)
        query = int(track_ids[3])
        expected_order = [int(track_ids[i]) for i in np.argsort(-(standardised @ standardised[3]), kind="stable")
                          if int(track_ids[i]) != query][:5]
        results = library.similar(query, k=5)
        assert [result.track.id for result in results] == expected_order
        expected_scores = np.sort(standardised @ standardised[3])[::-1][1:6]
        assert np.allclose([result.score for result in results], expected_scores, atol=1e-5)


def test_the_saved_index_keeps_its_moments_and_is_reloaded(indexed_library, standardising_model, tmp_path):
    database = tmp_path / "library.db"
    shutil.copy(indexed_library[0], database)
    with Library(database, standardising_model) as library:
        query = int(library.embeddings()[0][0])
        first = [(r.track.id, r.score) for r in library.similar(query, k=5)]
        model_id = library.model().model_id
    _, sidecar = index_paths(database, model_id)
    saved = json.loads(sidecar.read_text())["standardisation"]
    assert saved["fitted_on"] == saved["fitted_on"] and len(saved["mean"]) == len(saved["scale"]) > 0
    with Library(database, standardising_model) as library:
        again = [(r.track.id, r.score) for r in library.similar(query, k=5)]
        assert library._vector_index(library.model()).last_action == "loaded"
    assert [t for t, _ in again] == [t for t, _ in first]
    assert np.allclose([s for _, s in again], [s for _, s in first], atol=1e-6)
