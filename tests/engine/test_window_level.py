"""The network reads every window at one loudness: a track played quieter or louder is the same track to it
(embedding, key, tags), its quieter copy finds it first, and silence is not blown up into noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import audio_factory
from engine.keys import Key
from engine.model_folder import load_model

REFERENCE_RMS = 10.0 ** (-15.0 / 20.0)  # the product's level (-15 dBFS), spelled out apart from engine.window_level
GAINS = (10.0 ** (-26.0 / 20.0), 10.0 ** (9.0 / 20.0))  # 26 dB quieter, 9 dB louder (past full scale: floats)


@pytest.fixture(scope="module")
def loaded(model_dir):
    return load_model(model_dir)


def _windows(loaded, seed: int) -> torch.Tensor:
    rate, size = loaded.config.sample_rate, loaded.config.window_samples
    clip = audio_factory.chord_progression(Key(4, "minor"), 3 * size / rate, seed=seed, sample_rate=rate)
    return torch.from_numpy(clip[: 3 * size].reshape(3, size).astype(np.float32))


def test_the_spectrogram_of_a_window_is_that_of_the_window_at_the_reference_level(loaded):
    frontend = loaded.network.encoder.frontend
    windows = _windows(loaded, seed=1) * 0.02
    rms = windows.double().pow(2).mean(dim=1, keepdim=True).sqrt()
    at_reference = (windows.double() * (REFERENCE_RMS / rms)).float()
    with torch.no_grad():
        levelled = frontend(windows)
        frontend.levels_input = False
        try:
            oracle = frontend(at_reference)
        finally:
            frontend.levels_input = True
    torch.testing.assert_close(levelled, oracle, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("gain", GAINS)
def test_the_network_gives_the_same_embedding_key_and_tags_at_any_playback_level(loaded, gain):
    windows = _windows(loaded, seed=2)
    with torch.no_grad():
        plain, scaled = loaded.network(windows), loaded.network(windows * gain)
    for name in plain:
        torch.testing.assert_close(scaled[name], plain[name], atol=2e-4, rtol=1e-3)


def test_a_file_played_20_db_quieter_is_analysed_as_the_same_track(model_dir, tmp_path):
    """The product's path end to end (decode, windows, key windows, batching): the measurement that found the level
    dependence had a copy 20 dB quieter rank its own original 17th of 25."""
    from engine.library import Library

    samples = audio_factory.chord_progression(Key(7, "major"), 20.0, seed=4)
    loud = audio_factory.write_audio(0.5 * samples, tmp_path / "loud.flac")
    quiet = audio_factory.write_audio(0.05 * samples, tmp_path / "quiet.flac")
    with Library(tmp_path / "library.db", model_dir) as library:
        a, b = library.analyze_file(loud), library.analyze_file(quiet)
    assert float(np.dot(a.embedding, b.embedding)) > 0.999
    assert a.key.to_key() == b.key.to_key() and a.key.confidence == pytest.approx(b.key.confidence, abs=0.01)
    assert b.tags == pytest.approx(a.tags, abs=0.01)


def test_silence_stays_silent_and_a_noise_floor_gets_at_most_40_db(loaded):
    from engine.window_level import at_reference_level

    size = loaded.config.window_samples
    silence = torch.zeros(1, size)
    floor = torch.from_numpy(audio_factory.noise(size / loaded.config.sample_rate, seed=3, amplitude=1e-4)[None, :size])
    assert torch.equal(at_reference_level(silence), silence)
    gain = at_reference_level(floor).pow(2).mean().sqrt() / floor.pow(2).mean().sqrt()
    assert float(gain) == pytest.approx(100.0, rel=1e-4)  # 40 dB, not the ~70 dB that would bring it to -15 dBFS


def test_a_track_of_silence_or_hiss_has_no_tags_and_no_key(model_dir, tmp_path, capsys):
    """The tag head read on near-zero input called digital silence "ensemble", and `key --write` wrote a key (Db
    major at 0.06) into a silent file; a track whose every window is below -70 dBFS has nothing to tag and is in no
    key, indexed or not, while music at -40 dBFS keeps its tags and key."""
    import json

    from engine import cli
    from engine.library import Library

    folder = tmp_path / "music"
    folder.mkdir()
    hiss = audio_factory.write_audio(audio_factory.noise(20.0, seed=1, amplitude=10 ** (-85 / 20)), folder / "h.flac")
    quiet_music = audio_factory.write_audio(0.01 * audio_factory.chord_progression(Key(2, "major"), 20.0, seed=2),
                                            folder / "q.flac")
    database = tmp_path / "library.db"
    with Library(database, model_dir) as library:
        silent, music = library.analyze_file(hiss), library.analyze_file(quiet_music)
        assert library.resolve(str(hiss)).analysis.key is None  # a query's key read later, too
    assert set(silent.tags.values()) == {0.0} and silent.key is None
    assert max(music.tags.values()) > 0.0 and music.key is not None
    for index_first in (False, True):
        if index_first:
            assert cli.main(["--db", str(database), "--model", str(model_dir), "index", str(folder)]) == 0
        capsys.readouterr()
        code = cli.main(["--db", str(database), "--model", str(model_dir), "--json", "key", "--write", str(hiss)])
        row = json.loads(capsys.readouterr().out)[0]
        assert code == 1 and row["error"] == "no key: the audio is silent" and row["written"] is False
    with Library(database, model_dir) as library:
        rows = {Path(track.path).name: track for track in library.tracks()}
    assert rows["h.flac"].key is None and rows["q.flac"].key is not None
