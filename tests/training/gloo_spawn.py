"""Start CPU worker processes that talk gloo over loopback, retrying once on the transport's known hiccups.

A module of its own, not ``conftest`` (see ``training_configs``): the DDP tests of the loss and of the
trainer share it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch.multiprocessing as mp


def spawn_gloo_workers(worker: Callable, tmp_path: Path, nprocs: int, *args) -> None:
    """Run ``worker(rank, init_file, *args)`` in ``nprocs`` processes. A connection that the transport drops
    (seen once in three full-suite runs on a 2-core machine, never alone), or gloo aborting a worker as it
    tears the connection down ("terminate called without an active exception", SIGABRT: seen once with a
    second test run sharing the 2 cores), is retried once with a fresh rendezvous file; any other error fails."""
    if Path("/sys/class/net/lo").exists():
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # the spawned workers inherit it
    for attempt in range(2):
        try:
            mp.spawn(worker, args=(str(tmp_path / f"init{attempt}"), *args), nprocs=nprocs, join=True)
            return
        except mp.ProcessRaisedException as error:
            transport = any(word in str(error) for word in ("Gloo", "gloo", "Connection", "connect", "Socket"))
            if attempt or not transport:
                raise
        except mp.ProcessExitedException as error:
            if attempt or "SIGABRT" not in str(error):
                raise
