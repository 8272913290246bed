"""Training throughput: samples/s and the step split data / augmentation / forward / backward, per encoder,
and batched augmentation against the reference's clip-by-clip chain on the same device.

    .venv/bin/python benchmarks/bench_training.py [--device cpu|cuda] [--batch 16] [--steps 5] [--json]

A sample is one clip (V = 2 views of 2.7 s). The run uses the real Trainer on a synthesised chord corpus.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.keys import Key  # noqa: E402
from training.augment import BatchAugmenter, augment_clip_by_clip  # noqa: E402
from training.config import AugmentConfig, config_from_dict  # noqa: E402
from training.synthetic import write_chord_corpus  # noqa: E402
from training.trainer import StepTimes, Trainer  # noqa: E402

ENCODERS = ("logfreqcnn", "samplecnn")
KEYS = [Key(0, "major"), Key(7, "major"), Key(9, "minor"), Key(4, "minor")]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_steps(encoder: str, manifest: Path, work: Path, device: str, batch: int, steps: int) -> dict:
    config = config_from_dict({
        "run": {"output_dir": str(work / f"run_{encoder}"), "steps": steps + 1, "progress": False, "device": device,
                "log_every": 10**9, "checkpoint_every": 10**9},
        "encoder": {"type": encoder},
        "data": {"unlabeled_manifest": str(manifest), "labeled_manifest": str(manifest),
                 "cache_dir": str(work / "cache"), "batch_size": batch},
    })
    trainer = Trainer(config, fresh=True)
    trainer.train_step(StepTimes())  # warm-up (allocations, autotuning)
    times = StepTimes()
    started = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(times)
    elapsed = time.perf_counter() - started
    split = {name: getattr(times, name) / steps for name in ("data", "augment", "forward", "backward")}
    return {
        "encoder": encoder, "device": str(trainer.device), "batch_clips": batch, "views": config.data.views,
        "samples_per_s": batch * steps / elapsed, "step_s": elapsed / steps,
        **{f"{name}_s": value for name, value in split.items()},
        **{f"{name}_share": value / (elapsed / steps) for name, value in split.items()},
    }


def bench_augmentation(encoder: str, device: str, batch: int, repeats: int) -> dict:
    rates = {"logfreqcnn": (16000, 43200), "samplecnn": (22050, 59535)}
    sample_rate, window = rates[encoder]
    torch_device = torch.device(device)
    augmenter = BatchAugmenter(AugmentConfig(), sample_rate, window, seed=0)
    audio = (torch.randn(batch, 2, augmenter.input_samples()) * 0.1).to(torch_device)
    results = {}
    for name, run in (("batched", lambda: augmenter(audio)), ("clip_by_clip", lambda: augment_clip_by_clip(augmenter, audio))):
        run()
        _sync(torch_device)
        started = time.perf_counter()
        for _ in range(repeats):
            run()
        _sync(torch_device)
        results[f"{name}_samples_per_s"] = batch * repeats / (time.perf_counter() - started)
    results["speedup"] = results["batched_samples_per_s"] / results["clip_by_clip_samples_per_s"]
    return {"encoder": encoder, "device": device, "batch_clips": batch, **results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=16, help="clips per step")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--augment-batch", type=int, default=32)
    parser.add_argument("--augment-repeats", type=int, default=3)
    parser.add_argument("--encoders", default=",".join(ENCODERS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {"torch_threads": torch.get_num_threads(), "steps": [], "augmentation": []}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        manifest = write_chord_corpus(work / "corpus", KEYS, tracks_per_key=4, seconds=12.0, sample_rate=22050, seed=0)
        for encoder in args.encoders.split(","):
            report["steps"].append(bench_steps(encoder, manifest, work, args.device, args.batch, args.steps))
            report["augmentation"].append(bench_augmentation(encoder, args.device, args.augment_batch, args.augment_repeats))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"torch threads: {report['torch_threads']}")
    for row in report["steps"]:
        print(
            f"{row['encoder']:>10} {row['device']}: {row['samples_per_s']:.2f} samples/s ({row['batch_clips']} clips x "
            f"{row['views']} views, {row['step_s']:.2f} s/step); data {row['data_share']:.0%}, augment "
            f"{row['augment_share']:.0%}, forward {row['forward_share']:.0%}, backward {row['backward_share']:.0%}"
        )
    for row in report["augmentation"]:
        print(
            f"{row['encoder']:>10} augmentation on {row['device']}: batched {row['batched_samples_per_s']:.1f} samples/s, "
            f"clip-by-clip {row['clip_by_clip_samples_per_s']:.1f} samples/s, ratio {row['speedup']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
