"""How long the reading commands take as processes: `engine info`, `engine problems`, `engine similar TRACK_ID`.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cli_startup.py --db LIBRARY.db [--runs 5] [--engine PATH ...]

Each run is a fresh `engine` process (the console script beside this interpreter unless ``--engine`` names
other installs), timed like ``/usr/bin/time -f "%e %U+%S"``: wall seconds, and user + system CPU seconds from
``wait4``. The 1-minute load average is read before every run, because on a shared machine the wall time depends
on it and the CPU time is the comparable figure; several ``--engine`` installs are run in turn, run by run, so
that they see the same load. Whether the engine's modules come from bytecode depends on the install and on
``PYTHONDONTWRITEBYTECODE`` in the environment, which is passed through unchanged.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_RUNS = 5
DEFAULT_TRACK_ID = 5
TARGET_SECONDS = {"info": 0.3, "problems": 0.3, "similar": 0.6}  # issue 15, wall on an idle machine


@dataclass(frozen=True)
class Run:
    """One process: wall and CPU seconds, and the 1-minute load average just before it started."""
    wall_seconds: float
    cpu_seconds: float
    load_before: float


def one_minute_load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def timed_process(command: list[str]) -> Run:
    """Run ``command`` with its output discarded; raise if it fails."""
    load_before = one_minute_load()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall_seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode(errors='replace')}")
    process.stderr.close()
    return Run(wall_seconds, usage.ru_utime + usage.ru_stime, load_before)


def commands(engine: str, database: Path, track_id: int) -> dict[str, list[str]]:
    common = ["--db", str(database)]
    return {"info": [engine, *common, "info", "--json"],
            "problems": [engine, *common, "problems", "--json"],
            "similar": [engine, *common, "similar", str(track_id), "--json"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="an indexed library")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--track-id", type=int, default=DEFAULT_TRACK_ID)
    parser.add_argument("--engine", action="append",
                        help="a console script to run, repeatable (default: the one beside this interpreter)")
    arguments = parser.parse_args()
    engines = arguments.engine or [str(Path(sys.executable).parent / "engine")]
    print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')!r}, {arguments.runs} runs each")
    command_lists = {engine: commands(engine, arguments.db, arguments.track_id) for engine in engines}
    runs: dict[tuple[str, str], list[Run]] = {(engine, name): [] for engine in engines for name in TARGET_SECONDS}
    for _ in range(arguments.runs):
        for name in TARGET_SECONDS:
            for engine in engines:
                runs[engine, name].append(timed_process(command_lists[engine][name]))
    for (engine, name), measured in runs.items():
        walls = [run.wall_seconds for run in measured]
        cpus = [run.cpu_seconds for run in measured]
        loads = [run.load_before for run in measured]
        print(f"{engine}  {name:9s} wall {min(walls):.2f}-{max(walls):.2f} s (median {statistics.median(walls):.2f}), "
              f"CPU {min(cpus):.2f}-{max(cpus):.2f} s (median {statistics.median(cpus):.2f}), "
              f"load {min(loads):.2f}-{max(loads):.2f}, target {TARGET_SECONDS[name]} s wall idle")


if __name__ == "__main__":
    main()
