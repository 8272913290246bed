"""Training throughput: samples/s and the step split data / augmentation / forward / backward, per encoder,
and batched augmentation against the reference's clip-by-clip chain on the same device.

    .venv/bin/python benchmarks/bench_training.py [--device cpu|cuda] [--batch 16] [--steps 5] [--json]
    .venv/bin/python benchmarks/bench_training.py --device cuda        # the GPU report (defaults below)

A sample is one clip (V = 2 views of 2.7 s). The run uses the real Trainer on a synthesised chord corpus.

With ``--device cuda`` (or ``--pipelines``) it also compares, for SampleCNN at the reference's batch 96 x 2
views, the engine's pipeline (batches composed ahead in a thread, augmentation batched on the GPU, bf16)
with the reference's (each clip augmented on the CPU by DataLoader workers, then the same model step on
the GPU): samples/s, GPU busy share (CUDA kernel time over wall time, from torch.profiler) and where a
step's time goes. Targets: >= 3x the reference pipeline's samples/s, GPU busy >= 85 %.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.keys import Key  # noqa: E402
from training.augment import BatchAugmenter, augment_clip_by_clip  # noqa: E402
from training.config import AugmentConfig, config_from_dict  # noqa: E402
from training.data import BatchComposer, Track  # noqa: E402
from training.synthetic import write_chord_corpus  # noqa: E402
from training.resolve import resolve_training  # noqa: E402
from training.trainer import StepTimes, Trainer  # noqa: E402

ENCODERS = ("logfreqcnn", "samplecnn")
KEYS = [Key(0, "major"), Key(7, "major"), Key(9, "minor"), Key(4, "minor")]
REFERENCE_BATCH = 96  # the paper's clips per step (x 2 views)
WARMUP_STEPS = {"cuda": 3, "cpu": 1}  # allocations, cuDNN autotuning, the prefetch thread filling its queue


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_trainer(encoder: str, manifest: Path, work: Path, device: str, batch: int, time_split: bool = True) -> Trainer:
    config = config_from_dict({
        "run": {"output_dir": str(work / f"run_{encoder}_{batch}"), "steps": 10**6, "progress": False, "device": device,
                "log_every": 10**9, "checkpoint_every": 10**9, "time_split": time_split},
        "encoder": {"type": encoder},
        "data": {"unlabeled_manifest": str(manifest), "labeled_manifest": str(manifest),
                 "cache_dir": str(work / "cache"), "batch_size": batch, "decode_workers": os.cpu_count() or 2},
    })
    return Trainer(resolve_training(config), fresh=True)


def step_split(trainer: Trainer, steps: int) -> dict:
    """Seconds per step and its split; the split synchronises the device around each phase (run.time_split)."""
    for _ in range(WARMUP_STEPS[trainer.device.type]):
        trainer.train_step(StepTimes())
    times = StepTimes()
    started = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(times)
    _sync(trainer.device)
    elapsed = time.perf_counter() - started
    split = {name: getattr(times, name) / steps for name in ("data", "augment", "forward", "backward")}
    return {
        "samples_per_s": trainer.config.data.batch_size * steps / elapsed, "step_s": elapsed / steps,
        **{f"{name}_s": value for name, value in split.items()},
        **{f"{name}_share": value / (elapsed / steps) for name, value in split.items()},
    }


def bench_steps(encoder: str, manifest: Path, work: Path, device: str, batch: int, steps: int) -> dict:
    trainer = make_trainer(encoder, manifest, work, device, batch)
    return {"encoder": encoder, "device": str(trainer.device), "batch_clips": batch, "views": trainer.config.data.views,
            **step_split(trainer, steps)}


def timed_steps(run_step, steps: int, device: torch.device) -> tuple[float, float | None]:
    """(wall seconds for ``steps`` calls, GPU busy share or None on CPU). Busy = summed CUDA kernel time over
    wall time in a second, profiled pass (the profiler's own overhead makes it a slight underestimate)."""
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        run_step()
    _sync(device)
    wall = time.perf_counter() - started
    if device.type != "cuda":
        return wall, None
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as profiled:
        profiled_started = time.perf_counter()
        for _ in range(steps):
            run_step()
        _sync(device)
        profiled_wall = time.perf_counter() - profiled_started
    kernel_us = sum(event.self_device_time_total for event in profiled.key_averages()
                    if event.device_type == torch.autograd.DeviceType.CUDA)
    return wall, min(1.0, kernel_us / 1e6 / profiled_wall)


class CpuAugmentedClips(IterableDataset):
    """The reference's data path: every DataLoader worker cuts clips and runs the augmentation chain on each
    one by itself, on the CPU; the main process only moves finished batches to the GPU."""

    def __init__(self, tracks: list[Track], sample_rate: int, window: int, views: int, seed: int) -> None:
        self.tracks, self.sample_rate, self.window, self.views, self.seed = tracks, sample_rate, window, views, seed

    def __iter__(self):
        worker = get_worker_info()
        seed = self.seed + (worker.id if worker else 0)
        augmenter = BatchAugmenter(AugmentConfig(), self.sample_rate, self.window, seed=seed)
        composer = BatchComposer([], self.tracks, 0, 1, self.views, self.window, augmenter.input_samples(), 0.0, seed=seed,
                                 pin_memory=False)  # the loader pins whole batches in the main process
        while True:
            augmented, _ = augmenter(composer.next_batch().audio)
            yield augmented[0]


def bench_pipelines(manifest: Path, work: Path, device: str, batch: int, steps: int, loader_workers: int) -> dict:
    """SampleCNN, ``batch`` clips x 2 views: the engine's GPU-side pipeline against the reference's CPU-side one."""
    trainer = make_trainer("samplecnn", manifest, work, device, batch, time_split=False)
    for _ in range(WARMUP_STEPS[trainer.device.type]):
        trainer.train_step(StepTimes())
    wall, busy = timed_steps(lambda: trainer.train_step(StepTimes()), steps, trainer.device)
    engine = {"samples_per_s": batch * steps / wall, "step_s": wall / steps, "gpu_busy_share": busy}
    trainer.config.run.time_split = True  # the split needs device syncs: measured apart from the throughput
    engine["split"] = step_split(trainer, steps)
    trainer.batches.close()

    tracks = [Track(np.asarray(track.samples), track.labels, track.key_index)
              for track in trainer.composer.labeled + trainer.composer.unlabeled]
    clips = CpuAugmentedClips(tracks, trainer.sample_rate, trainer.window_samples, trainer.config.data.views, seed=11)
    loader = iter(DataLoader(clips, batch_size=batch, num_workers=loader_workers, pin_memory=trainer.device.type == "cuda",
                             persistent_workers=loader_workers > 0, prefetch_factor=4 if loader_workers else None))
    no_keys = torch.full((batch,), -1, dtype=torch.long, device=trainer.device)
    no_shift = torch.zeros(batch, trainer.config.data.views, device=trainer.device)
    autocast = (torch.autocast(trainer.device.type, dtype=torch.bfloat16) if trainer.amp_enabled else contextlib.nullcontext())

    def reference_step() -> None:
        audio = next(loader).to(trainer.device, non_blocking=True)
        with autocast:
            loss, _ = trainer.model(audio, None, no_keys, no_shift)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()

    for _ in range(WARMUP_STEPS[trainer.device.type]):
        reference_step()
    wall, busy = timed_steps(reference_step, steps, trainer.device)
    reference = {"samples_per_s": batch * steps / wall, "step_s": wall / steps, "gpu_busy_share": busy,
                 "loader_workers": loader_workers}
    return {"encoder": "samplecnn", "device": str(trainer.device), "batch_clips": batch, "views": trainer.config.data.views,
            "amp_bf16": trainer.amp_enabled, "engine": engine, "reference_cpu_augmentation": reference,
            "speedup": engine["samples_per_s"] / reference["samples_per_s"]}


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


def _print_pipelines(row: dict) -> None:
    engine, reference = row["engine"], row["reference_cpu_augmentation"]
    busy = lambda share: "n/a" if share is None else f"{share:.0%}"  # noqa: E731
    split = engine["split"]
    print(
        f"SampleCNN {row['device']}, {row['batch_clips']} clips x {row['views']} views, bf16 {row['amp_bf16']}:\n"
        f"  engine (batched augmentation on {row['device']}, prefetch): {engine['samples_per_s']:.3g} samples/s, {engine['step_s'] * 1000:.0f} ms/step, "
        f"GPU busy {busy(engine['gpu_busy_share'])}\n"
        f"    step split (synchronised): data {split['data_s'] * 1000:.1f} ms, augment {split['augment_s'] * 1000:.1f} ms, "
        f"forward {split['forward_s'] * 1000:.1f} ms, backward + optimizer {split['backward_s'] * 1000:.1f} ms\n"
        f"  reference (clip-by-clip CPU augmentation, {reference['loader_workers']} workers): "
        f"{reference['samples_per_s']:.3g} samples/s, GPU busy {busy(reference['gpu_busy_share'])}\n"
        f"  ratio {row['speedup']:.2f}x (target >= 3x; GPU busy target >= 85 %)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=16, help="clips per step")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--augment-batch", type=int, default=32)
    parser.add_argument("--augment-repeats", type=int, default=3)
    parser.add_argument("--encoders", default=",".join(ENCODERS))
    parser.add_argument("--pipelines", action="store_true", help="compare with the reference pipeline (default on cuda)")
    parser.add_argument("--pipeline-batch", type=int, default=REFERENCE_BATCH)
    parser.add_argument("--pipeline-steps", type=int, default=20)
    parser.add_argument("--loader-workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="DataLoader workers of the reference pipeline")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"error: --device {args.device} needs a CUDA GPU, and torch sees none (torch.cuda.is_available() is False)",
              file=sys.stderr)
        return 1
    report = {"torch_threads": torch.get_num_threads(), "steps": [], "augmentation": [], "pipelines": []}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        manifest = write_chord_corpus(work / "corpus", KEYS, tracks_per_key=4, seconds=12.0, sample_rate=22050, seed=0)
        if args.pipelines or args.device.startswith("cuda"):
            report["pipelines"].append(bench_pipelines(manifest, work, args.device, args.pipeline_batch, args.pipeline_steps,
                                                       args.loader_workers))
        for encoder in args.encoders.split(","):
            report["steps"].append(bench_steps(encoder, manifest, work, args.device, args.batch, args.steps))
            report["augmentation"].append(bench_augmentation(encoder, args.device, args.augment_batch, args.augment_repeats))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for row in report["pipelines"]:
        _print_pipelines(row)
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
