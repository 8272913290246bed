"""The key hears more of each track than the embedding (engine.key_audio): windows every half window over a short
track or the tempo's middle span of one up to a minute, the landmark spans and then the middle span's windows of a
longer one, as many at every length; the key a file gets on its own is the key indexing stores; libraries whose
keys came from the analysis windows alone are analysed once more."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import audio_factory
import key_oracle
from engine.audio import decode_mono, read_windows
from engine.keys import Key
from engine.library import Library
from engine.schema import SCHEMA_VERSION
from engine.track_analysis import KEY_WINDOWS_VERSION

RATE = 16_000
WINDOW_SAMPLES = 43_200  # the test model's 2.7 s at 16 kHz
WINDOW_SECONDS = WINDOW_SAMPLES / RATE


def test_key_window_starts_are_at_most_half_a_window_apart_from_first_to_last():
    from engine.key_audio import KEY_HOP_SHARE, hop_starts

    starts = hop_starts(1.0, 12.0, WINDOW_SECONDS)
    assert starts[0] == 1.0 and starts[-1] == pytest.approx(12.0)
    steps = np.diff(starts)
    assert np.allclose(steps, steps[0]) and steps[0] <= KEY_HOP_SHARE * WINDOW_SECONDS
    assert len(starts) == int(np.ceil(11.0 / (KEY_HOP_SHARE * WINDOW_SECONDS))) + 1  # no more than that needs
    assert hop_starts(3.0, 3.0, WINDOW_SECONDS) == [3.0]
    assert hop_starts(3.0, 2.0, WINDOW_SECONDS) == []  # audio shorter than a window past the first start


def test_a_short_track_is_read_whole_at_half_window_hops_from_the_one_decode(tmp_path):
    from engine.key_audio import KEY_EXTRA_WINDOWS, KEY_HOP_SHARE, extra_key_windows, hop_starts

    path = audio_factory.write_audio(audio_factory.chord_progression(Key(2, "major"), 28.0, seed=3), tmp_path / "s.flac")
    audio = read_windows(path, RATE, WINDOW_SAMPLES, 6)
    assert audio.decoded is not None  # up to WHOLE_DECODE_SECONDS the file is decoded once, whole
    extras = extra_key_windows(audio, None, None)
    whole = decode_mono(path, RATE)
    analysed = sorted(audio.start_seconds)
    near = KEY_HOP_SHARE * WINDOW_SECONDS / 2
    expected = [start for start in hop_starts(0.0, whole.size / RATE - WINDOW_SECONDS, WINDOW_SECONDS)
                if all(abs(start - other) >= near for other in analysed)]
    assert 6 < len(extras) == len(expected) <= KEY_EXTRA_WINDOWS
    for extra, start in zip(extras, expected):
        offset = int(round(start * RATE))
        np.testing.assert_array_equal(extra, whole[offset : offset + WINDOW_SAMPLES])
    every = sorted(analysed + expected)  # analysis and extra windows together: the whole piece, from both ends,
    assert every[0] == 0.0 and every[-1] == pytest.approx(whole.size / RATE - WINDOW_SECONDS)
    # a hop left out for a nearby analysis window leaves at most a hop and a quarter window between reads: most of
    # the piece is read twice, and none of it less than once; and no near-copies
    assert np.diff(every).max() <= KEY_HOP_SHARE * WINDOW_SECONDS + near + 1e-9 < WINDOW_SECONDS
    assert np.diff(every).min() >= near - 1e-9


def test_a_long_tracks_key_reads_the_landmark_and_tempo_spans_it_decodes_anyway(tmp_path):
    from engine.key_audio import KEY_EXTRA_WINDOWS, extra_key_windows
    from engine.landmark_audio import landmark_spans
    from engine.tempo_audio import tempo_span

    path = audio_factory.write_audio(audio_factory.chord_progression(Key(7, "minor"), 200.0, seed=4), tmp_path / "l.flac")
    audio = read_windows(path, RATE, WINDOW_SAMPLES, 6)
    assert audio.decoded is None
    spans, middle = landmark_spans(path, audio), tempo_span(path, audio)
    extra_span_starts = [start for start in spans if start not in audio.start_seconds]
    assert extra_span_starts  # 200 s needs landmark spans between the windows
    extras = extra_key_windows(audio, spans, middle)
    assert len(extra_span_starts) < len(extras) <= KEY_EXTRA_WINDOWS  # spans, windows of the middle span
    assert extras.shape[1] == WINDOW_SAMPLES and extras.dtype == np.float32
    span_rows = {spans[start].tobytes() for start in extra_span_starts}
    assert span_rows <= {row.tobytes() for row in extras}  # every span kept: they cover the whole track
    assert not any(np.array_equal(row, window) for row in extras for window in audio.windows)
    others = [row for row in extras if row.tobytes() not in span_rows]
    assert len(others) == KEY_EXTRA_WINDOWS - len(extra_span_starts)  # the room left, from the middle
    assert all(cut_from(row, middle.samples) for row in others)


def test_a_track_up_to_twice_the_middle_span_is_read_at_half_window_hops_over_that_span(tmp_path):
    """45 s: sought windows (longer than a whole decode), no landmark spans between them; the key reads the middle
    30 s the tempo decodes every half window, as densely as a piece decoded whole."""
    from engine.key_audio import KEY_EXTRA_WINDOWS, KEY_HOP_SHARE, extra_key_windows
    from engine.tempo_audio import tempo_span

    path = audio_factory.write_audio(audio_factory.chord_progression(Key(3, "major"), 45.0, seed=9), tmp_path / "m.flac")
    audio = read_windows(path, RATE, WINDOW_SAMPLES, 6)
    assert audio.decoded is None
    middle = tempo_span(path, audio)
    extras = extra_key_windows(audio, {}, middle)
    assert KEY_EXTRA_WINDOWS >= len(extras) > 10
    assert all(cut_from(row, middle.samples) for row in extras)
    analysed = [start for start in audio.start_seconds
                if middle.start_seconds <= start <= middle.start_seconds + 30.0 - WINDOW_SECONDS]
    assert len(extras) + len(analysed) >= (30.0 - WINDOW_SECONDS) / (KEY_HOP_SHARE * WINDOW_SECONDS)


def cut_from(window: np.ndarray, samples: np.ndarray) -> bool:
    """Whether ``window`` is ``samples[offset : offset + len(window)]`` for some offset."""
    heads = np.lib.stride_tricks.sliding_window_view(samples[: samples.size - window.size + 16], 16)
    offsets = np.flatnonzero((heads == window[:16]).all(axis=1))
    return any(np.array_equal(samples[offset : offset + window.size], window) for offset in offsets)


def test_no_more_than_the_cap_of_extra_windows_spread_over_a_very_long_track(tmp_path):
    from engine import key_audio
    from engine.landmark_audio import landmark_spans

    cap = key_audio.KEY_EXTRA_WINDOWS
    path = audio_factory.write_audio(audio_factory.chord_progression(Key(0, "major"), 620.0, seed=6), tmp_path / "x.ogg")
    audio = read_windows(path, RATE, WINDOW_SAMPLES, 6)
    spans = landmark_spans(path, audio)
    assert len(spans) - len(audio.start_seconds) > cap
    extras = key_audio.extra_key_windows(audio, spans, None)
    assert len(extras) == cap
    chosen = [start for start, span in spans.items() if any(np.array_equal(span, row) for row in extras)]
    assert chosen[0] < 0.25 * audio.duration_seconds and chosen[-1] > 0.75 * audio.duration_seconds  # spread


@pytest.mark.parametrize("copy_margin, stop_margin", [(0.0, 2.0), (2.0, 2.0), (None, None), (0.0, 0.0), (2.0, 0.0)])
def test_the_analyzer_averages_the_key_over_the_extra_windows_and_nothing_else(model_dir, monkeypatch, copy_margin,
                                                                               stop_margin):
    """Oracle: the unfolded network on the analysis windows, then on the extra windows when the first read's two
    best keys are within the stop margin, each window read also resampled by torchaudio a semitone up (18 -> 17) and
    down (17 -> 18, cut to a window) when the plain reads' two best keys are within the copy margin: the key is the
    mean softmax over all those reads, each copy's keys moved back by its semitone; the embedding and the tags the
    means over the analysis windows alone. Margins: never / always (2.0 is above any margin), and the product's."""
    import torch

    import engine.analyzer
    from engine.analyzer import Analyzer
    from engine.model_folder import load_model

    if copy_margin is not None:
        monkeypatch.setattr(engine.analyzer, "COPY_MARGIN", copy_margin)
        monkeypatch.setattr(engine.analyzer, "KEY_STOP_MARGIN", stop_margin)

    loaded = load_model(model_dir)
    generator = np.random.default_rng(0)
    windows = [generator.standard_normal((count, WINDOW_SAMPLES)).astype(np.float32) * 0.1 for count in (6, 3)]
    extras = [generator.standard_normal((4, WINDOW_SAMPLES)).astype(np.float32) * 0.1, None]
    analyses = Analyzer(loaded).analyze_tracks(windows, extras)
    network = loaded.network.eval()
    for analysis, own, extra in zip(analyses, windows, extras):
        with torch.no_grad():
            outputs = network(torch.from_numpy(own))
        embedding = outputs["embeddings"].mean(0).numpy()
        expected = key_oracle.key_probabilities(network, own, extra, copy_margin, stop_margin)
        np.testing.assert_allclose(analysis.key_probs, expected, atol=1e-5)
        np.testing.assert_allclose(analysis.embedding, embedding / np.linalg.norm(embedding), atol=1e-5)
        np.testing.assert_allclose(analysis.tag_probs, torch.sigmoid(outputs["tag_logits"]).mean(0).numpy(), atol=1e-5)
        assert analysis.window_count == len(own)


