"""Linear / MLP probes on a frozen encoder: tags (multi-label, ROC-AUC + AP) and keys (24 classes, accuracy + MIREX).

As in the paper, a track is cut into 2.7 s chunks; heads are trained on chunk embeddings labeled with their
track's labels, and evaluated per track on the mean of its chunk embeddings. Embeddings are standardised
with training statistics, folded into the head's first layer, so a saved head runs on raw embeddings.

Output folder: ``probe.json`` (settings, label names, metrics) and ``key_head.safetensors`` /
``tag_head.safetensors`` (``engine.networks.ClassifierHead`` state dicts), which ``training.export`` reads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from engine.audio import cut_windows
from engine.keys import KEY_CLASS_COUNT, KEY_CLASS_NAMES
from engine.networks import ClassifierHead
from training.checkpoints import load_encoder
from training.data import INT16_SCALE, AudioCache, LabelVocabulary, ManifestEntry, read_manifest
from training.metrics import key_metrics, tag_metrics

PROBE_FILE = "probe.json"
HEAD_FILES = {"key": "key_head.safetensors", "tags": "tag_head.safetensors"}
FALLBACK_EVAL_SPLITS = ("test", "val", "valid", "validation")


class ProbeError(ValueError):
    """The probe cannot run (no labeled tracks in a split, unknown task); the message says which."""


@dataclass
class ProbeSettings:
    tasks: tuple[str, ...] = ("key", "tags")
    hidden_dim: int = 0  # 0 = linear probe; > 0 = MLP with one hidden layer
    max_chunks: int = 16  # 2.7 s chunks per track (evenly spread)
    epochs: int = 300  # full-batch Adam steps on chunk embeddings
    lr: float = 1e-3
    weight_decay: float = 1e-4
    train_split: str = "train"
    eval_split: str = "test"
    batch_size: int = 64  # chunks per encoder call
    seed: int = 0


@dataclass
class TrackEmbeddings:
    """Chunk embeddings per track: ``chunks`` list of (n_chunks, D) tensors, aligned with ``entries``;
    ``key_chunks`` the features the key head reads, when they differ from the embeddings (pitch-invariant
    embeddings, ``engine.networks``), else None."""

    entries: list[ManifestEntry]
    chunks: list[torch.Tensor]
    key_chunks: list[torch.Tensor] | None = None

    def _chunks(self, key: bool) -> list[torch.Tensor]:
        return self.key_chunks if key and self.key_chunks is not None else self.chunks

    def chunk_matrix(self, key: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(all chunks (N, D), track index of each chunk (N,)); ``key``: the key head's features."""
        chunks = self._chunks(key)
        owners = torch.cat([torch.full((c.shape[0],), i) for i, c in enumerate(chunks)])
        return torch.cat(chunks), owners

    def track_means(self, key: bool = False) -> torch.Tensor:
        return torch.stack([c.mean(dim=0) for c in self._chunks(key)])


def track_chunks(samples: np.ndarray, sample_rate: int, window_samples: int, max_chunks: int) -> np.ndarray:
    """Up to ``max_chunks`` windows spread over a decoded track (int16 or float), float32 (chunks, window)."""
    chunks = cut_windows(samples, sample_rate, window_samples, max_chunks)[0]
    return chunks / INT16_SCALE if samples.dtype == np.int16 else chunks


@torch.no_grad()
def embed_tracks(
    encoder: nn.Module, cache: AudioCache, entries: list[ManifestEntry], window_samples: int, settings: ProbeSettings,
    device: torch.device,
) -> TrackEmbeddings:
    """Chunk embeddings (and key features, where they differ) of every cached track in one pass (encoder in
    eval mode, batched over chunks)."""
    encoder.eval().to(device)
    kept, results, key_results = [], [], []
    for entry in cache.usable(entries):
        chunks = torch.from_numpy(track_chunks(cache.open(entry.path), cache.sample_rate, window_samples, settings.max_chunks))
        embedded, key_features = [], []
        for part in chunks.split(settings.batch_size):
            embedding, key_feature = encoder.encode(part.to(device))
            embedded.append(embedding.float().cpu())
            if key_feature is not embedding:
                key_features.append(key_feature.float().cpu())
        kept.append(entry)
        results.append(torch.cat(embedded))
        if key_features:
            key_results.append(torch.cat(key_features))
    return TrackEmbeddings(kept, results, key_results if key_results else None)


def fold_standardisation(head: ClassifierHead, mean: torch.Tensor, std: torch.Tensor) -> None:
    """Make ``head(x)`` equal its old output on ``(x - mean) / std`` by rewriting the first Linear layer."""
    first = head.layers[0]
    with torch.no_grad():
        first.bias -= (first.weight / std) @ mean
        first.weight /= std


