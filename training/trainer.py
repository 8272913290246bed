"""The training loop, in one readable place (pretraining and finetuning share it).

    batch = batches.next()                   # labeled + unlabeled clips, V adjacent views each (CPU, memmap,
                                             # composed ahead in a background thread)
    audio, semitones = augment(batch.audio)  # batched, on the training device
    loss = learner(audio, ...)               # encoder → projection → SemiSupCon (+ heads when finetuning)
    loss.backward(); clip; optimizer.step()  # AMP bf16 on GPU, DDP averages gradients

Run with ``python -m training.cli pretrain --config FILE`` or, on several GPUs/processes,
``torchrun --nproc_per_node N -m training.cli pretrain --config FILE`` (NCCL on GPU, gloo on CPU).
A run folder (its layout: ``engine.run_folder``) resumes from its latest checkpoint unless ``fresh=True``, and
only with the configuration it was started with unless ``override=True`` (the changes are then recorded in its
``config.json``). Given an ``EventWriter``, rank 0 reports progress, metrics and checkpoints as events.

Under several processes every rank decodes its part of a missing audio cache and the ranks then wait for
each other on a gloo group of their own with a long timeout, so no NCCL collective is ever held while audio
is decoded (NCCL's watchdog kills a collective after 10 minutes). ``engine train cache`` builds the cache
as a step of its own beforehand.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from engine.atomic_write import write_bytes_atomically
from engine.keys import KEY_CLASS_NAMES
from engine.networks import BlockStatistics
from engine.run_folder import (
    TENSORBOARD_DIR, RunFolderError, checkpoint_folder, dangling_latest, labels_path, metrics_path, read_metrics,
    summary_path,
)
from engine.training_events import TRAINING, EventWriter
from engine.tag_suggestions import label_field
from training import checkpoints
from training.augment import BatchAugmenter
from training.config import RESUMABLE_KEYS, TrainConfig, config_changes, config_to_dict
from training.data import (
    AudioCache, BatchComposer, LabeledShareError, LabelVocabulary, ManifestEntry, make_tracks, read_manifest, split_labeled,
)
from training.learner import Learner
from training.prefetch import BatchPrefetcher
from training.run_lock import RunLock, RunLockedError
from training.step_boundary import StepBoundary

if TYPE_CHECKING:  # training.resolve imports this module (for TrainingError)
    from training.resolve import ResolvedTraining

STATISTICS_FIT_BATCHES = 16  # 16 x batch_size windows fix a statistics embedding's standardisation
# How long ranks wait for each other to finish decoding the audio cache (on a gloo group of its own; NCCL's
# default 10 minutes would kill the first launch on any real dataset). A week: decoding is never the limit.
CACHE_WAIT_TIMEOUT = timedelta(days=7)


class TrainingError(Exception):
    """The run cannot start or go on (no data, diverged); the message says why and what to try."""


@dataclass
class StepTimes:
    """Seconds spent per phase since the last log line."""

    data: float = 0.0
    augment: float = 0.0
    forward: float = 0.0
    backward: float = 0.0
    steps: int = 0
    started: float = field(default_factory=time.perf_counter)


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then constant or cosine decay to ``min_lr_ratio * lr`` at ``run.steps``."""
    optim = config.optim
    if optim.warmup_steps and step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    if optim.schedule == "constant":
        return optim.lr
    progress = (step - optim.warmup_steps) / max(1, config.run.steps - optim.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return optim.lr * (optim.min_lr_ratio + (1 - optim.min_lr_ratio) * cosine)


def setup_distributed(device_setting: str) -> tuple[int, int, torch.device]:
    """(rank, world_size, device); initialises the process group when launched by torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    use_cuda = torch.cuda.is_available() if device_setting == "auto" else device_setting.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise TrainingError(f"run.device is {device_setting!r}, but this machine has no usable CUDA device "
                            "(\"auto\" trains on the CPU here)")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    return rank, world_size, device


class Trainer:
    """Sets up data, augmentation, learner and optimizer from a resolved ``TrainConfig``; ``fit()`` runs the loop.
    From construction until ``fit()`` ends the run folder is locked: a second run in it is refused."""

    def __init__(self, training: ResolvedTraining, fresh: bool = False, override: bool = False,
                 events: EventWriter | None = None) -> None:
        """``training`` comes from ``training.resolve.resolve_training``: the trainer runs it as it is."""
        config = training.config
        self.config, self.mode = config, str(training.mode)
        self.rank, self.world_size, self.device = setup_distributed(config.run.device)
        self.events = events if events is not None and self.rank == 0 else EventWriter()  # one stream: rank 0's
        self.run_dir = Path(config.run.output_dir)
        if config.data.batch_size % self.world_size:
            raise TrainingError(f"data.batch_size {config.data.batch_size} is not divisible by {self.world_size} processes")
        self._run_lock = self._lock_run_folder()
        try:
            self._set_up(training, fresh, override)
        except BaseException:
            self.release_run_folder()
            raise

    def _set_up(self, training: ResolvedTraining, fresh: bool, override: bool) -> None:
        """Everything ``__init__`` does while it holds the run folder's lock."""
        config = self.config
        torch.manual_seed(config.run.seed + self.rank)
        architecture = self.architecture = training.architecture
        initial_weights = training.start.weights_for(architecture) if training.start is not None else None
        self.sample_rate, self.window_samples = training.encoder.sample_rate, training.encoder.window_samples
        self.augmenter = BatchAugmenter(config.augment, self.sample_rate, self.window_samples, seed=config.run.seed * 1000 + self.rank)

        self.composer, self.vocabulary = self._make_data()
        finetune = training.finetune
        # A tag head comes along when tags are trained, or when the starting model has one for these very labels:
        # a stage that trains something else (the key path) must hand the model on with its tags, not without.
        carries_tags = training.start is not None and training.start.tag_names == self.vocabulary.names
        self.learner = Learner(
            architecture,
            config.loss,
            finetune,
            tag_count=len(self.vocabulary) if finetune and (config.finetune.tag_weight > 0 or carries_tags) else 0,
            with_key=bool(finetune and config.finetune.key_weight > 0),
        )
        if initial_weights is not None:
            if training.start.tag_names != self.vocabulary.names:  # a tag head is only kept for the very same labels
                initial_weights = {name: t for name, t in initial_weights.items() if not name.startswith("tag_head.")}
            self.learner.load_state_dict(_fitting_heads(initial_weights, self.learner.state_dict()), strict=False)
        statistics = getattr(self.learner.encoder, "embedding", None)
        if isinstance(statistics, BlockStatistics) and not int(statistics.fitted):
            self._fit_block_statistics(statistics)
        if finetune and finetune.trainable:
            try:
                self.learner.restrict_training(finetune.trainable)
            except ValueError as error:
                raise TrainingError(f"finetune.trainable: {error}") from None
        if config.run.sync_batchnorm and self.world_size > 1:
            if self.device.type != "cuda":
                raise TrainingError("run.sync_batchnorm needs CUDA devices (torch's SyncBatchNorm does not run on CPU); set it to false")
            self.learner = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.learner)
        self.learner.to(self.device)
        self.optimizer = self._make_optimizer()
        self.amp_enabled = config.run.amp == "bf16" or (config.run.amp == "auto" and self.device.type == "cuda")
        self.model: torch.nn.Module = self.learner
        if self.world_size > 1:
            self.model = DistributedDataParallel(
                self.learner, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if config.run.compile:
            self.model = torch.compile(self.model)
        self.step = 0
        self.batches = BatchPrefetcher(self.composer, config.data.prefetch_batches)
        latest = None if fresh else checkpoints.latest_checkpoint(self.run_dir)
        missing = None if fresh else dangling_latest(self.run_dir)
        if missing is not None:
            raise TrainingError(f"{self.run_dir}: checkpoints/latest names {missing}, which is not there; put the name "
                                "of a checkpoint that is there into that file to resume from it, or run with --fresh "
                                "to start again (the earlier checkpoints are set aside, not deleted)")
        if latest is not None:
            summary = checkpoints.read_run_summary(latest)
            changes = self._config_changes(summary, override)
            self._resume(latest)
            if changes and self.rank == 0:
                self._record_changes(summary, changes)
        elif self.rank == 0:
            aside = checkpoints.set_aside(self.run_dir)
            if aside is not None:
                print(f"the earlier run in {self.run_dir} (its checkpoints, config, labels and metrics) moved to {aside}",
                      file=sys.stderr)
            self._start_run_folder()

    # ------------------------------------------------------------ setup

    def _lock_run_folder(self) -> RunLock | None:
        """Rank 0 holds the run folder's lock until ``fit()`` ends (the other ranks belong to the same run)."""
        if self.rank != 0:
            return None
        try:
            return RunLock.acquire(self.run_dir)
        except RunLockedError as error:
            raise TrainingError(str(error)) from None

    def release_run_folder(self) -> None:
        """Let another run use the run folder (``fit()`` does this as it ends, however it ends)."""
        if self._run_lock is not None:
            self._run_lock.release()

    def _make_data(self) -> tuple[BatchComposer, LabelVocabulary]:
        data = self.config.data
        if self.mode == "finetune":
            if not self.config.finetune.manifest:
                raise TrainingError("finetune needs finetune.manifest (JSONL with \"labels\" and/or \"key\")")
            labeled_entries, unlabeled_entries = read_manifest(self.config.finetune.manifest, data.split), []
            labeled_share = 1.0
            if self.config.finetune.unlabeled_manifest:
                unlabeled_entries = read_manifest(self.config.finetune.unlabeled_manifest, data.split)
                labeled_share = data.labeled_share
        else:
            unlabeled_entries = read_manifest(data.unlabeled_manifest, data.split) if data.unlabeled_manifest else []
            labeled_entries = read_manifest(data.labeled_manifest, data.split) if data.labeled_manifest else []
            labeled_entries = [entry for entry in labeled_entries if entry.labels]
            labeled_entries, demoted = split_labeled(labeled_entries, data.labeled_fraction, self.config.run.seed)
            unlabeled_entries += demoted
            labeled_share = data.labeled_share
        if not labeled_entries and not unlabeled_entries:
            raise TrainingError(f"no tracks of split {data.split!r} in the configured manifests")
        cache = self._build_cache(labeled_entries + unlabeled_entries)
        vocabulary = LabelVocabulary.from_entries(labeled_entries)
        labeled = make_tracks(labeled_entries, cache, vocabulary, with_labels=True)
        unlabeled = make_tracks(unlabeled_entries, cache, vocabulary, with_labels=False)
        if labeled_share == 0.0:
            unlabeled, labeled = unlabeled + labeled, []
        try:  # one global batch drawn alike on every rank (one seed), each rank reading its share
            composer = BatchComposer(
                labeled, unlabeled, len(vocabulary), data.batch_size, data.views, self.window_samples,
                self.augmenter.input_samples(), labeled_share, seed=self.config.run.seed, rank=self.rank, world_size=self.world_size,
            )
        except LabeledShareError as error:
            raise TrainingError(str(error)) from None
        return composer, vocabulary

    def _build_cache(self, entries: list[ManifestEntry]) -> AudioCache:
        """Decode what the cache lacks, each rank its interleaved part; ranks then wait for each other on a
        gloo group with ``CACHE_WAIT_TIMEOUT``, never inside an NCCL collective."""
        data = self.config.data
        cache = AudioCache(data.cache_dir, self.sample_rate, data.max_seconds)
        # Made while the ranks are together: gloo connects its peers when a group is created.
        waiting = dist.new_group(backend="gloo", timeout=CACHE_WAIT_TIMEOUT) if self.world_size > 1 else None
        problems = cache.build(entries, workers=data.decode_workers, part=(self.rank, self.world_size))
        for path, reason in list(problems.items())[:5]:
            print(f"skipped {path}: {reason}", file=sys.stderr)
        if waiting is not None:
            dist.barrier(group=waiting)
            cache.refresh()
            usable = torch.tensor([len(cache.usable(entries))] * 2)
            usable[1] *= -1
            dist.all_reduce(usable, op=dist.ReduceOp.MAX, group=waiting)
            dist.destroy_process_group(waiting)
            if usable[0] != -usable[1]:
                raise TrainingError(
                    f"ranks see different audio caches in {data.cache_dir} ({-int(usable[1])} to {int(usable[0])} tracks): "
                    "data.cache_dir must be one folder every node sees, or build it on every node first with "
                    "`engine train cache --config FILE`"
                )
        return cache

    def _fit_block_statistics(self, statistics) -> None:
        """Measure the statistics embedding's standardisation on ``STATISTICS_FIT_BATCHES`` batches of the
        training data, unaugmented (one centred window per clip), before any step: the moments are fixed
        from then on and travel with the weights."""
        encoder = self.learner.encoder
        was_training = encoder.training
        encoder.eval()
        raw = []
        with torch.inference_mode():
            for _ in range(STATISTICS_FIT_BATCHES):
                audio = self.composer.next_batch().audio[:, 0]
                offset = max(0, (audio.shape[-1] - self.window_samples) // 2)
                windows = audio[:, offset:offset + self.window_samples]
                raw.append(statistics.raw(encoder.block_outputs(windows)))
        statistics.fit(torch.cat(raw))
        encoder.train(was_training)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        optim = self.config.optim
        scale = self.config.finetune.encoder_lr_scale if self.mode == "finetune" else 1.0
        encoder_parameters = list(self.learner.encoder.parameters())
        encoder_ids = {id(parameter) for parameter in encoder_parameters}
        groups = [
            {"params": encoder_parameters, "lr_scale": scale},
            {"params": [p for p in self.learner.parameters() if id(p) not in encoder_ids], "lr_scale": 1.0},
        ]
        kind = torch.optim.AdamW if optim.name == "adamw" else torch.optim.Adam
        return kind(groups, lr=optim.lr, betas=optim.betas, eps=optim.eps, weight_decay=optim.weight_decay)

    def _start_run_folder(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        summary = {
            "mode": self.mode, "world_size": self.world_size, "architecture": self.architecture,
            "config": config_to_dict(self.config),
        }
        summary_path(self.run_dir).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        labels = {"tags": self.vocabulary.names, "keys": list(KEY_CLASS_NAMES)}
        labels_path(self.run_dir).write_text(json.dumps(labels, indent=2) + "\n", encoding="utf-8")
        metrics_path(self.run_dir).write_text("", encoding="utf-8")

    # ------------------------------------------------------------ checkpoints

    def save_checkpoint(self) -> Path:
        """Save the state after ``self.step`` steps; a learner with non-finite values is refused, so ``latest``
        stays the last good checkpoint."""
        self._check_finite()
        folder = checkpoint_folder(self.run_dir, self.step)
        state: dict[str, Any] = {
            "step": self.step,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else torch.zeros(0, dtype=torch.uint8),
            "augment_rng": self.augmenter.rng_state(),
            "composer": self.batches.state(),
        }
        if self.rank == 0:
            checkpoints.save_weights(folder, self.learner.state_dict())
            state["optimizer"] = self.optimizer.state_dict()
        checkpoints.save_state(folder, self.rank, state)
        if self.world_size > 1:
            dist.barrier()
        if self.rank == 0:
            checkpoints.mark_latest(self.run_dir, self.step, self.config.run.keep_checkpoints)
            self.events.checkpoint(self.step, folder)
        return folder

    def _check_finite(self) -> None:
        """``TrainingError`` when a weight or statistic is NaN or infinite: the last update diverged, and no command
        could use a checkpoint of it."""
        broken = [name for name, tensor in self.learner.state_dict().items()
                  if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
        if broken:
            latest = checkpoints.latest_checkpoint(self.run_dir)
            raise TrainingError(
                f"{len(broken)} weights became NaN or infinite at step {self.step} (e.g. {broken[0]}): training diverged "
                f"and was not saved. Last good checkpoint: {latest or 'none'}. Try a lower optim.lr or optim.grad_clip = 1.0."
            )

    def _resume(self, folder: Path) -> None:
        self.learner.load_state_dict({k: v.to(self.device) for k, v in checkpoints.load_weights(folder).items()})
        own = checkpoints.load_state(folder, self.rank)
        shared = own if self.rank == 0 else checkpoints.load_state(folder, 0)
        _check_optimizer_state(shared["optimizer"], self.optimizer, folder)
        self.optimizer.load_state_dict(shared["optimizer"])
        self.step = int(own["step"])
        torch.set_rng_state(own["torch_rng"])
        if self.device.type == "cuda" and own["cuda_rng"].numel():
            torch.cuda.set_rng_state(own["cuda_rng"], self.device)
        self.augmenter.load_rng(own["augment_rng"])
        self.composer.load_state(shared["composer"])  # one global batch stream: rank 0's is every rank's
        if self.rank == 0:
            self._truncate_metrics(self.step)

    def _config_changes(self, summary: dict[str, Any], override: bool) -> dict[str, tuple[Any, Any]]:
        """What differs from the configuration the run folder was started with. The architecture and the mode
        can never change (the weights would not fit); other keys outside ``RESUMABLE_KEYS`` only with ``override``."""
        where = f"run folder {self.run_dir}"
        if json.loads(json.dumps(self.architecture)) != summary.get("architecture"):
            raise TrainingError(f"{where} holds another encoder architecture; its weights cannot carry over: start it "
                                "again with --fresh or give another run.output_dir")
        if summary.get("mode", self.mode) != self.mode:
            raise TrainingError(f"{where} is a {summary['mode']} run, not {self.mode}: give another run.output_dir")
        changes = config_changes(summary.get("config", {}), config_to_dict(self.config))
        refused = sorted(key for key in changes if key not in RESUMABLE_KEYS)
        if refused and not override:
            listed = ", ".join(f"{key} {changes[key][0]!r} -> {changes[key][1]!r}" for key in refused)
            raise TrainingError(f"{where} was started with another configuration ({listed}): rerun with --override to "
                                "apply the new values from its latest checkpoint, or --fresh to start again")
        return changes

    def _record_changes(self, summary: dict[str, Any], changes: dict[str, tuple[Any, Any]]) -> None:
        """``config.json`` says what runs from now on and, under ``resumes``, what changed at which step."""
        summary["config"] = config_to_dict(self.config)
        summary.setdefault("resumes", []).append(
            {"step": self.step, "changes": {key: list(values) for key, values in sorted(changes.items())}}
        )
        path = summary_path(self.run_dir)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        partial.replace(path)

    def _truncate_metrics(self, step: int) -> None:
        """Drop metric lines past the resumed step (and one cut short by a crash) so the file reads as one
        uninterrupted run; rewritten atomically, so a crash now never loses the history."""
        path = metrics_path(self.run_dir)
        if not path.is_file():
            return
        try:
            records = read_metrics(self.run_dir)
        except RunFolderError as error:
            raise TrainingError(str(error)) from None
        kept = "".join(json.dumps(record) + "\n" for record in records if record["step"] <= step)
        write_bytes_atomically(path, kept.encode("utf-8"))

    # ------------------------------------------------------------ the loop

    def _sync(self) -> None:
        if self.config.run.time_split and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _unshiftable(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        """Pretraining clips labeled with a key (``key:...``): SemiSupCon's positives by label would be wrong
        after a pitch shift, so they keep their pitch (finetuning moves key targets with the shift instead)."""
        if self.mode != "pretrain" or labels is None or not self._key_label_columns:
            return None
        return labels[:, self._key_label_columns].sum(dim=1) > 0

    @functools.cached_property
    def _key_label_columns(self) -> list[int]:
        return [index for index, name in enumerate(self.vocabulary.names) if label_field(name) == "key"]

    def train_step(self, times: StepTimes) -> tuple[float, dict[str, float]]:
        """One optimisation step; returns the loss averaged over ranks and its logged parts."""
        started = time.perf_counter()
        batch = self.batches.next().to(self.device)
        self._sync()
        after_data = time.perf_counter()
        audio, semitones = self.augmenter(batch.audio, self._unshiftable(batch.labels))
        self._sync()
        after_augment = time.perf_counter()

        lr = learning_rate(self.step, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.amp_enabled else contextlib.nullcontext()
        with autocast:
            loss, parts = self.model(audio, batch.labels, batch.key_index, semitones)
        self._sync()
        after_forward = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.learner.parameters(), self.config.optim.grad_clip)
        self.optimizer.step()
        self._sync()
        finished = time.perf_counter()

        times.data += after_data - started
        times.augment += after_augment - after_data
        times.forward += after_forward - after_augment
        times.backward += finished - after_forward
        times.steps += 1
        logged = torch.stack([loss.detach().float(), *[value.float() for value in parts.values()]])
        if self.world_size > 1:
            dist.all_reduce(logged)
            logged /= self.world_size
        values = logged.tolist()
        if not all(math.isfinite(value) for value in values):
            latest = checkpoints.latest_checkpoint(self.run_dir)
            raise TrainingError(
                f"loss became {values[0]} at step {self.step + 1}: training diverged. Last good checkpoint: "
                f"{latest or 'none'}. Try a lower optim.lr, optim.grad_clip = 1.0, or run.amp = \"off\"."
            )
        return values[0], dict(zip(parts.keys(), values[1:]))

    def fit(self) -> list[float]:
        """Train until ``run.steps``; returns this session's per-step losses. Ctrl-C or SIGTERM ends the step under way
        and saves a checkpoint first (``training.step_boundary``); a second one stops at once without saving."""
        run = self.config.run
        writer = _summary_writer(self.run_dir) if self.rank == 0 else None
        progress = _progress(run.progress and self.rank == 0, self.mode)
        self.events.announce(TRAINING)
        losses: list[float] = []
        times = StepTimes()
        boundary = StepBoundary()
        try:
            with progress:
                task = progress.add_task(self.mode, total=run.steps, completed=self.step, loss=float("nan"))
                while self.step < run.steps:
                    with boundary:  # a stop signal takes effect after the step, its metrics and its checkpoint
                        loss, parts = self.train_step(times)
                        self.step += 1
                        losses.append(loss)
                        progress.update(task, completed=self.step, loss=loss)
                        self.events.progress(self.step, run.steps)
                        if self.step % run.log_every == 0 or self.step == run.steps:
                            self._log(loss, parts, times, writer)
                            times = StepTimes()
                        if self.step % run.checkpoint_every == 0 or self.step == run.steps:
                            self.save_checkpoint()
        except KeyboardInterrupt:
            saved = checkpoints.latest_checkpoint(self.run_dir) == checkpoint_folder(self.run_dir, self.step)
            if not saved and not boundary.cut_short:  # cut short: half a step, never saved; the latest one resumes
                self.save_checkpoint()  # not when this step's is saved already: it would be rewritten in place
            raise
        finally:
            self.batches.close()
            if writer is not None:
                writer.close()
            self.release_run_folder()
        return losses

    def _log(self, loss: float, parts: dict[str, float], times: StepTimes, writer) -> None:
        if self.rank != 0:
            return
        elapsed = max(time.perf_counter() - times.started, 1e-9)
        clips = times.steps * self.config.data.batch_size
        record = {
            "step": self.step,
            "loss": loss,
            **{f"loss_{name}": value for name, value in parts.items()},
            "lr": learning_rate(self.step - 1, self.config),
            "samples_per_s": clips / elapsed,
            "views_per_s": clips * self.config.data.views / elapsed,
            "time_data_s": times.data / times.steps,
            "time_augment_s": times.augment / times.steps,
            "time_forward_s": times.forward / times.steps,
            "time_backward_s": times.backward / times.steps,
            "labeled_per_batch": self.composer.labeled_count,
            "wall_time": time.time(),
        }
        with open(metrics_path(self.run_dir), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        self.events.metrics(self.step, record)
        if writer is not None:
            for name, value in record.items():
                if name not in ("step", "wall_time"):
                    writer.add_scalar(f"train/{name}", value, self.step)


def _check_optimizer_state(saved: dict[str, Any], optimizer: torch.optim.Optimizer, folder: Path) -> None:
    """Refuse a checkpoint's optimizer state whose parameters do not line up with this learner's: the state is
    kept by position, and a run with an invariant embedding saved before weight layout 2 (engine.weight_layouts)
    registered its layers in another order. Its weights still carry over to a finetune that starts from it."""
    parameters = [parameter for group in optimizer.param_groups for parameter in group["params"]]
    positions = [position for group in saved.get("param_groups", []) for position in group["params"]]
    state = saved.get("state", {})
    fits = len(positions) == len(parameters) and all(
        value.shape == parameter.shape
        for position, parameter in zip(positions, parameters)
        for value in state.get(position, {}).values() if torch.is_tensor(value) and value.dim() > 0
    )
    if not fits:
        raise TrainingError(f"{folder}: its optimizer state does not fit this learner's parameters (saved with "
                            "another layer order): start a finetune from it (finetune.init_from) or start it again with --fresh")


def _fitting_heads(initial: dict[str, torch.Tensor], own: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``initial`` without head weights that this learner has no place for (no such head, or another shape, as
    the training projection has when the embedding changes width)."""
    return {
        name: tensor for name, tensor in initial.items()
        if not name.startswith(("key_head.", "tag_head.", "projection.")) or (name in own and own[name].shape == tensor.shape)
    }


def _summary_writer(run_dir: Path):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR))


def _progress(enabled: bool, mode: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(f"[bold]{mode}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(), disable=not enabled, transient=False, console=Console(stderr=True),
    )


__all__ = ["Trainer", "TrainingError", "learning_rate", "setup_distributed"]
