"""`engine train` on bad input and interruptions: one clear line (or a usage error), never a traceback, a run that
trained on nothing, a second process left behind, or a folder of someone's files written into."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import audio_factory
from engine.run_folder import dangling_latest, latest_step
from training import cli
from training.audio_cache import AudioCache
from training.config import ConfigError, config_from_dict
from training.data import ManifestEntry, ManifestError, read_manifest
from training.export import ExportError, check_export_folder


@pytest.mark.parametrize("values, named", [
    ({"run": {"steps": 0}}, "run.steps"), ({"run": {"log_every": 0}}, "run.log_every"),
    ({"run": {"checkpoint_every": 0}}, "run.checkpoint_every"), ({"optim": {"lr": -1.0}}, "optim.lr"),
    ({"augment": {"gain_db": 5}}, "augment.gain_db"), ({"augment": {"gain_db": ["a", "b"]}}, "augment.gain_db"),
    ({"augment": {"gain_db": [1, 2, 3]}}, "augment.gain_db"), ({"run": {"device": "tpu"}}, "run.device"),
])
def test_a_config_value_no_run_can_use_is_refused_by_name(values, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        config_from_dict(values)


def test_a_tuple_setting_takes_a_list_of_numbers():
    assert config_from_dict({"augment": {"gain_db": [-10, 3]}}).augment.gain_db == (-10.0, 3.0)


@pytest.mark.parametrize("arguments", [
    ["pretrain", "--config", "x.toml", "--steps", "0"], ["finetune", "--steps", "-3"],
    ["from-library", "--labels", "genre", "--steps", "0"], ["from-library", "--labels", "genre", "--holdout", "5"],
    ["from-library", "--labels", "genre", "--min-tracks", "-5"],
    ["probe", "--checkpoint", "r", "--manifest", "m", "--out", "o", "--epochs", "0"],
    ["probe", "--checkpoint", "r", "--manifest", "m", "--out", "o", "--lr", "-1"],
])
def test_a_count_or_share_that_means_nothing_is_a_usage_error(arguments, capsys):
    assert cli.main(arguments) == cli.EXIT_USAGE
    assert "must be" in capsys.readouterr().err


def test_labels_must_be_a_list_and_a_corpus_manifest_is_read_by_its_relative_paths(tmp_path):
    (tmp_path / "corpus" / "audio").mkdir(parents=True)
    manifest = tmp_path / "corpus" / "manifest.jsonl"
    manifest.write_text(json.dumps({"path": "corpus/audio/a.flac", "relative_path": "audio/a.flac",
                                    "split": "val"}) + "\n", encoding="utf-8")
    assert read_manifest(manifest)[0].path == tmp_path / "corpus" / "audio" / "a.flac"
    manifest.write_text(json.dumps({"path": "a.flac", "labels": "rock"}) + "\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="must be a list"):  # not the letters r, o, c, k
        read_manifest(manifest)


def test_export_never_writes_among_other_files_nor_replaces_a_model_unasked(tmp_path):
    check_export_folder(tmp_path / "new", overwrite=False)
    (tmp_path / "empty").mkdir()
    check_export_folder(tmp_path / "empty", overwrite=False)
    music = tmp_path / "music"
    music.mkdir()
    (music / "song.flac").write_bytes(b"fLaC")
    for overwrite in (False, True):
        with pytest.raises(ExportError, match="other files"):
            check_export_folder(music, overwrite)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ExportError, match="--overwrite"):
        check_export_folder(model, overwrite=False)
    check_export_folder(model, overwrite=True)
    with pytest.raises(ExportError, match="is a file"):
        check_export_folder(music / "song.flac", overwrite=True)


def test_a_latest_pointer_to_a_checkpoint_that_is_not_there_is_noticed(tmp_path):
    checkpoints = tmp_path / "run" / "checkpoints"
    (checkpoints / "step_0000004").mkdir(parents=True)
    (checkpoints / "step_0000004" / "model.safetensors").write_bytes(b"x")
    (checkpoints / "latest").write_text("step_0000004\n", encoding="utf-8")
    assert dangling_latest(tmp_path / "run") is None and latest_step(tmp_path / "run") == 4
    (checkpoints / "latest").write_text("step_0000099\n", encoding="utf-8")
    assert dangling_latest(tmp_path / "run") == "step_0000099" and latest_step(tmp_path / "run") is None


def _tone_entries(folder: Path, count: int) -> list[ManifestEntry]:
    folder.mkdir(parents=True, exist_ok=True)
    tone = audio_factory.tone(330.0, 4.0)
    return [ManifestEntry(path=audio_factory.write_audio(tone * (0.5 + index / (2 * count)), folder / f"t{index}.flac"))
            for index in range(count)]


def test_an_interrupted_cache_build_stops_at_once_keeps_finished_shards_and_leaves_no_process(tmp_path):
    entries = _tone_entries(tmp_path / "audio", 40)
    cache = AudioCache(tmp_path / "cache", 16000)
    cache.build(entries[:4], workers=1)  # one finished shard from before
    finished = sorted(path.name for path in cache.shards.iterdir())
    seen: list[tuple[int, int]] = []

    def interrupt(done: int, total: int) -> None:
        seen.append((done, total))
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        cache.build(entries, workers=1, on_progress=interrupt)
    assert time.monotonic() - started < 5.0  # not after the other 36 tracks are decoded
    assert seen[0][1] == 36 and not multiprocessing.active_children()
    assert set(finished) <= {path.name for path in cache.shards.iterdir()}
    assert AudioCache(tmp_path / "cache", 16000).usable(entries[:4]) == entries[:4]


def _engine_processes(token: str) -> list[int]:
    """Live processes (not zombies) whose command line holds ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if token in (entry / "cmdline").read_bytes().decode("utf-8", "replace") and \
                    (entry / "stat").read_text().split(") ")[1][0] != "Z":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sigterm_while_the_audio_is_decoded_stops_the_command_and_its_decoders(tmp_path):
    entries = _tone_entries(tmp_path / "audio", 300)
    manifest = tmp_path / "unlabeled.jsonl"
    manifest.write_text("".join(json.dumps({"path": str(entry.path)}) + "\n" for entry in entries), encoding="utf-8")
    config = tmp_path / "sigterm-test.toml"
    config.write_text(f'[run]\noutput_dir = "{tmp_path / "run"}"\nsteps = 2\nprogress = false\n[data]\n'
                      f'unlabeled_manifest = "{manifest}"\ncache_dir = "{tmp_path / "cache"}"\nbatch_size = 2\n'
                      'decode_workers = 1\n', encoding="utf-8")
    events = tmp_path / "events.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "train", "pretrain", "--config", str(config),
                                "--events", str(events)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (tmp_path / "cache" / "16000" / "shards").is_dir():
        time.sleep(0.2)  # the decoding has begun
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _out, err = process.communicate(timeout=60)
    assert process.returncode == cli.EXIT_INTERRUPTED, err.decode()
    assert time.monotonic() - sent < 10.0 and b"Traceback" not in err
    time.sleep(0.5)
    assert _engine_processes(str(config)) == []  # no decode process left behind
    kinds = [json.loads(line)["event"] for line in events.read_text(encoding="utf-8").splitlines()]
    assert kinds[-1] == "interrupted"


def test_a_cache_of_nothing_is_not_a_success(tmp_path, capsys):
    manifest = tmp_path / "unlabeled.jsonl"
    manifest.write_text(json.dumps({"path": str(tmp_path / "missing.flac")}) + "\n", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(f'[data]\nunlabeled_manifest = "{manifest}"\ncache_dir = "{tmp_path / "cache"}"\n',
                      encoding="utf-8")
    assert cli.main(["cache", "--config", str(config)]) == cli.EXIT_BAD_INPUT
    assert "could be decoded" in capsys.readouterr().err