def train_head(
    features: torch.Tensor, targets: torch.Tensor, outputs: int, multi_label: bool, settings: ProbeSettings
) -> ClassifierHead:
    """Fit a head on ``features`` (N, D); targets (N,) class indices or (N, C) multi-hot. Returns it on raw features."""
    torch.manual_seed(settings.seed)
    mean, std = features.mean(dim=0), features.std(dim=0).clamp(min=1e-6)
    standard = (features - mean) / std
    head = ClassifierHead(features.shape[1], outputs, settings.hidden_dim)
    optimizer = torch.optim.Adam(head.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    for _ in range(settings.epochs):
        logits = head(standard)
        loss = F.binary_cross_entropy_with_logits(logits, targets) if multi_label else F.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    fold_standardisation(head, mean, std)
    return head.eval()


def _eval_entries(entries: list[ManifestEntry], settings: ProbeSettings) -> tuple[str, list[ManifestEntry]]:
    """The evaluation split: the one asked for; only the default ("test") falls back to a manifest's other names
    for its held-out part (a split named on purpose, or mistyped, must not quietly become another)."""
    fallbacks = FALLBACK_EVAL_SPLITS if settings.eval_split == FALLBACK_EVAL_SPLITS[0] else ()
    for split in (settings.eval_split, *fallbacks):
        chosen = [entry for entry in entries if entry.split == split]
        if chosen and split != settings.train_split:
            return split, chosen
    names = ", ".join(sorted({entry.split for entry in entries}))
    raise ProbeError(f"no evaluation split {' or '.join(repr(s) for s in (settings.eval_split, *fallbacks[1:]))} "
                     f"in the manifest (its splits: {names})")


def run_probes(
    checkpoint: Path | str, manifest: Path | str, cache_dir: Path | str, out_dir: Path | str, settings: ProbeSettings,
    device: str = "cpu",
) -> dict[str, Any]:
    """Embed, fit one head per task, evaluate per track, and write the probe folder. Returns probe.json's content."""
    torch_device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise ProbeError(f"--device {device} asks for CUDA, but this machine has no usable CUDA device")
    encoder, architecture, checkpoint_folder = load_encoder(checkpoint)
    entries = read_manifest(manifest)
    cache = AudioCache(cache_dir, int(architecture["sample_rate"]))
    cache.build(entries)
    eval_split, eval_entries = _eval_entries(entries, settings)
    train_entries = [entry for entry in entries if entry.split == settings.train_split]
    for split, chosen in ((settings.train_split, train_entries), (eval_split, eval_entries)):
        if not cache.usable(chosen):
            raise ProbeError(f"no track of split {split!r} could be read ({len(chosen)} listed; a manifest's relative "
                             "paths are read from its own folder)")
    window = int(architecture["window_samples"])
    train = embed_tracks(encoder, cache, train_entries, window, settings, torch_device)
    evaluation = embed_tracks(encoder, cache, eval_entries, window, settings, torch_device)
    train_chunks, owners = train.chunk_matrix()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "checkpoint": str(checkpoint_folder), "architecture": architecture, "settings": asdict(settings),
        "eval_split": eval_split, "tasks": {},
    }
    for task in settings.tasks:
        if task == "key":
            key_chunks, _ = train.chunk_matrix(key=True)  # same chunks, so the same owners
            track_keys = torch.tensor([entry.key_index for entry in train.entries])
            chunk_keys = track_keys[owners]
            usable = chunk_keys >= 0
            eval_keys = np.array([entry.key_index for entry in evaluation.entries])
            if not bool(usable.any()) or not (eval_keys >= 0).any():
                raise ProbeError(f"task key: no tracks with a readable \"key\" in split {settings.train_split!r} or {eval_split!r}")
            head = train_head(key_chunks[usable], chunk_keys[usable], KEY_CLASS_COUNT, False, settings)
            with torch.no_grad():
                predicted = head(evaluation.track_means(key=True)).argmax(dim=1).numpy()
            scored = eval_keys >= 0
            metrics = key_metrics(predicted[scored], eval_keys[scored])
            labels = list(KEY_CLASS_NAMES)
        elif task == "tags":
            vocabulary = LabelVocabulary.from_entries(train.entries)
            if not len(vocabulary):
                raise ProbeError(f"task tags: no \"labels\" in split {settings.train_split!r}")
            track_tags = torch.from_numpy(np.stack([vocabulary.encode(entry.labels) for entry in train.entries]))
            head = train_head(train_chunks, track_tags[owners], len(vocabulary), True, settings)
            with torch.no_grad():
                scores = torch.sigmoid(head(evaluation.track_means())).numpy()
            eval_tags = np.stack([vocabulary.encode(entry.labels) for entry in evaluation.entries])
            metrics = tag_metrics(scores, eval_tags)
            labels = vocabulary.names
        else:
            raise ProbeError(f"unknown probe task {task!r}; choose key and/or tags")
        save_file({name: t.contiguous() for name, t in head.state_dict().items()}, str(out_dir / HEAD_FILES[task]))
        report["tasks"][task] = {"labels": labels, "hidden_dim": settings.hidden_dim, "metrics": metrics}
    (out_dir / PROBE_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def load_probe_heads(probe_dir: Path | str) -> tuple[dict[str, Any], dict[str, ClassifierHead]]:
    """(probe.json content, {task: head}) from a probe folder."""
    probe_dir = Path(probe_dir)
    path = probe_dir / PROBE_FILE
    if not path.is_file():
        raise ProbeError(f"no {PROBE_FILE} in {probe_dir}")
    report = json.loads(path.read_text(encoding="utf-8"))
    embedding_dim = int(report["architecture"].get("embedding_dim", 512))
    heads = {}
    for task, info in report["tasks"].items():
        head = ClassifierHead(embedding_dim, len(info["labels"]), int(info["hidden_dim"]))
        head.load_state_dict(load_file(str(probe_dir / HEAD_FILES[task])))
        heads[task] = head.eval()
    return report, heads


__all__ = [
    "ProbeError", "ProbeSettings", "TrackEmbeddings", "embed_tracks", "fold_standardisation", "load_probe_heads",
    "run_probes", "track_chunks", "train_head",
]