def test_moved_key_probabilities_names_each_key_as_the_untransposed_audio_would():
    from engine.keys import moved_key_probabilities

    probabilities = np.zeros((1, 24))
    probabilities[0, 2] = 0.7  # the audio moved up by 2 semitones sounds in D major ...
    probabilities[0, 12 + 11] = 0.3  # ... or B minor
    moved = moved_key_probabilities(probabilities, 2)
    assert moved[0, 0] == 0.7 and moved[0, 12 + 9] == 0.3  # so the audio before was in C major or A minor
    assert moved.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(moved_key_probabilities(moved, -2), probabilities)


@pytest.mark.parametrize("seconds", [20.0, 75.0, 150.0, 200.0])
def test_a_files_key_on_its_own_is_the_key_indexing_stored(model_dir, tmp_path, seconds):
    """`engine key FILE` (analyze_file) seeks the landmark spans indexing sought, and decodes the tempo's middle
    span as indexing does; `similar FILE` cuts them from the query's one decode (up to 2 min). Both agree
    with the stored key to well within the key's resolution (exactly for a file decoded whole)."""
    from engine.analyzer import Analyzer
    from engine.model_folder import load_model

    folder = tmp_path / "music"
    folder.mkdir()
    path = audio_factory.write_audio(audio_factory.chord_progression(Key(5, "minor"), seconds, seed=8),
                                     folder / "piece.mp3")
    with Library(tmp_path / "lib.db", model_dir) as library:
        library.add_folder(folder)
        assert library.index(workers=0).added == 1
        stored = library.analysis_of(library.store.track_id_for_path(str(path)))
    on_its_own = Analyzer(load_model(model_dir)).analyze_file(path)
    np.testing.assert_allclose(on_its_own.key_probs, stored.key_probs, atol=1e-5 if seconds <= 30 else 1e-3)
    assert int(np.argmax(on_its_own.key_probs)) == int(np.argmax(stored.key_probs))
    copy = tmp_path / "copy.mp3"
    copy.write_bytes(path.read_bytes())
    with Library(tmp_path / "lib.db", model_dir, read_only=True) as library:
        resolved = library.resolve(str(copy))
    assert resolved.audio is not None  # decoded as a file outside the library, not read from the store
    queried = resolved.analysis.key
    assert queried.to_key().index == int(np.argmax(stored.key_probs))
    assert queried.confidence == pytest.approx(float(stored.key_probs.max()), abs=1e-3)


