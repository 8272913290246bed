"""Model folders written before the current weight layout still load and compute what they computed: the shipped
default gives v1.3's embedding and tag outputs recorded before the network's layers were renamed, less the centre
folded into it since, and the key outputs its own latest key stage (v1.3.3) recorded; and each old
layout's names are converted once, at load, into the current ones (engine.weight_layouts)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import audio_factory
from engine.keys import Key
from engine.model_folder import (
    CONFIG_FILE, DEFAULT_MODEL_DIR, FORMAT_VERSION, WEIGHTS_FILE, ModelConfig, build_network, default_model_available,
    load_model, save_model,
)
from engine.networks import (
    EmbeddingPooling, KeyPath, LogFreqCNN, LogFreqCNNConfig, encoder_config_to_dict, statistics_dimension,
)
from engine.weight_layouts import CURRENT_LAYOUT, OLDEST_LAYOUT, WeightLayoutError, carry_over, convert_weights

# v1.3's outputs on a 6 s D major chord progression (two windows: its first and its last 2.7 s), computed with
# engine/networks.py as it was before the layers were renamed (commit 5e303ed).
RECORDED_EMBEDDING_HEAD = [-0.4183, -0.00483, 0.23804, 0.26312, -0.14067, -0.21403, -0.07091, -0.39632]
RECORDED_EMBEDDING_TAIL = [1.5452, 1.74543, 0.63865, -0.51746, 2.27703, 2.43004, -0.2885, 0.80107]
# The shipped default since 2026-12-03 is v1.3 with the training soundtracks' mean track vector folded into its
# statistics (`engine train centre-embedding`): every window embedding is v1.3's minus this centre, whose first and
# last 8 values were read from the two weight files ((new mean - old mean) / std); keys and tags are v1.3's.
FOLDED_CENTRE_HEAD = [-1.08641, -1.54562, 1.5925, 1.51772, -1.74728, -1.42007, -1.5039, -1.1281]
FOLDED_CENTRE_TAIL = [-0.17372, -0.47061, -1.21972, 0.2666, 0.04734, 0.62278, -1.16255, -1.70492]
SHIPPED_EMBEDDING_NORM = 50.3723  # of the centred embedding
# v1.3.2 and then v1.3.3 trained the key path and key head further (everything else frozen): v1.3.3's key outputs
# on the same windows, recorded 2026-12-05 (v1.3's were 0.195 C, 0.089 D, 0.283 G major; v1.3.2's 0.061, 0.261, 0.545).
RECORDED_KEY_PROBABILITIES = [
    0.042, 0.0, 0.32125, 1e-05, 0.0, 0.00045, 0.0, 0.58168, 0.0, 0.00051, 4e-05, 0.0,
    0.00109, 0.0, 0.00545, 0.0, 0.01902, 0.0, 0.00133, 0.00145, 0.0, 0.00321, 0.0, 0.0225,
]
RECORDED_TAG_PROBABILITIES = [0.05889, 0.07154, 0.18051, 0.51212, 0.18233, 0.15901, 0.23453, 0.7402, 0.08531, 0.31613, 0.11069]
RECORDED_ROUNDING = 1e-5  # the values above are rounded to 5 decimals (the norm to 4)
FLOAT_TOLERANCE = 2e-4  # float32 rounding differences between builds of the same computation


@pytest.mark.skipif(not default_model_available(), reason="no shipped default model in this checkout")
def test_the_shipped_default_gives_its_recorded_outputs():
    loaded = load_model(DEFAULT_MODEL_DIR)
    loaded.network.encoder.frontend.levels_input = False  # recorded before every window was read at one loudness
    # (engine.window_level, tests/engine/test_window_level.py): these pin the weights and their layouts
    rate, window = loaded.config.sample_rate, loaded.config.window_samples
    clip = audio_factory.chord_progression(Key(2, "major"), 6.0, seed=7, sample_rate=rate).astype(np.float32)
    windows = torch.from_numpy(np.stack([clip[:window], clip[-window:]]))
    with torch.inference_mode():
        outputs = loaded.network(windows)
    embedding = outputs["embeddings"].mean(dim=0)
    tolerance = RECORDED_ROUNDING + FLOAT_TOLERANCE
    centre_rounding = RECORDED_ROUNDING
    np.testing.assert_allclose(embedding[:8].numpy(), np.subtract(RECORDED_EMBEDDING_HEAD, FOLDED_CENTRE_HEAD),
                               atol=tolerance + centre_rounding)
    np.testing.assert_allclose(embedding[-8:].numpy(), np.subtract(RECORDED_EMBEDDING_TAIL, FOLDED_CENTRE_TAIL),
                               atol=tolerance + centre_rounding)
    assert float(embedding.norm()) == pytest.approx(SHIPPED_EMBEDDING_NORM, abs=1e-3)
    key_probabilities = torch.softmax(outputs["key_logits"], dim=-1).mean(dim=0).numpy()
    np.testing.assert_allclose(key_probabilities, RECORDED_KEY_PROBABILITIES, atol=tolerance)
    tag_probabilities = torch.sigmoid(outputs["tag_logits"]).mean(dim=0).numpy()
    np.testing.assert_allclose(tag_probabilities, RECORDED_TAG_PROBABILITIES, atol=tolerance)


SMALL = {"channels": (8, 16, 32, 32), "key_path_channels": 4}
# Each encoder the kept models and recipes use: (embedding pooling, key path, its layout-1 names → current ones).
LAYOUT_1_ENCODERS = [
    ("pitch", "pooled", {"projection.": "embedding."}),  # v1, and the SSL stage of today's recipe
    ("invariant", "pooled", {"invariant_projection.": "embedding.", "projection.": "key_path."}),  # the trunk
    ("invariant", "pitch_class", {"invariant_projection.": "embedding.", "key_path.": "key_path."}),  # key-path stage
    ("statistics", "pitch_class", {"block_statistics.": "embedding.", "key_path.": "key_path."}),  # v1.3, v1.4
]


def _encoder(pooling: str, key_path: str, seed: int = 0) -> LogFreqCNN:
    torch.manual_seed(seed)
    channels = SMALL["channels"]
    width = statistics_dimension(channels) if pooling == "statistics" else 16
    config = LogFreqCNNConfig(embedding_pooling=pooling, key_path=key_path, embedding_dim=width, **SMALL)
    encoder = LogFreqCNN(config)
    saved = encoder.state_dict()
    for buffer_name, buffer in encoder.named_buffers():  # batch-norm statistics and moments other than 0 and 1
        if buffer_name in saved and buffer.dtype.is_floating_point:
            buffer.copy_(torch.rand_like(buffer) + 0.5)
    return encoder.eval()


def _layout_1(state: dict[str, torch.Tensor], names: dict[str, str]) -> dict[str, torch.Tensor]:
    """``state`` under the names layout 1 gave its paths (the table above read backwards)."""
    old_by_new = {new: old for old, new in names.items()}
    renamed = {}
    for name, tensor in state.items():
        new = next((new for new in old_by_new if name.startswith(new)), None)
        renamed[name if new is None else old_by_new[new] + name[len(new):]] = tensor
    return renamed


@pytest.mark.parametrize("pooling,key_path,names", LAYOUT_1_ENCODERS)
def test_layout_1_weights_are_renamed_to_the_paths_they_feed_and_compute_the_same(pooling, key_path, names):
    encoder = _encoder(pooling, key_path)
    architecture = encoder_config_to_dict(encoder.config)
    old_state = _layout_1(encoder.state_dict(), names)
    if (pooling, key_path) == ("invariant", "pitch_class"):  # layout 1 kept the pitch-position MLP here, unused
        old_state.update({f"projection.{name}": tensor for name, tensor in
                          _encoder("invariant", "pooled", seed=1).key_path.state_dict().items()})
    converted = convert_weights(old_state, architecture, OLDEST_LAYOUT, prefix="")
    assert set(converted) == set(encoder.state_dict())
    rebuilt = LogFreqCNN(encoder.config)
    rebuilt.load_state_dict(converted, strict=True)
    audio = torch.randn(2, encoder.config.window_samples) * 0.1
    with torch.no_grad():
        for expected, got in zip(encoder.encode(audio), rebuilt.eval().encode(audio)):
            torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_a_format_1_model_folder_loads_into_the_current_layout_and_is_saved_in_it(tmp_path):
    encoder = _encoder("invariant", "pooled")
    config = ModelConfig(name="old", architecture=encoder_config_to_dict(encoder.config), key_head={"hidden_dim": 0},
                         tag_head={"labels": ["calm", "rock"], "hidden_dim": 0})
    network = build_network(config)
    network.encoder.load_state_dict(encoder.state_dict())
    network.eval()
    folder = save_model(tmp_path / "current", network, config)
    old_names = {f"encoder.{old}": f"encoder.{new}" for old, new in LAYOUT_1_ENCODERS[1][2].items()}
    save_file(_layout_1(load_file(str(folder / WEIGHTS_FILE)), old_names), str(folder / WEIGHTS_FILE))
    written = json.loads((folder / CONFIG_FILE).read_text())
    (folder / CONFIG_FILE).write_text(json.dumps({**written, "format_version": 1}))

    loaded = load_model(folder)
    assert loaded.config.format_version == FORMAT_VERSION == CURRENT_LAYOUT
    audio = torch.randn(2, encoder.config.window_samples) * 0.1
    with torch.no_grad():
        for name, values in network(audio).items():
            torch.testing.assert_close(loaded.network(audio)[name], values, rtol=0, atol=0)
    again = load_model(save_model(tmp_path / "again", loaded.network, loaded.config))
    assert json.loads((again.folder / CONFIG_FILE).read_text())["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize("layout", [0, CURRENT_LAYOUT + 1])
def test_weights_of_a_layout_the_engine_does_not_know_are_refused(layout):
    with pytest.raises(WeightLayoutError, match=f"layout {layout}"):
        convert_weights({}, encoder_config_to_dict(LogFreqCNNConfig()), layout)


def test_a_finetune_from_a_pitch_model_to_an_invariant_one_moves_the_pitch_position_path_to_the_key_path():
    pitch, invariant = _encoder("pitch", "pooled"), _encoder("invariant", "pooled", seed=1)
    state = {f"encoder.{name}": tensor for name, tensor in pitch.state_dict().items()}
    moved = carry_over(state, encoder_config_to_dict(pitch.config), encoder_config_to_dict(invariant.config))
    assert {name for name in moved if name.startswith("encoder.key_path.")} == {
        f"encoder.key_path.{name}" for name in pitch.embedding.state_dict()}
    assert not any(name.startswith("encoder.embedding.") for name in moved)  # the invariant path starts fresh
    torch.testing.assert_close(moved["encoder.key_path.0.weight"], pitch.embedding[0].weight)


def test_options_are_typed_and_an_unknown_one_is_refused_with_the_choices():
    config = LogFreqCNNConfig(embedding_pooling="statistics", key_path="pitch_class", embedding_dim=1080)
    assert config.embedding_pooling is EmbeddingPooling.STATISTICS and config.key_path is KeyPath.PITCH_CLASS
    assert encoder_config_to_dict(config)["embedding_pooling"] == "statistics"
    assert type(encoder_config_to_dict(config)["key_path"]) is str
    with pytest.raises(ValueError, match=r"key_path must be one of \('pooled', 'pitch_class'\)"):
        LogFreqCNNConfig(key_path="chromatic")
