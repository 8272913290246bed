"""A stop signal inside a training step: the step is finished and saved, and the resumed run is bit for bit the
uninterrupted one; a second signal stops at once and leaves the last checkpoint; a diverged update is never saved."""

from __future__ import annotations

import signal

import pytest
import torch

from training_configs import small_config
from engine.interrupts import signals_handled_by
from engine.run_folder import latest_step, read_metrics
from training.checkpoints import latest_checkpoint, load_weights
from training.resolve import resolve_training
from training.trainer import Trainer, TrainingError

STEPS = {"steps": 6, "checkpoint_every": 3}
INTERRUPTED_STEP = 5  # between checkpoints: a resume from step 3 would hide a half-saved step 5


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, chord_manifest, shared_cache):
    """(per-step losses, final weights) of the run the interrupted ones must reproduce."""
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    Trainer(resolve_training(small_config(chord_manifest, shared_cache, run_dir, run=STEPS)), fresh=True).fit()
    return _losses(run_dir), load_weights(latest_checkpoint(run_dir))


def _losses(run_dir) -> list[float]:
    return [record["loss"] for record in read_metrics(run_dir)]


def _signal_inside_step(trainer: Trainer, step: int, signals: list[int]) -> None:
    """Deliver ``signals`` while ``step`` runs: after its forward pass and batch-norm update, before the update."""
    update = trainer.optimizer.step

    def signal_then_update(*args, **kwargs):
        if trainer.step + 1 == step:
            for number in signals:
                signal.raise_signal(number)
        return update(*args, **kwargs)

    trainer.optimizer.step = signal_then_update


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _resume_to_the_end(config) -> Trainer:
    trainer = Trainer(resolve_training(config))
    trainer.fit()
    return trainer


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_inside_a_step_resumes_exactly_as_the_uninterrupted_run(
        number, uninterrupted, chord_manifest, shared_cache, tmp_path):
    config = small_config(chord_manifest, shared_cache, tmp_path / "run", run=STEPS)
    trainer = Trainer(resolve_training(config), fresh=True)
    _signal_inside_step(trainer, INTERRUPTED_STEP, [number])
    with signals_handled_by(_raise_interrupt, (signal.SIGTERM,)), pytest.raises(KeyboardInterrupt):
        trainer.fit()  # the engine's handlers: both signals raise KeyboardInterrupt
    assert trainer.step == INTERRUPTED_STEP and latest_step(config.run.output_dir) == INTERRUPTED_STEP
    resumed = _resume_to_the_end(config)
    losses, weights = uninterrupted
    assert _losses(config.run.output_dir) == losses
    final = load_weights(latest_checkpoint(resumed.run_dir))
    assert [name for name, tensor in weights.items() if not torch.equal(tensor, final[name])] == []


def test_a_second_interrupt_stops_inside_the_step_and_the_last_checkpoint_resumes_exactly(
        uninterrupted, chord_manifest, shared_cache, tmp_path):
    config = small_config(chord_manifest, shared_cache, tmp_path / "run", run=STEPS)
    trainer = Trainer(resolve_training(config), fresh=True)
    _signal_inside_step(trainer, INTERRUPTED_STEP, [signal.SIGINT, signal.SIGINT])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert trainer.step == INTERRUPTED_STEP - 1 and latest_step(config.run.output_dir) == 3  # half a step: not saved
    _resume_to_the_end(config)
    assert _losses(config.run.output_dir) == uninterrupted[0]


def test_an_update_that_makes_weights_nan_is_not_saved_and_the_last_good_checkpoint_stays_latest(
        chord_manifest, shared_cache, tmp_path):
    config = small_config(chord_manifest, shared_cache, tmp_path / "run", run={"steps": 4, "checkpoint_every": 2})
    trainer = Trainer(resolve_training(config), fresh=True)
    update = trainer.optimizer.step

    def diverging_update(*args, **kwargs):
        result = update(*args, **kwargs)
        if trainer.step + 1 == 4:
            with torch.no_grad():
                next(trainer.learner.parameters()).fill_(float("nan"))
        return result

    trainer.optimizer.step = diverging_update
    with pytest.raises(TrainingError, match="NaN or infinite at step 4.*Last good checkpoint: .*step_0000002"):
        trainer.fit()
    assert latest_step(config.run.output_dir) == 2
    assert all(torch.isfinite(tensor).all() for tensor in load_weights(latest_checkpoint(config.run.output_dir)).values())
