"""A run folder kept whole: one run at a time in it, --fresh sets the earlier run aside with its own files (so its
checkpoints still export as trained), and a metrics file cut short by a crash neither stops a resume nor an export."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from training_configs import small_config, small_config_values
from engine.model_folder import load_model
from engine.run_folder import RunFolderError, read_metrics
from engine.toml_writer import toml_document
from training import cli
from training.checkpoints import CheckpointError, load_encoder, resolve_checkpoint
from training.export import export_model
from training.resolve import resolve_training
from training.trainer import Trainer, TrainingError

WIDER_ENCODER = {"channels": [8, 16, 32, 128]}


def _config_file(tmp_path, chord_manifest, shared_cache, run_dir) -> str:
    path = tmp_path / "run.toml"
    path.write_text(toml_document(small_config_values(chord_manifest, shared_cache, run_dir)), encoding="utf-8")
    return str(path)


def test_a_second_run_in_a_folder_in_use_is_refused_until_the_first_ends(chord_manifest, shared_cache, tmp_path):
    config = small_config(chord_manifest, shared_cache, tmp_path / "run", run={"steps": 1})
    first = Trainer(resolve_training(config), fresh=True)
    with pytest.raises(TrainingError, match="another training run is working in"):
        Trainer(resolve_training(config))
    first.fit()
    config.run.steps = 2
    assert Trainer(resolve_training(config)).fit()  # the lock went with the first run's end


def test_the_command_refuses_a_folder_another_process_trains_in_with_one_line(chord_manifest, shared_cache, tmp_path,
                                                                              capsys):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from training.run_lock import RunLock; "
         f"lock = RunLock.acquire(Path({str(run_dir)!r})); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        config_file = _config_file(tmp_path, chord_manifest, shared_cache, run_dir)
        assert cli.main(["pretrain", "--config", config_file]) == cli.EXIT_BAD_INPUT
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and error.startswith("error: another training run is working in")
    finally:
        holder.communicate("")
    assert not (run_dir / "metrics.jsonl").exists()


def test_a_fresh_start_sets_the_earlier_run_aside_whole_and_its_checkpoint_exports_as_trained(
        chord_manifest, shared_cache, tmp_path):
    run_dir = tmp_path / "run"
    Trainer(resolve_training(small_config(chord_manifest, shared_cache, run_dir, run={"steps": 2})), fresh=True).fit()
    earlier = {name: (run_dir / name).read_text() for name in ("config.json", "labels.json", "metrics.jsonl")}
    earlier_encoder, _, _ = load_encoder(run_dir)
    wider = small_config(chord_manifest, shared_cache, run_dir, run={"steps": 1}, encoder=WIDER_ENCODER)
    Trainer(resolve_training(wider), fresh=True).fit()

    (aside,) = run_dir.glob("checkpoints.replaced-*")
    assert {name: (aside / name).read_text() for name in earlier} == earlier
    assert [record["step"] for record in read_metrics(run_dir)] == [1]
    assert resolve_checkpoint(aside) == aside / "step_0000002"
    model = load_model(export_model(aside / "step_0000002", tmp_path / "model"))
    assert model.config.architecture["channels"] == [8, 16, 32, 64]
    assert model.config.training["steps"] == 2
    audio = torch.randn(2, model.config.window_samples) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(model.network(audio)["embeddings"], earlier_encoder(audio))


def test_a_checkpoint_whose_config_describes_another_encoder_is_one_clear_error(chord_manifest, shared_cache, tmp_path,
                                                                               capsys):
    run_dir = tmp_path / "run"
    Trainer(resolve_training(small_config(chord_manifest, shared_cache, run_dir, run={"steps": 1})), fresh=True).fit()
    summary = json.loads((run_dir / "config.json").read_text())
    summary["architecture"]["channels"] = [8, 16, 32, 128]
    (run_dir / "config.json").write_text(json.dumps(summary))
    with pytest.raises(CheckpointError, match="do not fit the encoder.*of another shape"):
        load_encoder(run_dir)
    assert cli.main(["export", str(run_dir), "--out", str(tmp_path / "model")]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.count("\n") == 1


def test_a_metrics_line_cut_short_is_dropped_on_resume_and_export(chord_manifest, shared_cache, tmp_path):
    run_dir = tmp_path / "run"
    config = small_config(chord_manifest, shared_cache, run_dir, run={"steps": 2})
    Trainer(resolve_training(config), fresh=True).fit()
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"step": 3, "loss": 2.7')  # the run stopped while writing this line
    assert [record["step"] for record in read_metrics(run_dir)] == [1, 2]
    assert export_model(run_dir, tmp_path / "model").is_dir()
    config.run.steps = 3
    Trainer(resolve_training(config)).fit()
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3]


def test_a_damaged_metrics_line_before_the_last_is_named(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"st\n{"step": 3}\n', encoding="utf-8")
    with pytest.raises(RunFolderError, match=r"metrics\.jsonl:2: not a metrics record"):
        read_metrics(tmp_path)
