"""Several processes and several nodes on this machine (gloo, localhost): a slow cache build never trips a
collective's timeout, and `torchrun --nnodes 2 --nproc_per_node 2` trains exactly as `--nproc_per_node 4`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch.distributed as dist

from gloo_spawn import spawn_gloo_workers
from training_configs import SMALL_ENCODER, small_config
from engine.run_folder import read_metrics

REPOSITORY = Path(__file__).resolve().parents[2]
COLLECTIVE_TIMEOUT = timedelta(seconds=10)  # generous: the other collectives must not trip it on 2 busy cores
SLOW_BUILD_SECONDS = 25  # rank 0 finishes its cache part this much later than rank 1: past the timeout
LAUNCH_TIMEOUT_SECONDS = 300


def _slow_cache_worker(rank: int, init_file: str, manifest: str, cache: str, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", OMP_NUM_THREADS="1")
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2, timeout=COLLECTIVE_TIMEOUT)
    from training.audio_cache import AudioCache
    from training.resolve import resolve_training
    from training.trainer import Trainer

    if rank == 0:
        build = AudioCache.build

        def slow_build(self, *args, **kwargs):
            problems = build(self, *args, **kwargs)
            time.sleep(SLOW_BUILD_SECONDS)
            return problems

        AudioCache.build = slow_build
    config = small_config(Path(manifest), Path(cache), Path(out_dir) / "run", run={"steps": 1, "checkpoint_every": 1})
    trainer = Trainer(resolve_training(config), fresh=True)
    losses = trainer.fit()
    tracks = len(trainer.composer.labeled) + len(trainer.composer.unlabeled)
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps({"tracks": tracks, "losses": losses}))
    dist.destroy_process_group()


@pytest.mark.slow  # 75-110 s on 2 busy cores: two processes start torch, and one waits 25 s on purpose
def test_ranks_wait_for_a_slow_cache_build_without_tripping_the_collective_timeout(chord_manifest, tmp_path):
    """Rank 0 builds its part of the cache 25 s after rank 1, under a 10 s collective timeout: the
    ranks wait on a group of their own, so training starts on both (it used to die in dist.barrier)."""
    spawn_gloo_workers(_slow_cache_worker, tmp_path, 2, str(chord_manifest), str(tmp_path / "cache"), str(tmp_path))
    results = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(2)]
    assert results[0] == results[1] and results[0]["tracks"] == 24 * 2  # labeled and unlabeled manifests alike


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config_file(folder: Path, manifest: Path, cache: Path) -> Path:
    encoder = "\n".join(f"{key} = {json.dumps(value)}" for key, value in SMALL_ENCODER.items())
    path = folder / "config.toml"
    path.write_text(
        f'[run]\nsteps = 2\nlog_every = 1\ncheckpoint_every = 2\nprogress = false\nseed = 5\n'
        f'[encoder]\n{encoder}\n'
        f'[data]\nunlabeled_manifest = "{manifest}"\nlabeled_manifest = "{manifest}"\ncache_dir = "{cache}"\n'
        'batch_size = 8\ndecode_workers = 1\n[optim]\nlr = 0.001\n'
    )
    return path


def _torchrun(config: Path, output: Path, nnodes: int, nproc: int) -> list[float]:
    """Launch one torchrun per node, all on localhost, and return the run's per-step losses."""
    port = _free_port()
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONPATH": str(REPOSITORY)}
    launches = [
        subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", f"--nnodes={nnodes}", f"--nproc-per-node={nproc}",
             f"--node-rank={node}", "--master-addr=127.0.0.1", f"--master-port={port}",
             "-m", "training.cli", "pretrain", "--config", str(config), "--output-dir", str(output), "--fresh"],
            cwd=REPOSITORY, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for node in range(nnodes)
    ]
    for launch in launches:
        output_text, _ = launch.communicate(timeout=LAUNCH_TIMEOUT_SECONDS)
        assert launch.returncode == 0, output_text[-3000:]
    return [record["loss"] for record in read_metrics(output)]


@pytest.mark.slow  # ~100 s on 2 busy cores: eight processes start torch
def test_two_nodes_of_two_processes_train_step_for_step_as_one_node_of_four(chord_manifest, shared_cache, tmp_path):
    config = _config_file(tmp_path, chord_manifest, shared_cache)
    two_nodes = _torchrun(config, tmp_path / "nodes2x2", nnodes=2, nproc=2)
    one_node = _torchrun(config, tmp_path / "nodes1x4", nnodes=1, nproc=4)
    assert len(two_nodes) == 2
    assert two_nodes == pytest.approx(one_node, rel=1e-6)
    summary = json.loads((tmp_path / "nodes2x2" / "config.json").read_text())
    assert summary["world_size"] == 4
