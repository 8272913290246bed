"""End to end on synthesised chords: pretrain → probe → export → engine loads it; resume; finetune; CLI."""

from __future__ import annotations

import json

import pytest
import torch

from training_configs import small_config
from engine.model_folder import load_model
from engine.networks import PitchInvariantPath
from engine.run_folder import read_metrics
from training import cli
from training.checkpoints import load_encoder, load_weights, resolve_checkpoint
from training.export import export_model
from training.probes import ProbeSettings, run_probes, track_chunks
from training.resolve import resolve_training
from training.trainer import Trainer, TrainingError

CHANCE = 0.25  # four keys
FIRST_BATCH_LOSS_DROP = 0.1  # measured after 8 steps: 2.69 -> 2.44; without optimizer steps 0


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory, chord_manifest, shared_cache):
    run_dir = tmp_path_factory.mktemp("run")
    config = small_config(chord_manifest, shared_cache, run_dir, run={"steps": 8, "checkpoint_every": 4})
    losses = Trainer(resolve_training(config), fresh=True).fit()
    return run_dir, losses


def test_pretraining_writes_metrics_and_key_probe_is_far_above_chance(pretrained_run, chord_manifest, shared_cache, tmp_path):
    run_dir, losses = pretrained_run
    assert len(losses) == 8 and all(torch.isfinite(torch.tensor(losses)))
    records = read_metrics(run_dir)
    assert [r["step"] for r in records] == list(range(1, 9))
    assert {"loss", "lr", "samples_per_s", "time_augment_s", "time_forward_s", "time_backward_s"} <= set(records[0])
    assert (run_dir / "tensorboard").is_dir()
    report = run_probes(run_dir, chord_manifest, shared_cache, tmp_path / "probe", ProbeSettings(max_chunks=3, epochs=150))
    key = report["tasks"]["key"]["metrics"]
    assert key["tracks"] == 8 and key["accuracy"] >= 3 * CHANCE and key["mirex"] >= key["accuracy"]
    assert report["tasks"]["tags"]["metrics"]["roc_auc"] > 0.8


def test_pretraining_steps_every_weight_and_lowers_the_loss_of_its_untrained_twin(pretrained_run, chord_manifest,
                                                                                 shared_cache, tmp_path):
    """The probe above passes for the untrained model too (measured: key 0.875, tag ROC-AUC 1.0 for both), and batch-
    norm statistics change without any optimizer step; so training is judged against an untrained twin of the
    same seed: every weight (not buffer) moved, and the loss on the run's first batch (batch statistics) fell."""
    run_dir, _ = pretrained_run
    twin = Trainer(resolve_training(small_config(chord_manifest, shared_cache, tmp_path / "twin", run={"steps": 8})), fresh=True)
    initial = {name: parameter.detach().clone() for name, parameter in twin.learner.named_parameters()}
    trained = load_weights(resolve_checkpoint(run_dir))
    assert [name for name, value in initial.items() if torch.equal(value, trained[name])] == []
    batch = twin.composer.next_batch()  # the same seed: the first batch the run trained on
    audio, semitones = twin.augmenter(batch.audio, None)  # its labels name no key field: every clip may shift
    twin.learner.train()
    with torch.no_grad():
        untrained_loss, _ = twin.learner(audio, batch.labels, batch.key_index, semitones)
        twin.learner.load_state_dict(trained)
        trained_loss, _ = twin.learner(audio, batch.labels, batch.key_index, semitones)
    assert float(trained_loss) < float(untrained_loss) - FIRST_BATCH_LOSS_DROP, (float(untrained_loss), float(trained_loss))


def test_resumed_run_gives_the_same_losses_as_uninterrupted(pretrained_run, chord_manifest, shared_cache, tmp_path):
    _, uninterrupted = pretrained_run
    config = small_config(chord_manifest, shared_cache, tmp_path / "resumed", run={"steps": 4, "checkpoint_every": 4})
    first = Trainer(resolve_training(config), fresh=True).fit()
    config.run.steps = 8
    trainer = Trainer(resolve_training(config))
    assert trainer.step == 4
    second = trainer.fit()
    assert first + second == pytest.approx(uninterrupted, rel=1e-5)
    assert [r["step"] for r in read_metrics(tmp_path / "resumed")] == list(range(1, 9))
    state = torch.load(tmp_path / "resumed" / "checkpoints" / "step_0000008" / "state.pt", weights_only=True)
    assert state["step"] == 8


