"""Training configuration as data: TOML → dataclasses, every value defaulted to the SemiSupCon reference.

Reference: ``config/pretrain.yaml`` and the data module of the paper's code (Adam, lr 1e-4, batch 96,
two views of 2.7 s, temperature 0.1, severity modifier 2 (= our severity 1.0), labeled share 0.5).
Unknown keys are errors so that a typo never silently trains with a default.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from engine.networks import LogFreqCNNConfig, encoder_config_to_dict


class ConfigError(ValueError):
    """A configuration file is unreadable or holds an unknown key or a bad value."""


@dataclass
class RunConfig:
    name: str = "semisupcon"
    output_dir: str = "runs/semisupcon"
    seed: int = 123  # reference seed_everything
    device: str = "auto"  # "auto" = cuda when present, else cpu
    steps: int = 20000  # ~100 reference epochs of MTAT at batch 96
    log_every: int = 10
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    amp: str = "auto"  # "auto" = bf16 on cuda, off on cpu; "bf16" | "off"
    compile: bool = False
    # Synchronise the device four times a step to time data/augment/forward/backward separately (costs GPU
    # throughput; without it the split shows where the host waits, and samples/s stays exact).
    time_split: bool = False
    # Batch-norm statistics over the global batch instead of each GPU's share (torch SyncBatchNorm; CUDA only).
    # Worth it when a GPU's share is small (under ~32 clips), e.g. batch 96 on 8 GPUs. Reference: false.
    sync_batchnorm: bool = False
    progress: bool = True


@dataclass
class DataConfig:
    unlabeled_manifest: str = ""  # JSONL; empty = none
    labeled_manifest: str = ""  # JSONL with a "labels" list per line; empty = SSL only
    cache_dir: str = "cache/audio"
    split: str = "train"
    views: int = 2  # reference n_augmentations
    batch_size: int = 96  # clips per step over all ranks (reference 96)
    labeled_share: float = 0.5  # b_s: share of each batch that is labeled (reference intrabatch_supervised_p)
    labeled_fraction: float = 1.0  # p_s: share of the labeled set used as labeled; the rest joins the unlabeled pool
    decode_workers: int = 2
    prefetch_batches: int = 2  # batches composed ahead in a background thread (0 = on the training thread)
    max_seconds: float = 0.0  # > 0: cache only the middle excerpt of this length of each track (large libraries)


@dataclass
class LossConfig:
    temperature: float = 0.1
    min_shared_labels: int = 1
    weighting: str = "binary"  # "binary" | "dice"


@dataclass
class AugmentConfig:
    """Values at severity 1.0 (= the reference's severity_modifier 2); ``severity`` scales them as it does."""

    enabled: bool = True
    severity: float = 1.0
    chain_p: float = 0.8
    gain_p: float = 0.4
    gain_db: tuple[float, float] = (-15.0, 5.0)
    polarity_p: float = 0.6
    noise_p: float = 0.6
    noise_snr_db: tuple[float, float] = (3.0, 30.0)
    noise_decay: tuple[float, float] = (-2.0, 2.0)  # spectral slope: 0 white, 1 pink, 2 brown, <0 blue
    filter_p: float = 0.3
    band_center_hz: tuple[float, float] = (200.0, 4000.0)
    band_fraction: tuple[float, float] = (0.5, 1.99)
    highpass_hz: tuple[float, float] = (200.0, 2400.0)
    lowpass_hz: tuple[float, float] = (150.0, 7500.0)
    pitch_p: float = 0.6
    pitch_semitones: float = 4.0
    pitch_integer: bool = False  # whole semitones only (lets finetuning transpose key labels exactly)
    delay_p: float = 0.6
    delay_ms: tuple[float, float] = (100.0, 500.0)
    delay_volume: float = 0.5
    delay_repeats: int = 2
    delay_attenuation: float = 0.5


@dataclass
class OptimConfig:
    name: str = "adam"  # "adam" | "adamw"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "constant"  # "constant" | "cosine" (after warm-up, down to min_lr_ratio * lr)
    min_lr_ratio: float = 0.0
    grad_clip: float = 0.0  # 0 = no clipping (reference gradient_clip_val null)


@dataclass
class FinetuneConfig:
    """Supervised training of encoder + heads; ``contrastive_weight`` > 0 adds the SemiSupCon term."""

    init_from: str = ""  # a pretraining run folder or checkpoint folder; empty = from scratch
    manifest: str = ""  # JSONL with "labels" (tags) and/or "key" per line
    unlabeled_manifest: str = ""  # SemiSupCon's unlabeled part (then data.labeled_share of a batch is labeled); "" = none
    key_weight: float = 1.0
    tag_weight: float = 1.0
    contrastive_weight: float = 0.0
    key_consistency_weight: float = 0.0  # transposition consistency of the key head between views (no labels needed)
    # Cross-entropy of the views' mean key distribution (each view moved back by its pitch shift): the key the
    # product stores is that mean over a track's windows (engine.key_audio), so this trains what is read.
    key_pooled_weight: float = 0.0
    head_hidden_dim: int = 0  # 0 = linear heads
    encoder_lr_scale: float = 1.0
    # "" keeps the starting model's; "invariant" gives a LogFreqCNN a pitch-invariant embedding path (new
    # layers, trained here) while the pitch-position path and key head carry on (engine.networks).
    embedding_pooling: str = ""
    # "" keeps the starting model's; "pitch_class" gives a LogFreqCNN a transposition-equivariant key path and
    # head (new layers, trained here; engine.networks.PitchClassKeyPath).
    key_path: str = ""
    # -1 keeps the starting model's; n >= 1 gives a pitch-class key path a profile of the lowest n octaves beside
    # the all-octave one (a tonic cue; the starting key head is widened to compute what it did,
    # training.key_bass_widening); 0 takes it away (the key head keeps its all-octave half).
    key_bass_octaves: int = -1
    # Parameter-name prefixes to train (e.g. ["encoder.key_path.", "key_head."]); empty = all. Everything else
    # is frozen, batch-norm statistics included, so a shipped model's embedding and tags stay as they were.
    trainable: list[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    run: RunConfig = field(default_factory=RunConfig)
    encoder: dict[str, Any] = field(default_factory=lambda: encoder_config_to_dict(LogFreqCNNConfig()))
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)


def _fill(cls, values: dict[str, Any], where: str):
    known = {item.name: item for item in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown key(s) in [{where}]: {', '.join(unknown)}; known: {', '.join(known)}")
    defaults = cls()
    kwargs = {}
    for name, value in values.items():
        default = getattr(defaults, name)
        if is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"[{where}.{name}] must be a table")
            value = _fill(type(default), value, f"{where}.{name}" if where else name)
        elif isinstance(default, tuple):
            if not isinstance(value, list) or len(value) != len(default) or not all(
                    isinstance(item, (int, float)) and not isinstance(item, bool) for item in value):
                raise ConfigError(f"{where}.{name} must be a list of {len(default)} numbers like {list(default)}, "
                                  f"got {value!r}")
            value = tuple(float(item) if isinstance(default[0], float) else item for item in value)
        elif isinstance(default, dict) and not isinstance(value, dict):
            raise ConfigError(f"[{where + '.' if where else ''}{name}] must be a table, got {value!r}")
        elif isinstance(default, list) and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
            raise ConfigError(f"{where}.{name} must be a list of names like [\"encoder.\"], got {value!r}")
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{where}.{name} must be true or false, got {value!r}")
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif default is not None and not isinstance(value, type(default)):
            raise ConfigError(f"{where}.{name} must be {type(default).__name__}, got {value!r}")
        if not _finite(value):
            raise ConfigError(f"{where}.{name} must be a finite number, got {value!r}")
        kwargs[name] = value
    return cls(**kwargs)


def _finite(value: Any) -> bool:
    """False for a number (or a tuple holding one) that TOML's ``nan`` or ``inf`` made: no setting means either."""
    numbers = value if isinstance(value, tuple) else (value,)
    return all(math.isfinite(item) for item in numbers if isinstance(item, float))


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    config = _fill(TrainConfig, values, "")
    if "encoder" in values:
        if "type" not in config.encoder:
            raise ConfigError("[encoder] needs a type: \"logfreqcnn\" or \"samplecnn\"")
    validate(config)
    return config


def load_config(path: Path | str) -> TrainConfig:
    """Read a TOML file; relative paths inside it stay relative to the working directory."""
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # -sig: Windows Notepad starts a file with a BOM
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a config file") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text (UTF-8) TOML file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    return config_from_dict(values)


# The finetuning loss terms' weights: each term is on when its weight is > 0; a negative one would maximise it.
FINETUNE_WEIGHTS = ("key_weight", "tag_weight", "contrastive_weight", "key_consistency_weight", "key_pooled_weight")


def validate(config: TrainConfig) -> None:
    if config.data.views < 1 or config.data.batch_size < 1:
        raise ConfigError("data.views and data.batch_size must be at least 1")
    small = {name: getattr(config.run, name) for name in ("steps", "log_every", "checkpoint_every", "keep_checkpoints")
             if getattr(config.run, name) < 1}
    if small:
        raise ConfigError(f"run.steps, run.log_every, run.checkpoint_every and run.keep_checkpoints must be at least "
                          f"1, got {small}")
    if not (math.isfinite(config.optim.lr) and config.optim.lr > 0):
        raise ConfigError(f"optim.lr must be a finite number more than 0, got {config.optim.lr}")
    if config.run.device not in ("auto", "cpu") and not config.run.device.startswith("cuda"):
        raise ConfigError(f"run.device must be \"auto\", \"cpu\" or \"cuda\", got {config.run.device!r}")
    if not 0.0 <= config.data.labeled_share <= 1.0 or not 0.0 <= config.data.labeled_fraction <= 1.0:
        raise ConfigError("data.labeled_share and data.labeled_fraction must lie in [0, 1]")
    if config.loss.weighting not in ("binary", "dice"):
        raise ConfigError(f"loss.weighting must be \"binary\" or \"dice\", got {config.loss.weighting!r}")
    if config.optim.name not in ("adam", "adamw"):
        raise ConfigError(f"optim.name must be \"adam\" or \"adamw\", got {config.optim.name!r}")
    if config.optim.schedule not in ("constant", "cosine"):
        raise ConfigError(f"optim.schedule must be \"constant\" or \"cosine\", got {config.optim.schedule!r}")
    weights = {name: getattr(config.finetune, name) for name in FINETUNE_WEIGHTS}
    negative = {name: value for name, value in weights.items() if value < 0}
    if negative:
        raise ConfigError(f"finetune weights must be 0 or more, got {negative}")
    if config.finetune.key_bass_octaves < -1:
        raise ConfigError(f"finetune.key_bass_octaves must be -1 (keep the starting model's) or 0 or more, got "
                          f"{config.finetune.key_bass_octaves}")
    if config.data.prefetch_batches < 0:
        raise ConfigError(f"data.prefetch_batches must be 0 or more, got {config.data.prefetch_batches}")
    if config.run.amp not in ("auto", "bf16", "off"):
        raise ConfigError(f"run.amp must be \"auto\", \"bf16\" or \"off\", got {config.run.amp!r}")


# Keys a resumed run may change without --override: they set how long it runs and how it reports, not what
# one step computes (the learning-rate schedule's length follows run.steps, and warm-up with it).
RESUMABLE_KEYS = frozenset({
    "run.name", "run.output_dir", "run.steps", "run.log_every", "run.checkpoint_every", "run.keep_checkpoints",
    "run.time_split", "run.progress", "run.compile", "optim.warmup_steps", "data.cache_dir", "data.decode_workers",
    "data.prefetch_batches",
})


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[prefix + name] = value
    return flat


def config_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{"section.key": (before, after)} for every value that differs between two ``config_to_dict`` results.
    A key that ``before`` lacks (an option added since) counts as its default."""
    defaults = _flatten(config_to_dict(TrainConfig()))
    old, new = _flatten(before), _flatten(after)
    changes = {}
    for key, value in new.items():
        previous = old.get(key, defaults.get(key, value))
        if previous != value:
            changes[key] = (previous, value)
    return changes


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Plain JSON-able values (tuples become lists) for run folders and model cards."""

    def plain(value):
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        return value

    return plain(asdict(config))


__all__ = [
    "AugmentConfig", "ConfigError", "DataConfig", "FinetuneConfig", "LossConfig", "OptimConfig", "RunConfig",
    "RESUMABLE_KEYS", "TrainConfig", "config_changes", "config_from_dict", "config_to_dict", "load_config", "validate",
]
