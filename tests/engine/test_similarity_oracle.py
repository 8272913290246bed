"""``similar`` and the radio walk on an indexed library against a brute-force oracle: the stored vectors read
straight from SQLite with numpy, ranked by cosine, keys judged by the literal Camelot wheel (tests/key_wheel.py)."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass

import numpy as np
import pytest

from engine.library import Library
from key_wheel import codes_mix

SCORE_TOLERANCE = 1e-5
RADIO_LENGTH = 30
HARMONIC_K = 6
KEY_STRIDE = 7  # key class of track t in the harmonic test: (t * KEY_STRIDE) % 24, so every key occurs


@dataclass(frozen=True)
class StoredVectors:
    track_ids: np.ndarray  # (N,)
    matrix: np.ndarray  # (N, D) float32, as stored
    artists: dict[int, str | None]

    def ranking(self, track_id: int) -> list[tuple[int, float]]:
        """Every other track with its cosine to ``track_id``, best first."""
        row = int(np.flatnonzero(self.track_ids == track_id)[0])
        unit = self.matrix / np.linalg.norm(self.matrix, axis=1, keepdims=True)
        cosines = unit @ unit[row]
        order = np.argsort(-cosines, kind="stable")
        return [(int(self.track_ids[i]), float(cosines[i])) for i in order if i != row]


def read_stored_vectors(database, model_id: str) -> StoredVectors:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT track_id, embedding FROM analyses WHERE model_id = ?", (model_id,)).fetchall()
        artists = dict(connection.execute("SELECT id, artist FROM tracks").fetchall())
    track_ids = np.array([track_id for track_id, _ in rows], dtype=np.int64)
    matrix = np.stack([np.frombuffer(blob, dtype=np.float32) for _, blob in rows])
    return StoredVectors(track_ids, matrix, artists)


def same_known_artist(first: str | None, second: str | None) -> bool:
    return bool(first and second) and first.strip().casefold() == second.strip().casefold()


def brute_force_radio(vectors: StoredVectors, seed: int, count: int) -> list[int]:
    """Each step: the most similar unused track whose (known) artist differs from the current one."""
    order = [seed]
    while len(order) < count:
        current = order[-1]
        following = next((track_id for track_id, _ in vectors.ranking(current) if track_id not in order
                          and not same_known_artist(vectors.artists[track_id], vectors.artists[current])), None)
        if following is None:
            break
        order.append(following)
    return order


def assert_same_ranking(results, expected: list[tuple[int, float]]) -> None:
    assert [hit.track.id for hit in results] == [track_id for track_id, _ in expected]
    np.testing.assert_allclose([hit.score for hit in results], [score for _, score in expected], atol=SCORE_TOLERANCE)


@pytest.fixture
def library_with_vectors(indexed_library, model_dir, tmp_path):
    """A private copy of the indexed library (database and caches) and its vectors as stored."""
    database, _ = indexed_library
    copy = shutil.copytree(database.parent, tmp_path / "indexed") / database.name
    with Library(copy, model_dir) as library:
        yield library, copy, read_stored_vectors(copy, library.active_model_id)


def test_similar_by_track_id_is_the_brute_force_cosine_ranking(library_with_vectors):
    library, _, vectors = library_with_vectors
    assert len(vectors.track_ids) == library.track_count()
    for track_id in vectors.track_ids[::5]:
        expected = vectors.ranking(int(track_id))
        assert_same_ranking(library.similar(int(track_id), k=len(expected)), expected)
        assert_same_ranking(library.similar(int(track_id), k=3), expected[:3])


def test_similar_by_an_indexed_file_is_the_brute_force_ranking_of_its_stored_vector(library_with_vectors):
    library, _, vectors = library_with_vectors
    track_id = int(vectors.track_ids[7])
    path = library.track(track_id).path
    assert_same_ranking(library.similar(path, k=10), vectors.ranking(track_id)[:10])


def test_harmonic_similar_keeps_the_nearest_tracks_whose_keys_mix_on_the_wheel(library_with_vectors, model_dir):
    library, database, vectors = library_with_vectors
    library.close()
    with sqlite3.connect(database) as connection:  # keys the oracle chose, so every wheel relation occurs
        connection.execute("UPDATE analyses SET key_index = (track_id * ?) % 24", (KEY_STRIDE,))
    key_of = {int(t): (int(t) * KEY_STRIDE) % 24 for t in vectors.track_ids}
    with Library(database, model_dir) as reopened:
        for track_id in vectors.track_ids[::3]:
            expected = [(other, score) for other, score in vectors.ranking(int(track_id))
                        if codes_mix(key_of[int(track_id)], key_of[other])][:HARMONIC_K]
            assert len(expected) >= 2
            assert_same_ranking(reopened.similar(int(track_id), k=HARMONIC_K, harmonic=True), expected)


def test_radio_walks_to_the_nearest_unused_track_of_another_artist(library_with_vectors):
    library, _, vectors = library_with_vectors
    for seed in (int(vectors.track_ids[0]), int(vectors.track_ids[11])):
        walked = [row.id for row in library.playlist(seed, RADIO_LENGTH)]
        assert walked == brute_force_radio(vectors, seed, RADIO_LENGTH)
