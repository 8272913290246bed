"""Start CPU worker processes that talk gloo over loopback, retrying once on the transport's known hiccups.

A module of its own, not ``conftest`` (see ``training_configs``): the DDP tests of the loss and of the
trainer share it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import torch.multiprocessing as mp


def spawn_gloo_workers(worker: Callable, tmp_path: Path, nprocs: int, *args) -> None:
    """Run ``worker(rank, init_file, *args)`` in ``nprocs`` processes. A connection that the transport drops
    (seen once in three full-suite runs on a 2-core machine, never alone), or gloo aborting a worker as it
    tears the connection down ("terminate called without an active exception", SIGABRT: seen once with a
    second test run sharing the 2 cores), is retried once with a fresh rendezvous file; any other error fails.
    Each worker leaves without the interpreter's teardown once it has returned (``_run_then_leave``)."""
    if Path("/sys/class/net/lo").exists():
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # the spawned workers inherit it
    for attempt in range(2):
        try:
            mp.spawn(_run_then_leave, args=(worker, str(tmp_path / f"init{attempt}"), *args), nprocs=nprocs, join=True)
            return
        except mp.ProcessRaisedException as error:
            transport = any(word in str(error) for word in ("Gloo", "gloo", "Connection", "connect", "Socket"))
            if attempt or not transport:
                raise
        except mp.ProcessExitedException as error:
            if attempt or "SIGABRT" not in str(error):
                raise


def _run_then_leave(rank: int, worker: Callable, *args) -> None:
    """``worker(rank, *args)``, then the process ends at once with status 0: the worker has written its results
    and closed its process group, and what gloo aborts on is the C++ teardown of a normal exit (its threads
    destroyed while joinable: "terminate called without an active exception"; seen twice in a row in one CI run).
    An exception in the worker still reaches ``mp.spawn`` as before."""
    worker(rank, *args)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)
