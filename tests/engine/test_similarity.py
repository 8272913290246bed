"""Similarity search, harmonic filtering, single-file analysis and radio playlists on an indexed library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import audio_factory
import key_oracle
from engine.library import Library, LibraryError, QueryError
from engine.playlist import same_artist
from key_wheel import codes_mix

ORACLE_TOLERANCE = 1e-4  # folded batch norms and chunked inference vs one unfolded batch, float32


@pytest.fixture(scope="module")
def library(indexed_library, model_dir):
    database, _ = indexed_library
    with Library(database, model_dir) as opened:
        yield opened


@pytest.mark.parametrize("track_number, target", [(2, "copy.ogg"), (17, "copy.mp3"), (25, "copy.m4a")])
def test_reencoded_copy_finds_its_original_first(library, generated_library_source, tmp_path, track_number, target):
    original = generated_library_source.valid[track_number]
    copy = audio_factory.reencode(original, tmp_path / target, bitrate="64k")
    results = library.similar(str(copy), k=5)
    assert Path(results[0].track.path) == original
    assert results[0].score > results[1].score


def test_similar_never_returns_the_query_track(library, generated_library_source):
    query = generated_library_source.valid[3]
    own_id = library.store.track_id_for_path(str(query))
    by_path = library.similar(str(query), k=50)
    by_id = library.similar(own_id, k=50)
    assert own_id not in {hit.track.id for hit in by_path}
    assert own_id not in {hit.track.id for hit in by_id}
    assert len(by_id) == library.track_count() - 1
    scores = [hit.score for hit in by_id]
    assert scores == sorted(scores, reverse=True)
    assert [hit.track.id for hit in library.similar(str(own_id), k=5)] == [hit.track.id for hit in by_id[:5]]


def test_harmonic_results_all_mix_with_the_query_key(library):
    query_id = library.tracks(0, 1)[0].id
    query_key = library.track(query_id).key.to_key()
    results = library.similar(query_id, k=5, harmonic=True)
    assert results
    for hit in results:
        assert codes_mix(query_key.index, hit.track.key.to_key().index)


def test_unknown_queries_raise_query_error(library, tmp_path):
    with pytest.raises(QueryError, match="no such file or track id"):
        library.similar(str(tmp_path / "missing.mp3"))
    with pytest.raises(QueryError, match="no such track"):
        library.similar(999_999)
    broken = audio_factory.make_text_as_audio(tmp_path / "text.mp3")
    with pytest.raises(QueryError, match="not an audio file"):
        library.similar(str(broken))


def test_analyze_file_gives_what_the_unfolded_network_gives_on_its_windows(library, model_dir, tmp_path):
    """Oracle: the model folder's own network (batch norms not folded) on the same windows: the normalised mean
    embedding, the mean sigmoid for the tags, and for the key the mean softmax over those windows and windows every
    half window over the file that are not near-copies of them (the file is decoded whole: engine.key_audio), each
    also resampled a semitone up and down when those reads are a close call (``key_oracle``)."""
    import torch

    from engine.audio import decode_mono, read_windows
    from engine.keys import Key
    from engine.model_folder import load_model
    from engine.track_analysis import DEFAULT_MAX_WINDOWS

    path = audio_factory.write_audio(audio_factory.chord_progression(Key(9, "minor"), 8.0, seed=5), tmp_path / "q.flac")
    analysis = library.analyze_file(path)
    loaded = load_model(model_dir)
    rate, size = loaded.config.sample_rate, loaded.config.window_samples
    read = read_windows(path, rate, size, DEFAULT_MAX_WINDOWS)
    whole, starts = decode_mono(path, rate), sorted(read.start_seconds)
    window_seconds, last = size / rate, whole.size / rate - size / rate
    hops = np.linspace(0.0, last, int(np.ceil(last / (window_seconds / 2))) + 1)  # every half window, end to end
    key_starts = [start for start in hops if min(abs(start - other) for other in starts) >= window_seconds / 4]
    assert len(starts) == 2 and len(key_starts) == 3  # 8 s: two analysis windows; hops at the ends are near them
    key_offsets = [int(round(start * rate)) for start in key_starts]
    further = np.stack([whole[offset : offset + size] for offset in key_offsets])
    with torch.no_grad():
        outputs = loaded.network.eval()(torch.from_numpy(read.windows))
    key_probabilities = key_oracle.key_probabilities(loaded.network, read.windows, further)
    mean_embedding = outputs["embeddings"].mean(dim=0).numpy()
    tag_probabilities = torch.sigmoid(outputs["tag_logits"]).mean(dim=0).numpy()
    assert analysis.embedding.dtype == np.float32
    np.testing.assert_allclose(analysis.embedding, mean_embedding / np.linalg.norm(mean_embedding), atol=ORACLE_TOLERANCE)
    assert analysis.key.to_key().index == int(key_probabilities.argmax())
    assert analysis.key.confidence == pytest.approx(float(key_probabilities.max()), abs=ORACLE_TOLERANCE)
    assert analysis.tags == pytest.approx(dict(zip(loaded.config.tag_names, tag_probabilities.tolist())), abs=ORACLE_TOLERANCE)
    assert list(analysis.tags) == ["rock", "jazz", "calm", "electronic"]


def test_playlist_walks_without_repeats_or_artist_runs(library, tmp_path):
    seed = library.tracks(0, 1, filter_text="Alpha")[0]
    tracks = library.playlist(seed.id, 15)
    assert len(tracks) == 15 and tracks[0].id == seed.id
    assert len({track.id for track in tracks}) == 15
    for previous, following in zip(tracks, tracks[1:]):
        assert not same_artist(previous.artist, following.artist), (previous.artist, following.artist)
    written = library.write_m3u8(tracks, tmp_path / "radio.m3u8")
    lines = written.read_bytes().splitlines()
    assert lines[0] == b"#EXTM3U"
    assert len([line for line in lines if line.startswith(b"#EXTINF:")]) == 15
    assert lines[2] == str(Path(seed.path)).encode()
    with pytest.raises(LibraryError, match="the folder .*nowhere does not exist$"):  # not the temporary file's name
        library.write_m3u8(tracks, tmp_path / "nowhere" / "radio.m3u8")


def test_embeddings_for_the_map_are_unit_vectors(library):
    track_ids, matrix = library.embeddings()
    assert len(track_ids) == library.track_count() == len(matrix)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
