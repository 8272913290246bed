"""Under DDP (two CPU processes, gloo) the loss and gradients equal one process on the concatenated batch."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from gloo_spawn import spawn_gloo_workers
from training.losses import semisupcon_loss

CLIPS, VIEWS, FEATURES, PROJECTION = 8, 2, 10, 6
WORLD_SIZE = 2


def _problem() -> tuple[torch.nn.Linear, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Linear(FEATURES, PROJECTION).double()
    inputs = torch.randn(CLIPS, VIEWS, FEATURES, dtype=torch.float64)
    labels = torch.zeros(CLIPS, 3, dtype=torch.float64)
    labels[0, 0] = labels[1, 0] = labels[4, 1] = labels[5, 0] = labels[5, 2] = 1.0  # clips 0-1 and 4-5 labeled
    return model, inputs, labels


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    model, inputs, labels = _problem()
    ddp_model = DistributedDataParallel(model)
    share = CLIPS // WORLD_SIZE
    local = slice(rank * share, (rank + 1) * share)
    loss = semisupcon_loss(ddp_model(inputs[local]), labels[local], weighting="dice")
    loss.backward()
    averaged = loss.detach().clone()
    dist.all_reduce(averaged)
    averaged /= WORLD_SIZE
    torch.save(
        {"loss": averaged, "weight_grad": model.weight.grad, "bias_grad": model.bias.grad},
        os.path.join(out_dir, f"rank{rank}.pt"),
    )
    dist.destroy_process_group()


def test_two_process_ddp_equals_single_process_on_concatenated_batch(tmp_path: Path):
    spawn_gloo_workers(_worker, tmp_path, WORLD_SIZE, str(tmp_path))
    model, inputs, labels = _problem()
    loss = semisupcon_loss(model(inputs), labels, weighting="dice")
    loss.backward()
    for rank in range(WORLD_SIZE):
        result = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        torch.testing.assert_close(result["loss"], loss.detach(), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(result["weight_grad"], model.weight.grad, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(result["bias_grad"], model.bias.grad, rtol=1e-9, atol=1e-12)