def test_keys_read_from_the_windows_alone_are_read_again_by_the_next_index_run(model_dir, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    for number in range(3):
        audio_factory.write_audio(audio_factory.chord_progression(Key(number, "major"), 12.0, seed=number),
                                  folder / f"{number}.flac")
    database = tmp_path / "lib.db"
    with Library(database, model_dir) as library:
        library.add_folder(folder)
        assert library.index(workers=0).added == 3
    with sqlite3.connect(database) as connection:  # back to the version 6 layout
        connection.execute("ALTER TABLE analyses DROP COLUMN key_version")
        connection.execute("UPDATE settings SET value = '6' WHERE name = 'schema_version'")
    with Library(database, model_dir) as upgraded:
        assert upgraded.track_count() == 3
        with sqlite3.connect(database) as connection:
            assert connection.execute("SELECT DISTINCT key_version FROM analyses").fetchall() == [(1,)]
        report = upgraded.index(workers=0)
        assert (report.analysed, report.updated, report.added) == (3, 3, 0)
        assert upgraded.index(workers=0).unchanged == 3
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT value FROM settings WHERE name = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert connection.execute("SELECT DISTINCT key_version FROM analyses").fetchall() == [(KEY_WINDOWS_VERSION,)]


@pytest.mark.parametrize("seconds", [9.0, 28.0, 75.0])
def test_engine_eval_scores_the_key_indexing_stores(model_dir, tmp_path, seconds):
    """``engine eval`` lays audio out as indexing lays out a file that long (``layout_from_samples``): the same
    key probabilities as ``analyze_file`` on the file, exactly when the file is decoded whole, and up to where a
    sought span's resampler starts for a longer one."""
    from engine.analyzer import Analyzer
    from engine.model_folder import load_model
    from training.evaluation.model_inference import product_key_probabilities

    loaded = load_model(model_dir)
    path = audio_factory.write_audio(audio_factory.chord_progression(Key(10, "major"), seconds, seed=2),
                                     tmp_path / "piece.wav", sample_rate=RATE)
    from_file = Analyzer(loaded).analyze_file(path).key_probs
    from_samples = product_key_probabilities(loaded, decode_mono(path, RATE))
    np.testing.assert_allclose(from_samples, from_file, atol=1e-5 if seconds <= 30 else 1e-3)


@pytest.mark.parametrize("key_path", ["pooled", "pitch_class"])
def test_the_key_logits_alone_are_the_forward_passes_key_logits(key_path):
    """The further key windows run through ``AudioModel.key_logits``, which computes only the blocks the key path
    reads (the first, for a pitch-class key path): the same logits as the whole forward pass, folded or not."""
    import torch

    from engine.analyzer import inference_network
    from engine.model_folder import ModelConfig, build_network
    from engine.networks import LogFreqCNNConfig, encoder_config_to_dict

    torch.manual_seed(3)
    encoder = LogFreqCNNConfig(channels=(8, 16, 32, 32), embedding_dim=64, window_samples=WINDOW_SAMPLES,
                               key_path=key_path, bins_per_octave=24)
    config = ModelConfig(name="t", architecture=encoder_config_to_dict(encoder), key_head={"hidden_dim": 0},
                         tag_head={"labels": ["a", "b"], "hidden_dim": 0})
    network = build_network(config).eval()
    audio = torch.randn(5, WINDOW_SAMPLES) * 0.1
    with torch.inference_mode():
        for model in (network, inference_network(network)):
            later_blocks = []
            hook = model.encoder.blocks[1].register_forward_hook(lambda *_: later_blocks.append(1))
            alone = model.key_logits(audio)
            hook.remove()
            torch.testing.assert_close(alone, model(audio)["key_logits"], atol=1e-5, rtol=1e-5)
            assert bool(later_blocks) == (key_path == "pooled")  # a pitch-class key path reads the first block only
