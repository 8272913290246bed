"""A run folder across starts: --fresh keeps the new run's checkpoints, a resume keeps its configuration (or
records what --override changed), batches composed ahead resume exactly, and settings that would silently
train something else are refused with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from training_configs import small_config
from training import cli
from training.checkpoints import latest_checkpoint, saved_checkpoints
from training.data import BatchComposer, Track
from training.prefetch import BatchPrefetcher
from training.resolve import resolve_training
from training.trainer import Trainer, TrainingError


def test_a_fresh_start_in_an_old_run_folder_keeps_the_new_runs_checkpoints(chord_manifest, shared_cache, tmp_path):
    """Retention used to sort step folders by name across runs: the old run's step 3 outranked the new step 1,
    which was deleted, and `latest` pointed at nothing."""
    run_dir = tmp_path / "run"
    Trainer(resolve_training(small_config(chord_manifest, shared_cache, run_dir, run={"steps": 3, "checkpoint_every": 1, "keep_checkpoints": 2})),
            fresh=True).fit()
    assert saved_checkpoints(run_dir) == ["step_0000002", "step_0000003"]
    config = small_config(chord_manifest, shared_cache, run_dir, run={"steps": 1, "checkpoint_every": 1, "keep_checkpoints": 2})
    Trainer(resolve_training(config), fresh=True).fit()
    assert latest_checkpoint(run_dir) == run_dir / "checkpoints" / "step_0000001"
    assert saved_checkpoints(run_dir) == ["step_0000001"]
    (aside,) = run_dir.glob("checkpoints.replaced-*")
    assert sorted(path.name for path in aside.glob("step_*")) == ["step_0000002", "step_0000003"]
    config.run.steps = 2
    assert Trainer(resolve_training(config)).step == 1  # the next start resumes the new run


def test_resuming_with_another_configuration_is_refused_naming_the_keys_unless_overridden(
    chord_manifest, shared_cache, tmp_path, capsys
):
    run_dir = tmp_path / "run"
    Trainer(resolve_training(small_config(chord_manifest, shared_cache, run_dir, run={"steps": 1})), fresh=True).fit()
    changed = small_config(chord_manifest, shared_cache, run_dir, run={"steps": 2}, optim={"lr": 2e-3},
                           data={"labeled_share": 0.25})
    with pytest.raises(TrainingError, match=r"data\.labeled_share 0\.5 -> 0\.25, optim\.lr 0\.001 -> 0\.002.*--override"):
        Trainer(resolve_training(changed))
    trainer = Trainer(resolve_training(changed), override=True)
    assert trainer.step == 1 and trainer.fit()
    summary = json.loads((run_dir / "config.json").read_text())
    assert summary["config"]["optim"]["lr"] == 2e-3
    assert summary["resumes"] == [{"step": 1, "changes": {
        "data.labeled_share": [0.5, 0.25], "optim.lr": [1e-3, 2e-3], "run.steps": [1, 2]}}]

    wider = small_config(chord_manifest, shared_cache, run_dir, run={"steps": 3}, encoder={"channels": [8, 16, 32, 128]})
    with pytest.raises(TrainingError, match="another encoder architecture"):
        Trainer(resolve_training(wider), override=True)
    config_file = tmp_path / "run.toml"
    config_file.write_text(
        f'[run]\noutput_dir = "{run_dir}"\nsteps = 3\nprogress = false\n[optim]\nlr = 0.005\n'
        f'[encoder]\ntype = "logfreqcnn"\nchannels = [8, 16, 32, 64]\nembedding_dim = 512\n'
        f'[data]\nunlabeled_manifest = "{chord_manifest}"\nlabeled_manifest = "{chord_manifest}"\ncache_dir = "{shared_cache}"\n'
        'batch_size = 8\n'
    )
    assert cli.main(["pretrain", "--config", str(config_file)]) == cli.EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "optim.lr 0.002 -> 0.005" in error and "run.seed" in error


def test_a_labeled_share_that_rounds_to_zero_is_refused_before_training(chord_manifest, shared_cache, tmp_path):
    config = small_config(chord_manifest, shared_cache, tmp_path / "run", data={"labeled_share": 0.05})
    with pytest.raises(TrainingError, match="rounds to 0 labeled clips"):
        Trainer(resolve_training(config), fresh=True)


def _composer(seed: int = 2) -> BatchComposer:
    tracks = [Track(np.arange(i, i + 600, dtype=np.int16), np.eye(3, dtype=np.float32)[i % 3], -1) for i in range(9)]
    return BatchComposer(tracks[:4], tracks[4:], 3, 6, 2, 50, 60, labeled_share=0.5, seed=seed)


def test_batches_composed_ahead_are_the_same_and_a_checkpoint_resumes_after_the_last_one_used():
    plain = [_composer().next_batch().audio for _ in range(1)]
    reference = _composer()
    expected = [reference.next_batch().audio for _ in range(6)]
    assert torch.equal(plain[0], expected[0])
    ahead = BatchPrefetcher(_composer(), depth=2)
    got = [ahead.next().audio for _ in range(3)]
    state = json.loads(json.dumps(ahead.state()))  # what a checkpoint stores, while batches 4-5 wait in the queue
    ahead.close()
    for audio, wanted in zip(got, expected):
        assert torch.equal(audio, wanted)
    resumed = _composer(seed=99)
    resumed.load_state(state)
    assert torch.equal(resumed.next_batch().audio, expected[3])
    assert torch.equal(ahead.next().audio, expected[3])  # close() rewound the composer to the last batch used
    ahead.close()


def test_the_cache_command_decodes_once_and_resumes(chord_manifest, tmp_path, capsys):
    config_file = tmp_path / "cache.toml"
    config_file.write_text(f'[data]\nunlabeled_manifest = "{chord_manifest}"\ncache_dir = "{tmp_path / "cache"}"\n'
                           'split = "train"\n[encoder]\ntype = "logfreqcnn"\n')
    assert cli.main(["cache", "--config", str(config_file), "--json"]) == cli.EXIT_OK
    first = json.loads(capsys.readouterr().out)
    assert first["tracks"] == first["entries"] == first["decoded"] == 24 and first["problems"] == []
    assert cli.main(["cache", "--config", str(config_file), "--json"]) == cli.EXIT_OK
    again = json.loads(capsys.readouterr().out)
    assert again["tracks"] == 24 and again["decoded"] == 0


def test_an_optimizer_state_saved_in_another_layer_order_is_refused_before_resuming(tmp_path):
    from training.trainer import _check_optimizer_state

    first, second = torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)
    saved = torch.optim.Adam([*first.parameters(), *second.parameters()])
    second(first(torch.ones(1, 4))).sum().backward()
    saved.step()
    _check_optimizer_state(saved.state_dict(), saved, tmp_path)  # the same order resumes
    reordered = torch.optim.Adam([*second.parameters(), *first.parameters()])
    with pytest.raises(TrainingError, match="optimizer state does not fit"):
        _check_optimizer_state(saved.state_dict(), reordered, tmp_path)