def test_export_loads_in_the_engine_with_the_same_embeddings(pretrained_run, chord_manifest, shared_cache, tmp_path):
    run_dir, _ = pretrained_run
    probe_dir = tmp_path / "probe"
    run_probes(run_dir, chord_manifest, shared_cache, probe_dir, ProbeSettings(max_chunks=2, epochs=20))
    folder = export_model(run_dir, tmp_path / "model", probe_dir, name="chords")
    loaded = load_model(folder)
    encoder, _, _ = load_encoder(run_dir)
    audio = torch.randn(3, loaded.config.window_samples) * 0.1
    with torch.no_grad():
        outputs = loaded.network(audio)
        torch.testing.assert_close(outputs["embeddings"], encoder(audio))
    assert outputs["key_logits"].shape == (3, 24) and outputs["tag_logits"].shape == (3, 4)
    saved = json.loads((folder / "config.json").read_text())
    assert saved["heads"]["key"]["metrics"]["tracks"] == 8 and saved["training"]["steps"] == 8
    assert (folder / "MODEL_CARD.md").read_text().startswith("# chords")


def test_finetune_from_a_run_trains_heads_and_exports_them(pretrained_run, chord_manifest, shared_cache, tmp_path):
    run_dir, _ = pretrained_run
    config = small_config(chord_manifest, shared_cache, tmp_path / "ft", run={"steps": 2})
    config.finetune.init_from = str(run_dir)
    config.finetune.manifest = str(chord_manifest)
    config.finetune.contrastive_weight = 0.5
    trainer = Trainer(resolve_training(config, "finetune"), fresh=True)
    assert trainer.augmenter.config.pitch_integer
    losses = trainer.fit()
    assert len(losses) == 2
    assert {"loss_key", "loss_tags", "loss_contrastive"} <= set(read_metrics(tmp_path / "ft")[-1])
    loaded = load_model(export_model(tmp_path / "ft", tmp_path / "ft_model"))
    assert loaded.config.key_head["labels"][0] == "C major" and len(loaded.config.tag_names) == 4


def test_divergence_stops_with_a_clear_message(chord_manifest, shared_cache, tmp_path):
    config = small_config(chord_manifest, shared_cache, tmp_path / "nan", run={"steps": 5})
    config.optim.lr = float("inf")
    with pytest.raises(TrainingError, match="training diverged"):
        Trainer(resolve_training(config), fresh=True).fit()


def test_cli_exit_codes_and_probe_json(pretrained_run, chord_manifest, shared_cache, tmp_path, capsys):
    run_dir, _ = pretrained_run
    assert cli.main(["pretrain"]) == cli.EXIT_USAGE
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\nbatch_sizee = 3\n")
    assert cli.main(["pretrain", "--config", str(bad)]) == cli.EXIT_BAD_INPUT
    assert "batch_sizee" in capsys.readouterr().err
    code = cli.main(["probe", "--checkpoint", str(run_dir), "--manifest", str(chord_manifest), "--out", str(tmp_path / "p"),
                     "--cache-dir", str(shared_cache), "--tasks", "key", "--max-chunks", "1", "--epochs", "10", "--json"])
    assert code == cli.EXIT_OK
    assert set(json.loads(capsys.readouterr().out)["tasks"]) == {"key"}
    assert cli.main(["export", str(tmp_path / "missing"), "--out", str(tmp_path / "m")]) == cli.EXIT_BAD_INPUT


def test_track_chunks_cover_the_track_evenly():
    samples = (torch.arange(16000 * 10) % 30000).to(torch.int16).numpy()
    chunks = track_chunks(samples, 16000, 16000, max_chunks=4)
    assert chunks.shape == (4, 16000) and chunks.dtype.name == "float32"


def test_finetune_to_an_invariant_embedding_keeps_the_key_path_and_exports(pretrained_run, chord_manifest, shared_cache, tmp_path):
    run_dir, _ = pretrained_run
    config = small_config(chord_manifest, shared_cache, tmp_path / "inv", run={"steps": 2})
    config.finetune.init_from = str(run_dir)
    config.finetune.manifest = str(chord_manifest)
    config.finetune.unlabeled_manifest = str(chord_manifest)
    config.finetune.contrastive_weight = 1.0
    config.finetune.embedding_pooling = "invariant"
    trainer = Trainer(resolve_training(config, "finetune"), fresh=True)
    start, _, _ = load_encoder(run_dir)
    # The pitch-position path (the pretrained embedding) starts from the pretrained weights and feeds the key head
    # now; the invariant embedding path is new.
    torch.testing.assert_close(trainer.learner.encoder.key_path[0].weight, start.embedding[0].weight)
    assert isinstance(trainer.learner.encoder.embedding, PitchInvariantPath)
    assert trainer.fit()
    folder = export_model(tmp_path / "inv", tmp_path / "inv_model")
    loaded = load_model(folder)
    assert loaded.config.architecture["embedding_pooling"] == "invariant"
    audio = torch.randn(2, loaded.config.window_samples) * 0.1
    with torch.no_grad():
        outputs = loaded.network(audio)
        embedding, key_features = loaded.network.encoder.encode(audio)
        torch.testing.assert_close(outputs["key_logits"], loaded.network.key_head(key_features))
    torch.testing.assert_close(outputs["embeddings"], embedding)
    assert not torch.allclose(embedding, key_features)
    report = run_probes(tmp_path / "inv", chord_manifest, shared_cache, tmp_path / "probe", ProbeSettings(max_chunks=2, epochs=30))
    assert report["tasks"]["key"]["metrics"]["tracks"] == 8


