"""A training configuration is resolved once, before the trainer: the starting model's encoder with the finetune's
paths, its weights renamed for that encoder, the augmentation a key head needs; and a run checkpoint saved
before the weight layout changed is converted when it is read."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from engine.model_folder import load_model
from engine.networks import (
    EmbeddingPooling, KeyPath, LogFreqCNN, LogFreqCNNConfig, encoder_config_to_dict, statistics_dimension,
)
from engine.run_folder import CHECKPOINT_WEIGHTS_FILE, checkpoint_folder, summary_path
from training.checkpoints import load_weights
from training.config import TrainConfig
from training.resolve import Mode, resolve_training
from training.trainer import TrainingError

STARTING_TAGS = ["rock", "jazz", "calm", "electronic"]  # build_test_model's tag head (tests/conftest.py)


@pytest.fixture(scope="module")
def starting_model(test_model_builder, tmp_path_factory):
    return test_model_builder(tmp_path_factory.mktemp("start") / "model")


def test_a_finetune_takes_the_starting_models_encoder_with_its_own_paths(starting_model):
    config = TrainConfig()
    config.finetune.init_from = str(starting_model)
    config.finetune.embedding_pooling, config.finetune.key_path = "statistics", "pitch_class"
    resolved = resolve_training(config, "finetune")

    start = load_model(starting_model)
    channels = tuple(start.config.architecture["channels"])
    assert resolved.mode is Mode.FINETUNE and resolved.finetune is resolved.config.finetune
    assert isinstance(resolved.encoder, LogFreqCNNConfig) and resolved.encoder.channels == channels
    assert resolved.encoder.embedding_pooling is EmbeddingPooling.STATISTICS
    assert resolved.encoder.key_path is KeyPath.PITCH_CLASS
    assert resolved.encoder.embedding_dim == statistics_dimension(channels)
    assert resolved.architecture == encoder_config_to_dict(resolved.encoder)
    assert resolved.config.augment.pitch_integer  # the key head follows whole-semitone shifts only
    assert resolved.start.tag_names == STARTING_TAGS
    weights = resolved.start.weights_for(resolved.architecture)
    torch.testing.assert_close(weights["encoder.blocks.0.0.weight"], start.network.encoder.blocks[0][0].weight)
    # The starting model's embedding was its pitch-position MLP: a statistics encoder has no place for it.
    assert not any(name.startswith(("encoder.embedding.", "encoder.key_path.")) for name in weights)
    # The caller's config is left as it was.
    assert config.encoder == TrainConfig().encoder and not config.augment.pitch_integer


def test_pretraining_resolves_to_the_configured_encoder_without_a_start():
    config = TrainConfig()
    config.encoder = {"type": "logfreqcnn", "embedding_pooling": "invariant"}
    resolved = resolve_training(config)
    assert resolved.mode is Mode.PRETRAIN and resolved.finetune is None and resolved.start is None
    assert resolved.encoder == LogFreqCNNConfig(embedding_pooling="invariant")
    assert resolved.config.encoder == config.encoder  # as written: a run folder's summary records it so
    assert not resolved.config.augment.pitch_integer


def test_a_bad_encoder_or_mode_is_refused_before_any_training():
    config = TrainConfig()
    config.encoder = {"type": "logfreqcnn", "embedding_pooling": "sideways"}
    with pytest.raises(TrainingError, match=r"\[encoder\]: embedding_pooling must be one of"):
        resolve_training(config)
    with pytest.raises(TrainingError, match="mode must be"):
        resolve_training(TrainConfig(), "evaluate")


def test_a_run_checkpoint_saved_in_layout_1_is_read_in_the_current_layout(tmp_path):
    torch.manual_seed(0)
    encoder = LogFreqCNN(LogFreqCNNConfig(channels=(8, 16, 32, 32), embedding_dim=16, embedding_pooling="invariant"))
    architecture = encoder_config_to_dict(encoder.config)
    summary_path(tmp_path).write_text(json.dumps({"mode": "pretrain", "architecture": architecture}))
    folder = checkpoint_folder(tmp_path, 1)
    folder.mkdir(parents=True)
    layout_1 = {"projection.": "key_path.", "invariant_projection.": "embedding."}  # old name → current name
    old_state = {}
    for name, tensor in encoder.state_dict().items():
        old = next((old for old, new in layout_1.items() if name.startswith(new)), None)
        old_name = name if old is None else old + name[len(layout_1[old]):]
        old_state[f"encoder.{old_name}"] = tensor.contiguous()
    save_file(old_state, str(folder / CHECKPOINT_WEIGHTS_FILE))  # as checkpoints were written: no layout metadata

    weights = load_weights(folder)
    assert set(weights) == {f"encoder.{name}" for name in encoder.state_dict()}
    torch.testing.assert_close(weights["encoder.key_path.0.weight"], encoder.key_path[0].weight)


def _assert_same_key_logits(weights: dict, architecture: dict, start_folder) -> None:
    """The network the resolved start weights build gives the starting model's key logits on the same audio."""
    from engine.networks import AudioModel, build_encoder, build_key_head

    encoder = build_encoder(architecture)
    resolved_network = AudioModel(encoder, build_key_head(encoder))
    resolved_network.load_state_dict({name: value for name, value in weights.items()
                                      if name.startswith(("encoder.", "key_head."))}, strict=True)
    audio = torch.randn(3, encoder.config.window_samples) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(resolved_network.eval().key_logits(audio),
                                   load_model(start_folder).network.key_logits(audio))


