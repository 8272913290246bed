"""A query is resolved once (engine.search): a file outside the library is opened and decoded once per query, the
resolved value searches again without touching the file, and what the one decode gives is exactly what the two
decodes gave before (the landmarks of the whole file, the windows indexing cuts), so answers do not change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import audio_factory
from decode_counter import DecodeCounter
from engine.keys import key_from_index
from engine.library_errors import QueryError

SHORT_SECONDS = 20.0  # decoded whole for its windows (up to audio.WHOLE_DECODE_SECONDS)
MEDIUM_SECONDS = 60.0  # windows by seeking, hashed whole (up to landmark_audio.QUERY_WHOLE_SECONDS)
LONG_SECONDS = 130.0  # windows by seeking, hashed on the spans indexing hashes


@pytest.fixture
def searched_library(indexed_library, model_dir):
    from engine.library import Library

    database, _ = indexed_library
    with Library(database, model_dir, read_only=True) as library:
        yield library


def outside_file(folder: Path, seconds: float, name: str) -> Path:
    samples = audio_factory.chord_progression(key_from_index(4), seconds, seed=int(seconds))
    return audio_factory.write_audio(samples, folder / name)


@pytest.mark.parametrize("seconds", [SHORT_SECONDS, MEDIUM_SECONDS])
def test_a_file_outside_the_library_is_opened_and_decoded_once_per_query(searched_library, tmp_path, monkeypatch, seconds):
    query = outside_file(tmp_path, seconds, "outside.ogg")
    searched_library.similar(str(query), k=3)  # the caches and the model are loaded before counting
    decodes = DecodeCounter(monkeypatch)
    results = searched_library.similar(str(query), k=5)
    assert results
    assert decodes.opened == {str(query): 1}
    assert decodes.whole == {str(query): 1}


def test_a_tempo_filter_reuses_a_short_files_decode(searched_library, tmp_path, monkeypatch):
    from engine.tempo_audio import file_tempo

    query = outside_file(tmp_path, SHORT_SECONDS, "outside.mp3")
    decodes = DecodeCounter(monkeypatch)
    resolved = searched_library.resolve(str(query))
    tempo = searched_library._search.tempo(resolved)
    searched_library.similar(resolved, k=5, bpm_range=50.0)
    assert decodes.opened == {str(query): 1}
    assert tempo == file_tempo(query)  # what `engine bpm` says of the file, decoded on its own


def test_a_resolved_query_searches_again_without_opening_the_file(searched_library, tmp_path, monkeypatch):
    query = outside_file(tmp_path, SHORT_SECONDS, "outside.flac")
    resolved = searched_library.resolve(str(query))
    decodes = DecodeCounter(monkeypatch)
    again = searched_library.similar(resolved, k=6)
    harmonic = searched_library.similar(resolved, k=6, harmonic=True)
    assert decodes.opened == {}
    assert [(hit.track.id, hit.score) for hit in again] == \
        [(hit.track.id, hit.score) for hit in searched_library.similar(str(query), k=6)]
    assert harmonic and all(hit.track.key is not None for hit in harmonic)


def test_a_plain_file_query_reads_no_key_and_a_harmonic_one_reads_it(searched_library, tmp_path, monkeypatch):
    """The key's further windows and their semitone copies cost more than the embedding, so ``similar FILE`` without
    --harmonic skips them; a keyless resolved query asked for harmonic results reads its key then."""
    from engine.analyzer import Analyzer

    query = outside_file(tmp_path, LONG_SECONDS, "outside.mp3")
    keyed = searched_library.resolve(str(query))
    key_reads = []
    reader = Analyzer.track_key_reads
    monkeypatch.setattr(Analyzer, "track_key_reads", lambda self, *args: key_reads.append(1) or reader(self, *args))
    plain = searched_library.similar(str(query), k=5)
    assert key_reads == []
    keyless = searched_library._search.resolve(str(query), with_key=False)
    assert not keyless.key_read and keyless.analysis.key is None
    np.testing.assert_array_equal(keyless.analysis.embedding, keyed.analysis.embedding)
    assert [(hit.track.id, hit.score) for hit in plain] == \
        [(hit.track.id, hit.score) for hit in searched_library.similar(keyed, k=5)]
    harmonic = searched_library.similar(keyless, k=5, harmonic=True)
    assert key_reads == [1]
    assert [hit.track.id for hit in harmonic] == [hit.track.id for hit in searched_library.similar(keyed, k=5, harmonic=True)]
    assert searched_library._search.resolve(keyless).analysis.key == keyed.analysis.key


@pytest.mark.parametrize("seconds", [SHORT_SECONDS, MEDIUM_SECONDS, LONG_SECONDS])
def test_a_keyless_query_asked_for_its_key_reads_only_the_key(searched_library, tmp_path, monkeypatch, seconds):
    """Its key comes from the decode and spans the query kept, through the key's part of the network alone: nothing
    is decoded again (a long file's key also reads the middle span its tempo is taken from, which a keyless query
    never decoded: that one span) and the whole network never runs again; the key is the one a keyed resolve
    gives."""
    from engine.analyzer import Analyzer

    query = outside_file(tmp_path, seconds, "outside.mp3")
    keyed = searched_library.resolve(str(query))
    keyless = searched_library._search.resolve(str(query), with_key=False)
    decodes = DecodeCounter(monkeypatch)
    full_passes = []
    run_windows = Analyzer.run_windows
    monkeypatch.setattr(Analyzer, "run_windows", lambda self, *args: full_passes.append(1) or run_windows(self, *args))
    with_key = searched_library._search.resolve(keyless)
    assert decodes.whole == {} and sum(decodes.spans.values()) == (1 if seconds == LONG_SECONDS else 0)
    assert full_passes == []
    assert with_key.key_read and with_key.spans is None and keyless.analysis.key is None
    assert with_key.analysis.key.name == keyed.analysis.key.name
    assert with_key.analysis.key.confidence == pytest.approx(keyed.analysis.key.confidence, abs=1e-5)
    np.testing.assert_array_equal(with_key.analysis.embedding, keyless.analysis.embedding)
    assert with_key.analysis.tags == keyless.analysis.tags


def test_an_unchanged_library_track_is_answered_from_the_store_without_decoding(searched_library, monkeypatch):
    indexed = searched_library.tracks(limit=1, order_by="path")[0]
    decodes = DecodeCounter(monkeypatch)
    by_path = searched_library.similar(indexed.path, k=5)
    by_id = searched_library.similar(indexed.id, k=5)
    assert decodes.opened == {}
    assert indexed.id not in {hit.track.id for hit in by_path + by_id}
    resolved = searched_library.resolve(indexed.path)
    assert resolved.track_id == indexed.id and resolved.current and resolved.audio is None


@pytest.mark.parametrize("seconds", [SHORT_SECONDS, MEDIUM_SECONDS, LONG_SECONDS])
def test_the_one_decode_gives_what_separate_decodes_for_landmarks_and_embedding_gave(
        searched_library, tmp_path, seconds):
    """The embedding is the windows indexing cuts (as ``analyze_file`` decodes them on their own), and the
    landmarks are those of the whole file up to 2 minutes, else of the spans indexing hashes: so `engine similar`
    answers as it did when the file was decoded once for each."""
    from engine.audio import decode_mono, read_windows
    from engine.landmark_audio import QUERY_WHOLE_SECONDS, track_landmarks
    from engine.landmarks import landmarks

    query = outside_file(tmp_path, seconds, "outside.mp3")
    resolved = searched_library.resolve(str(query))
    spec = searched_library.model_spec()
    rate, window_samples = spec.config.sample_rate, spec.config.window_samples
    assert np.array_equal(resolved.analysis.embedding, searched_library.analyze_file(query).embedding)
    if seconds <= QUERY_WHOLE_SECONDS:
        separately = landmarks(decode_mono(query, rate), rate)
    else:
        separately = track_landmarks(query, read_windows(query, rate, window_samples, 6, check_truncation=False))
    assert np.array_equal(resolved.landmarks.hashes, separately.hashes)
    assert np.array_equal(resolved.landmarks.frames, separately.frames)


def test_a_radio_seed_outside_the_library_is_refused_without_decoding_it(searched_library, tmp_path, monkeypatch):
    from engine.library import QueryError

    query = outside_file(tmp_path, SHORT_SECONDS, "outside.wav")
    decodes = DecodeCounter(monkeypatch)
    with pytest.raises(QueryError, match="the seed must be a track in the library"):
        searched_library.playlist(str(query), 5)
    assert decodes.opened == {}


def test_a_keyless_query_of_a_model_without_a_key_head_stays_keyless(tmp_path):
    """Asked for its key, a query analysed by a model that has no key head gets none (as a keyed resolve does), and a
    harmonic search says why instead of failing inside the network."""
    import torch

    from engine.library import Library
    from engine.model_folder import ModelConfig, build_network, save_model
    from engine.networks import LogFreqCNNConfig, encoder_config_to_dict

    torch.manual_seed(0)
    encoder = LogFreqCNNConfig(channels=(8, 16, 32, 32), embedding_dim=64)
    config = ModelConfig(name="no-key-head", architecture=encoder_config_to_dict(encoder), key_head=None,
                         tag_head={"labels": ["a", "b"], "hidden_dim": 0})
    model = save_model(tmp_path / "model", build_network(config).eval(), config, model_card="test\n")
    query = str(outside_file(tmp_path, SHORT_SECONDS, "outside.mp3"))
    with Library(tmp_path / "library.db", model) as library:
        assert library.resolve(query).analysis.key is None
        keyless = library._search.resolve(query, with_key=False)
        assert library._search.resolve(keyless).analysis.key is None
        with pytest.raises(QueryError, match="key unknown"):
            library.similar(keyless, harmonic=True)