def test_a_pitch_class_key_path_is_trained_onto_a_frozen_model(pretrained_run, chord_manifest, shared_cache, tmp_path):
    """The retrofit that model v1.1 came from (and v1.3.2's key stage): start from a model folder, train only the
    key path and head; the embedding, the tag head (carried even with tag_weight 0) and every batch-norm
    statistic stay the base model's."""
    run_dir, _ = pretrained_run
    base_config = small_config(chord_manifest, shared_cache, tmp_path / "base", run={"steps": 2})
    base_config.finetune.init_from, base_config.finetune.manifest = str(run_dir), str(chord_manifest)
    Trainer(resolve_training(base_config, "finetune"), fresh=True).fit()
    base = load_model(export_model(tmp_path / "base", tmp_path / "base_model"))
    measured = _with_measured_outputs(tmp_path / "base_model")

    config = small_config(chord_manifest, shared_cache, tmp_path / "keypath", run={"steps": 3})
    config.finetune.init_from, config.finetune.manifest = str(tmp_path / "base_model"), str(chord_manifest)
    config.finetune.key_path = "pitch_class"
    config.finetune.trainable = ["encoder.key_path.", "key_head."]
    config.finetune.tag_weight = 0.0  # tags are not trained in this stage, yet the base model's tag head is kept
    trainer = Trainer(resolve_training(config, "finetune"), fresh=True)
    before = {name: value.clone() for name, value in trainer.learner.state_dict().items()}
    parameter_names = {name for name, _ in trainer.learner.named_parameters()}
    trainer.fit()
    after = trainer.learner.state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    trainable = {name for name in parameter_names if name.startswith(("encoder.key_path.", "key_head."))}
    assert trainable and changed & parameter_names == trainable  # the optimizer stepped every trainable weight
    assert all(name.startswith(("encoder.key_path.", "key_head.")) for name in changed)
    assert any(name.startswith("encoder.key_path.") and "running_mean" in name for name in changed)

    loaded = load_model(export_model(tmp_path / "keypath", tmp_path / "keypath_model"))
    assert loaded.config.architecture["key_path"] == "pitch_class"
    assert loaded.config.tag_names == base.config.tag_names
    audio = torch.randn(3, loaded.config.window_samples) * 0.1
    with torch.no_grad():
        new, old = loaded.network(audio), base.network(audio)
    torch.testing.assert_close(new["embeddings"], old["embeddings"])
    torch.testing.assert_close(new["tag_logits"], old["tag_logits"])
    assert new["key_logits"].shape == (3, 24)
    # What was measured on the unchanged outputs travels on; the base's stage is recorded as an earlier one.
    assert loaded.config.tag_head["calibration"] == measured["heads"]["tags"]["calibration"]
    assert loaded.config.search == measured["search"]
    assert loaded.config.training["embedding_centre"] == measured["training"]["embedding_centre"]
    assert loaded.config.training["earlier_stages"][-1]["steps"] == base.config.training["steps"]


def test_a_stage_that_changes_the_tag_outputs_drops_their_calibration(pretrained_run, chord_manifest, shared_cache, tmp_path):
    run_dir, _ = pretrained_run
    base_config = small_config(chord_manifest, shared_cache, tmp_path / "base", run={"steps": 1})
    base_config.finetune.init_from, base_config.finetune.manifest = str(run_dir), str(chord_manifest)
    Trainer(resolve_training(base_config, "finetune"), fresh=True).fit()
    export_model(tmp_path / "base", tmp_path / "base_model")
    _with_measured_outputs(tmp_path / "base_model")
    config = small_config(chord_manifest, shared_cache, tmp_path / "tags", run={"steps": 2})
    config.finetune.init_from, config.finetune.manifest = str(tmp_path / "base_model"), str(chord_manifest)
    config.finetune.trainable = ["tag_head."]
    Trainer(resolve_training(config, "finetune"), fresh=True).fit()
    loaded = load_model(export_model(tmp_path / "tags", tmp_path / "tags_model"))
    assert "calibration" not in loaded.config.tag_head and loaded.config.search == {}
    assert "embedding_centre" not in loaded.config.training
    assert len(loaded.config.training["earlier_stages"]) == 1


