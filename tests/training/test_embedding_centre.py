"""Centring a statistics embedding on reference tracks: the reference mean moves to zero, keys and tags stay."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import audio_factory
from engine.analyzer import Analyzer
from engine.audio import read_windows
from engine.keys import key_from_index
from engine.model_folder import ModelConfig, build_network, load_model, save_model
from engine.networks import LogFreqCNNConfig, encoder_config_to_dict, statistics_dimension
from training.cli import main as train_main
from training.embedding_centre import CentreError, centre_model


def _statistics_model(folder, pooling: str = "statistics"):
    width = statistics_dimension(LogFreqCNNConfig.channels) if pooling == "statistics" else 512
    architecture = encoder_config_to_dict(LogFreqCNNConfig(embedding_pooling=pooling, key_path="pitch_class",
                                                           embedding_dim=width))
    config = ModelConfig(name="centre", architecture=architecture, key_head={"hidden_dim": 0},
                         tag_head={"labels": ["a", "b", "c"], "hidden_dim": 0})
    network = build_network(config).eval()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in network.tag_head.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    if pooling == "statistics":
        audio = torch.from_numpy(audio_factory.noise(2.7 * 4, seed=5, sample_rate=16000).reshape(4, -1))
        with torch.inference_mode():
            network.encoder.embedding.fit(network.encoder.embedding.raw(network.encoder.block_outputs(audio)))
    return save_model(folder, network, config)


def _reference(tmp_path):
    paths = []
    for index in range(3):
        samples = audio_factory.chord_progression(key_from_index(index * 5), 8.0, seed=index)
        paths.append(audio_factory.write_audio(samples, tmp_path / f"ref{index}.flac"))
    manifest = tmp_path / "reference.jsonl"
    rows = [{"path": path.name, "split": "train"} for path in paths] + [{"path": "missing.flac", "split": "val"}]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return paths, manifest


def _raw_track_vector(analyzer: Analyzer, path) -> np.ndarray:
    audio = read_windows(path, analyzer.sample_rate, analyzer.window_samples, analyzer.max_windows)
    return analyzer.run_windows(audio.windows)["embeddings"].mean(axis=0)


def test_centred_model_puts_the_reference_mean_at_zero_and_keeps_keys_and_tags(tmp_path):
    model = _statistics_model(tmp_path / "model")
    paths, manifest = _reference(tmp_path)
    summary = centre_model(model, manifest, tmp_path / "centred")
    assert summary["tracks"] == 3 and summary["centre_norm"] > 0

    before, after = Analyzer(load_model(model)), Analyzer(load_model(tmp_path / "centred"))
    raw_before = np.stack([_raw_track_vector(before, path) for path in paths])
    raw_after = np.stack([_raw_track_vector(after, path) for path in paths])
    np.testing.assert_allclose(raw_after.mean(axis=0), 0.0, atol=1e-3 * np.abs(raw_before).max())
    np.testing.assert_allclose(raw_after, raw_before - raw_before.mean(axis=0), rtol=1e-3, atol=1e-3)
    query = audio_factory.write_audio(audio_factory.random_melody(6.0, seed=9), tmp_path / "query.ogg")
    first, second = before.analyze_file(query), after.analyze_file(query)
    np.testing.assert_allclose(second.tag_probs, first.tag_probs, atol=1e-4)
    np.testing.assert_allclose(second.key_probs, first.key_probs, atol=1e-6)
    assert not np.allclose(second.embedding, first.embedding, atol=1e-2)
    assert load_model(tmp_path / "centred").config.training["embedding_centre"]["tracks"] == 3
    assert load_model(model).config.training == {}  # the source folder is left as it was


def test_only_a_statistics_embedding_is_centred_and_never_in_place(tmp_path):
    paths, manifest = _reference(tmp_path)
    invariant = _statistics_model(tmp_path / "invariant", pooling="invariant")
    with pytest.raises(CentreError, match="statistics"):
        centre_model(invariant, manifest, tmp_path / "out")
    model = _statistics_model(tmp_path / "model")
    with pytest.raises(CentreError, match="new folder"):
        centre_model(model, manifest, model)


def test_the_command_reports_a_manifest_without_the_split_in_one_line(tmp_path, capsys):
    model = _statistics_model(tmp_path / "model")
    _, manifest = _reference(tmp_path)
    assert train_main(["centre-embedding", "--model", str(model), "--manifest", str(manifest), "--split", "test",
                       "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: no test tracks") and error.count("\n") == 1


def test_a_partial_centre_takes_away_that_share_of_the_reference_mean(tmp_path):
    model = _statistics_model(tmp_path / "model")
    paths, manifest = _reference(tmp_path)
    summary = centre_model(model, manifest, tmp_path / "half", strength=0.5)
    assert summary["strength"] == 0.5
    before, after = Analyzer(load_model(model)), Analyzer(load_model(tmp_path / "half"))
    raw_before = np.stack([_raw_track_vector(before, path) for path in paths])
    raw_after = np.stack([_raw_track_vector(after, path) for path in paths])
    np.testing.assert_allclose(raw_after, raw_before - 0.5 * raw_before.mean(axis=0), rtol=1e-3, atol=1e-3)
    for strength in (0.0, 1.5):
        with pytest.raises(CentreError, match="strength"):
            centre_model(model, manifest, tmp_path / f"bad{strength}", strength=strength)


def test_a_manifest_whose_tracks_cannot_be_read_says_which_and_where_paths_are_read_from(tmp_path, capsys):
    model = _statistics_model(tmp_path / "model")
    manifest = tmp_path / "elsewhere.jsonl"
    manifest.write_text(json.dumps({"path": "data/debian/extracted/a.ogg", "split": "train"}) + "\n")
    assert train_main(["centre-embedding", "--model", str(model), "--manifest", str(manifest),
                       "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert "none of the 1 reference tracks could be decoded" in error and "a.ogg" in error
    last_line = error.splitlines()[-1]
    assert last_line.startswith("error: ") and "relative paths are read from its own folder" in last_line
