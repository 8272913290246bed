"""Config and manifest values of the wrong kind are one clear line naming them, never a traceback; a file saved
with a UTF-8 byte order mark (Windows Notepad) reads as the same file without one."""

from __future__ import annotations

import json

import pytest

from training import cli
from training.config import ConfigError, load_config
from training.data import ManifestError, read_manifest
from training.resolve import resolve_training
from training.trainer import TrainingError

BOM = "\ufeff"


@pytest.mark.parametrize("text, named", [
    ("[optim]\nlr = nan\n", "optim.lr"),
    ("[optim]\nlr = inf\n", "optim.lr"),
    ("[augment]\ngain_db = [-15.0, inf]\n", "augment.gain_db"),
    ('encoder = "type"\n', r"\[encoder\] must be a table"),
    ("[finetune]\ntrainable = [1, 2]\n", "finetune.trainable"),
])
def test_a_config_value_of_the_wrong_kind_is_refused_by_name(text, named, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=named):
        load_config(path)


@pytest.mark.parametrize("encoder, named", [
    ('channels = "abc"', r"channels must be a value like \[24, 48, 96, 192\], got 'abc'"),
    ("channels = [8, 16.5]", "channels"),
    ("channels = []", "channels"),
    ('n_fft = "big"', "n_fft"),
])
def test_an_encoder_value_of_the_wrong_kind_is_refused_before_the_network_is_built(encoder, named, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(f'[encoder]\ntype = "logfreqcnn"\n{encoder}\n', encoding="utf-8")
    with pytest.raises(TrainingError, match=named):
        resolve_training(load_config(path))


@pytest.mark.parametrize("text", [
    "[optim]\nlr = nan\n", 'encoder = "type"\n', '[encoder]\ntype = "logfreqcnn"\nchannels = "abc"\n',
    "[finetune]\ntrainable = [1, 2]\n",
])
def test_the_command_answers_a_bad_config_value_with_one_line(text, tmp_path, capsys):
    path = tmp_path / "run.toml"
    path.write_text(f'[run]\noutput_dir = "{tmp_path / "run"}"\n' + text, encoding="utf-8")
    assert cli.main(["pretrain", "--config", str(path)]) == cli.EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1


def test_a_manifest_key_that_is_not_a_name_is_refused_with_its_line(tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"path": "a.flac", "key": "C minor"}) + "\n"
                        + json.dumps({"path": "b.flac", "key": 5}) + "\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"manifest\.jsonl:2: \"key\" must be a key name.*got 5"):
        read_manifest(manifest)


def test_a_manifest_and_a_config_with_a_byte_order_mark_read_as_without_one(tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(BOM + json.dumps({"path": "a.flac", "labels": ["rock"], "key": "A minor"}) + "\n",
                        encoding="utf-8")
    (entry,) = read_manifest(manifest)
    assert entry.path == tmp_path / "a.flac" and entry.labels == ["rock"] and entry.key_index >= 0
    config = tmp_path / "run.toml"
    config.write_text(BOM + "[run]\nsteps = 7\n", encoding="utf-8")
    assert load_config(config).run.steps == 7