def _with_measured_outputs(folder) -> dict:
    """Give a model folder what is measured on its outputs after export (tag calibration, search settings,
    a centre record), as the shipped model's config.json has them; returns the new config."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config["heads"]["tags"]["calibration"] = {name: {"threshold": 0.7, "shown": True} for name in config["heads"]["tags"]["labels"]}
    config["search"] = {"library_standardisation": False}
    config["training"]["embedding_centre"] = {"tracks": 3, "centre_norm": 1.5}
    path.write_text(json.dumps(config))
    return config


def test_trainable_prefixes_that_match_nothing_are_refused(chord_manifest, shared_cache, tmp_path):
    config = small_config(chord_manifest, shared_cache, tmp_path / "bad", run={"steps": 1})
    config.finetune.manifest = str(chord_manifest)
    config.finetune.trainable = ["encoder.no_such_layer."]
    with pytest.raises(TrainingError, match="no_such_layer"):
        Trainer(resolve_training(config, "finetune"), fresh=True)


def test_finetune_to_a_statistics_embedding_fits_its_standardisation_and_exports(pretrained_run, chord_manifest, shared_cache, tmp_path):
    run_dir, _ = pretrained_run
    config = small_config(chord_manifest, shared_cache, tmp_path / "stats", run={"steps": 2})
    config.finetune.init_from = str(run_dir)
    config.finetune.manifest = str(chord_manifest)
    config.finetune.embedding_pooling = "statistics"
    config.finetune.trainable = ["tag_head."]
    trainer = Trainer(resolve_training(config, "finetune"), fresh=True)
    statistics = trainer.learner.encoder.embedding
    start, _, _ = load_encoder(run_dir)
    # The trunk is the pretrained one; the standardisation was measured before the first step.
    torch.testing.assert_close(trainer.learner.encoder.blocks[0][0].weight, start.blocks[0][0].weight)
    assert int(statistics.fitted) == 1 and not torch.allclose(statistics.std, torch.ones_like(statistics.std))
    moments = statistics.mean.clone(), statistics.std.clone()
    assert trainer.fit()
    torch.testing.assert_close((statistics.mean, statistics.std), moments)  # fixed once measured
    loaded = load_model(export_model(tmp_path / "stats", tmp_path / "stats_model"))
    assert loaded.config.architecture["embedding_pooling"] == "statistics" and loaded.config.embedding_dim == 3 * sum(
        loaded.config.architecture["channels"])
    torch.testing.assert_close(loaded.network.encoder.embedding.mean, moments[0])
    outputs = loaded.network(torch.randn(2, loaded.config.window_samples) * 0.1)
    assert outputs["embeddings"].shape == (2, loaded.config.embedding_dim) and "tag_logits" in outputs



def test_finetuning_from_a_run_folder_keeps_its_trained_heads(pretrained_run, chord_manifest, shared_cache, tmp_path):
    """A frozen head handed over from a run folder is the run's own, as from a model folder (a statistics stage
    started from a key-path run once got a fresh, untrained key head)."""
    run_dir, _ = pretrained_run
    first = small_config(chord_manifest, shared_cache, tmp_path / "keys", run={"steps": 2})
    first.finetune.init_from, first.finetune.manifest = str(run_dir), str(chord_manifest)
    Trainer(resolve_training(first, "finetune"), fresh=True).fit()
    trained = {name: value for name, value in load_weights(resolve_checkpoint(tmp_path / "keys")).items()
               if name.startswith(("key_head.", "tag_head."))}
    assert any(name.startswith("key_head.") for name in trained) and any(name.startswith("tag_head.") for name in trained)

    second = small_config(chord_manifest, shared_cache, tmp_path / "next", run={"steps": 1})
    second.finetune.init_from, second.finetune.manifest = str(tmp_path / "keys"), str(chord_manifest)
    second.finetune.trainable = ["encoder.blocks.3."]
    state = Trainer(resolve_training(second, "finetune"), fresh=True).learner.state_dict()
    for name, value in trained.items():
        torch.testing.assert_close(state[name], value)
