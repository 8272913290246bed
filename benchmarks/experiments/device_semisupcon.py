"""SemiSupCon against SSL-only at the same budget, on a GPU node (the v4 recipe, scaled to the node's time).

Runs on the node from the repository root, after ``device_corpus unpack`` put the compact corpus under
``data/``: a shared SSL-only start (``default_model_v4_ssl.toml``), then the two arms of the trunk stage —
``default_model_v4_trunk.toml`` (SemiSupCon: half of each batch labeled game music, positives share a label)
and ``default_model_v4_trunk_ssl_only.toml`` (the same data, seed, steps and schedule, no labels) — each
followed by the same key-path stage (``default_model_v4_keypath.toml``), and exports both model folders.
Every config is the repository's, with the batch raised to the paper's 96 and the step counts set from the
throughput the shared start measured, so that the whole run fits ``--budget`` seconds. The arms run one
after the other on the whole GPU, so each gets the same steps at the same speed.

  python3 -m benchmarks.experiments.device_semisupcon --budget 520 --out "$OUT"

Writes ``OUT/models.tar`` (both model folders, the runs' configs and metrics) and ``OUT/plan.json``; the
held-out evaluation happens off the node (``benchmarks/experiments/paired_comparison.py``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

from engine.toml_writer import toml_document

CONFIGS = Path("training/configs")
BATCH_SIZE = 96  # the paper's batch; the CPU configs use 32
START_STEPS = 400  # the shared SSL-only start, which also measures the node's speed
KEYPATH_SHARE = 0.25  # of the arms' step time that goes to the key-path stage
MAX_KEYPATH_STEPS = 2000
EXPORT_RESERVE_SECONDS = 60  # exports, tar and slack at the end
ARMS = {"semisupcon": "default_model_v4_trunk.toml", "ssl_only": "default_model_v4_trunk_ssl_only.toml"}


def write_config(source: str, name: str, steps: int, init_from: str | None, folder: Path, batch_size: int,
                 log_every: int, seed_offset: int) -> Path:
    """The repository's config ``source`` with this run's name, steps and batch (the contrastive stages'; the
    key-path stage keeps its own) and ``init_from``."""
    values = tomllib.loads((CONFIGS / source).read_text(encoding="utf-8"))
    values["run"].update(name=name, output_dir=f"data/runs/{name}", steps=steps, log_every=log_every,
                         checkpoint_every=max(100, steps // 4), progress=False,
                         seed=values["run"]["seed"] + seed_offset)
    if values["data"].get("views", 2) > 1:
        values["data"]["batch_size"] = batch_size
    if init_from is not None:
        values["finetune"]["init_from"] = init_from
    path = folder / f"{name}.toml"
    path.write_text(toml_document(values), encoding="utf-8")
    return path


def engine_train(arguments: list[str], log: Path) -> float:
    """Run ``engine train ARGUMENTS`` with its output appended to ``log``; its wall seconds."""
    started = time.monotonic()
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"\n=== engine train {' '.join(arguments)}\n")
        handle.flush()
        subprocess.run([sys.executable, "-m", "engine.cli", "train", *arguments], check=True, stdout=handle,
                       stderr=subprocess.STDOUT)
    return time.monotonic() - started


def train(command: str, config: Path, log: Path) -> float:
    return engine_train([command, "--config", str(config), "--fresh"], log)


def throughput(run: Path) -> float:
    """Steps per second after warm-up, from a finished run's metrics."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    first, last = records[1], records[-1]
    return (last["step"] - first["step"]) / (last["wall_time"] - first["wall_time"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=520.0, help="seconds for the whole run, exports included")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start-steps", type=int, default=START_STEPS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--seed-offset", type=int, default=0, help="added to every stage's seed (a replicate)")
    parser.add_argument("--trunk-steps", type=int, help="fix the arms' steps instead of fitting them to --budget")
    parser.add_argument("--keypath-steps", type=int)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.budget
    folder = Path("data/configs")
    folder.mkdir(parents=True, exist_ok=True)
    log = args.out / "train.log"
    args.out.mkdir(parents=True, exist_ok=True)
    plan: dict = {"batch_size": args.batch_size, "start_steps": args.start_steps}
    sizes = (args.batch_size, args.log_every, args.seed_offset)
    plan["seed_offset"] = args.seed_offset

    launched = time.time()
    seconds = train("pretrain", write_config("default_model_v4_ssl.toml", "v4_ssl", args.start_steps, None, folder, *sizes), log)
    rate = throughput(Path("data/runs/v4_ssl"))
    overhead = max(5.0, seconds - args.start_steps / rate)
    plan.update(start_seconds=round(seconds, 1), steps_per_second=round(rate, 2), fixed_seconds_per_run=round(overhead, 1))
    # Four more runs (two trunks, two key paths), plus exports at the end.
    left = deadline - time.monotonic() - EXPORT_RESERVE_SECONDS - 4 * overhead
    step_budget = max(0.0, left) * rate / 2  # per arm
    keypath_steps = int(min(MAX_KEYPATH_STEPS, KEYPATH_SHARE * step_budget))
    trunk_steps = int(step_budget - keypath_steps)
    if args.trunk_steps and args.keypath_steps:
        trunk_steps, keypath_steps = args.trunk_steps, args.keypath_steps
    plan.update(trunk_steps=trunk_steps, keypath_steps=keypath_steps, left_seconds=round(left, 1))
    (args.out / "plan.json").write_text(json.dumps(plan, indent=2))
    print(json.dumps(plan), flush=True)
    if trunk_steps < 2 * args.log_every or keypath_steps < args.log_every:
        print("too little time left for a comparison", file=sys.stderr)
        return 1

    for arm, source in ARMS.items():
        trunk = write_config(source, f"{arm}_trunk", trunk_steps, "data/runs/v4_ssl", folder, *sizes)
        plan[f"{arm}_trunk_seconds"] = round(train("finetune", trunk, log), 1)
        keypath = write_config("default_model_v4_keypath.toml", f"{arm}_keypath", keypath_steps,
                               f"data/runs/{arm}_trunk", folder, *sizes)
        plan[f"{arm}_keypath_seconds"] = round(train("finetune", keypath, log), 1)
        engine_train(["export", f"data/runs/{arm}_keypath", "--out", f"data/models/gpu_{arm}",
                      "--name", f"gpu-{arm.replace('_', '-')}"], log)
        (args.out / "plan.json").write_text(json.dumps(plan, indent=2))
    plan["total_seconds"] = round(time.time() - launched, 1)
    (args.out / "plan.json").write_text(json.dumps(plan, indent=2))
    with tarfile.open(args.out / "models.tar", "w") as archive:
        archive.add("data/models")
        archive.add("data/configs")
        for run in Path("data/runs").iterdir():
            for name in ("metrics.jsonl", "config.json", "labels.json"):
                if (run / name).is_file():
                    archive.add(run / name)
    print(json.dumps(plan), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