def test_a_finetune_that_adds_a_bass_profile_starts_from_the_starting_models_exact_key_outputs(tmp_path):
    """``finetune.key_bass_octaves``: the key-path norm and the key head's template are widened with room for the
    bass profile (zero template columns), so the first step starts where the starting model's key stood."""
    from engine.model_folder import ModelConfig, build_network, save_model

    torch.manual_seed(0)
    architecture = encoder_config_to_dict(LogFreqCNNConfig(channels=(8, 16, 32, 32), embedding_dim=64,
                                                           key_path="pitch_class"))
    network = build_network(ModelConfig(name="plain-key", architecture=architecture, key_head={"hidden_dim": 0}))
    for module in network.modules():  # statistics a trained model has, so a plain standardisation would differ
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    start_folder = save_model(tmp_path / "plain", network.eval(),
                              ModelConfig(name="plain-key", architecture=architecture, key_head={"hidden_dim": 0}))
    config = TrainConfig()
    config.finetune.init_from, config.finetune.key_bass_octaves = str(start_folder), 2
    resolved = resolve_training(config, "finetune")
    assert resolved.encoder.key_bass_octaves == 2 and resolved.architecture["key_bass_octaves"] == 2

    weights = resolved.start.weights_for(resolved.architecture)
    _assert_same_key_logits(weights, resolved.architecture, start_folder)
    assert weights["key_head.template.layers.0.weight"].shape[1] == 2 * network.key_head.template.layers[0].weight.shape[1]


def test_a_bass_profile_below_minus_one_octaves_is_refused():
    from training.config import ConfigError, validate

    config = TrainConfig()
    config.finetune.key_bass_octaves = -2
    with pytest.raises(ConfigError, match="key_bass_octaves"):
        validate(config)


def test_a_finetune_that_takes_the_bass_profile_away_keeps_the_all_octave_half(tmp_path):
    """``finetune.key_bass_octaves = 0`` from a model with a bass profile: the key-path norm and the template keep
    their all-octave half, so where the bass columns of the template are zero the key is what it was."""
    from engine.model_folder import ModelConfig, build_network, save_model

    torch.manual_seed(0)
    architecture = encoder_config_to_dict(LogFreqCNNConfig(channels=(8, 16, 32, 32), embedding_dim=64,
                                                           key_path="pitch_class", key_bass_octaves=2))
    config = ModelConfig(name="bass-key", architecture=architecture, key_head={"hidden_dim": 0})
    network = build_network(config)
    template = network.key_head.template.layers[0].weight
    with torch.no_grad():
        template[:, template.shape[1] // 2 :] = 0.0  # the bass profile does not move the key
    start_folder = save_model(tmp_path / "bass", network.eval(), config)
    train_config = TrainConfig()
    train_config.finetune.init_from, train_config.finetune.key_bass_octaves = str(start_folder), 0
    resolved = resolve_training(train_config, "finetune")
    assert resolved.architecture["key_bass_octaves"] == 0

    _assert_same_key_logits(resolved.start.weights_for(resolved.architecture), resolved.architecture, start_folder)
