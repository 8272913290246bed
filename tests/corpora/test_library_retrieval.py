"""``engine eval``'s excerpt retrieval through the product: real files indexed by the Library, excerpts asked
for as 96 kbps MP3s, and excerpts of tracks outside the library never called the same recording."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import audio_factory
from engine.library import Library
from training.evaluation.library_retrieval import library_excerpt_retrieval

RATE = audio_factory.SAMPLE_RATE


def test_excerpts_find_their_tracks_and_strangers_match_nothing(model_dir, tmp_path):
    tracks = [audio_factory.random_melody(seconds, seed=70 + number) for number, seconds in enumerate((45.0, 70.0, 52.0))]
    paths = [str(audio_factory.write_audio(samples, tmp_path / f"track{number}.flac")) for number, samples in enumerate(tracks)]
    excerpts = [samples[int(start * RATE): int((start + 30) * RATE)] for samples, start in zip(tracks, (3.0, 33.3, 20.0))]
    strangers = [audio_factory.random_melody(30.0, seed=90 + number) for number in range(2)]
    result = library_excerpt_retrieval(paths, excerpts, strangers, RATE, model_dir, soundtracks=["a", "a", "b"])
    assert (result["indexed"], result["queries"], result["strangers"]) == (3, 3, 2)
    assert result["top1"] == 1.0 and result["same_recording_top1"] == 1.0
    assert result["other_track_called_same_recording"] == 0.0 and result["stranger_called_same_recording"] == 0.0
    stored = result["same_soundtrack"]  # only "a" has a second track: two queries, each with one relevant item
    expected_r_precision, expected_map = brute_force_same_soundtrack(paths, model_dir, tmp_path / "oracle.db")
    assert stored["queries"] == 2
    assert stored["r_precision"] == pytest.approx(expected_r_precision) and stored["map"] == pytest.approx(expected_map)


def brute_force_same_soundtrack(paths: list[str], model_dir, database) -> tuple[float, float]:
    """R-precision and mAP of tracks 0 and 1 (soundtrack "a") querying the other two tracks by the cosine of the
    vectors a library of their own stored (read from SQLite): each has one relevant track, track 2 is the other."""
    with Library(database, model_dir) as library:
        library.index(paths, workers=0)
        model_id = library.active_model_id
        ids = [library.store.track_id_for_path(path) for path in paths]
    with sqlite3.connect(database) as connection:
        blobs = dict(connection.execute("SELECT track_id, embedding FROM analyses WHERE model_id = ?", (model_id,)))
    vectors = [np.frombuffer(blobs[track_id], dtype=np.float32) for track_id in ids]
    unit = [vector / np.linalg.norm(vector) for vector in vectors]
    found_first = [float(unit[query] @ unit[1 - query]) > float(unit[query] @ unit[2]) for query in (0, 1)]
    return float(np.mean(found_first)), float(np.mean([1.0 if first else 0.5 for first in found_first]))
