"""Turn decoded windows into what the library stores: one embedding, key and tag probabilities per track.

Windows of many tracks are stacked into one batch so the network runs on full batches; the track
embedding is the L2-normalised mean of its window embeddings, key probabilities the mean softmax and
tag probabilities the mean sigmoid over its windows.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from engine.audio import read_windows
from engine.key_audio import file_key_windows
from engine.key_semitone_copies import semitone_copies
from engine.keys import moved_key_probabilities
from engine.model_folder import LoadedModel
from engine.networks import LogFrequencySpectrogram
from engine.track_analysis import (  # noqa: F401 (re-exported: the analyzer's results and defaults)
    DEFAULT_BATCH_WINDOWS, DEFAULT_MAX_WINDOWS, KeyEstimate, TrackAnalysis, key_estimate, top_tag_index,
)
from engine.tuning import estimate_tuning
from engine.window_level import is_silent

# Windows per forward pass: small enough for the activations to stay in the CPU caches (LogFreqCNN on 1 thread:
# 11.5 ms per window at 16, 13.5 ms at 64; docs/lab-notes/2026-12-03-speed-history.md, "Indexing speed").
# ``batch_windows`` still sets how many windows are gathered (from many tracks) before they run, and so how often
# indexing commits.
INFERENCE_CHUNK_WINDOWS = 16
# A single file's windows run on one torch thread: intra-op threads on a handful of windows wait on each other
# whenever a core is busy (a 6-window query at load 8: 140 ms on 1 thread, 355-518 ms on 2; BENCHMARKS.md,
# "`similar` for a file not in the library").
QUERY_INFERENCE_THREADS = 1
# A track tuned at least this far from A = 440 Hz has its key read on its own pitch grid (``engine.tuning``); nearer,
# the key head reads it as well on the trained grid, and the analysis windows' key from the network's one pass is
# kept. Beyond the estimate's spread on in-tune renders (90 % within 8.4 cents); chosen on validation over 10 cents,
# which gained as much on detuned pieces and held transposition consistency less well (BENCHMARKS.md, "Tuning").
MIN_FOLLOWED_CENTS = 15.0
# A track's key reads its windows' semitone copies only when its plain reads' two best keys are closer than this: the
# copies mend close calls, and a clear first read kept its key with them. Chosen on validation (the same keys as
# copying every track's windows, at 45 % of the copies; 0.05 lost 0.3 points of transposition consistency on the
# training soundtracks) and held out once (BENCHMARKS.md, "Semitone copies only for close calls").
COPY_MARGIN = 0.1
# A track whose analysis windows alone already agree this clearly on a key (best minus second best of their mean) is
# read no further: its further key windows (``engine.key_audio``) and their semitone copies are skipped. On validation
# the further windows only ever changed close calls (docs/lab-notes/2026-12-08-key-analysis-first.md); a 25 s clip
# with a clear key costs a quarter less CPU.
KEY_STOP_MARGIN = 0.5
# A track's further key windows (``engine.key_audio``): the array, a function that decodes or cuts them (called only
# when the key reads them: a clear first read never does), or None.
KeyWindows = np.ndarray | Callable[[], np.ndarray] | None
_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
_MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d)
_inference_networks: "weakref.WeakKeyDictionary[nn.Module, nn.Module]" = weakref.WeakKeyDictionary()


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows of ``vectors`` (N, D) scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def fold_for_inference(network: nn.Module) -> nn.Module:
    """An eval-mode copy of ``network`` that computes the same function with less work: each BatchNorm that
    directly follows a convolution or linear layer in an ``nn.Sequential`` is folded into that layer's weights,
    and ReLU → MaxPool becomes MaxPool → ReLU (equal, on a quarter of the values; a 2-D pool whose stride is its
    kernel as ``StridedMax``, the ReLU in place); the spectrogram's magnitude is
    taken without a gradient path; channels-last memory, which oneDNN convolutions run faster on. Outputs agree with
    the original to float rounding (~1e-6)."""
    folded = copy.deepcopy(network).eval()
    for module in folded.modules():
        if isinstance(module, LogFrequencySpectrogram):
            module.differentiable = False
        if isinstance(module, nn.Sequential):
            layers = _folded_layers(list(module))
            for name in list(module._modules):
                del module._modules[name]
            for position, layer in enumerate(layers):
                module.add_module(str(position), layer)
    return folded.to(memory_format=torch.channels_last)


def _folded_layers(layers: list[nn.Module]) -> list[nn.Module]:
    result: list[nn.Module] = []
    for layer in layers:
        previous = result[-1] if result else None
        if isinstance(layer, _BATCH_NORMS) and isinstance(previous, _CONVOLUTIONS) and layer.track_running_stats:
            result[-1] = fuse_conv_bn_eval(previous, layer)
        elif isinstance(layer, nn.BatchNorm1d) and isinstance(previous, nn.Linear) and layer.track_running_stats:
            result[-1] = fuse_linear_bn_eval(previous, layer)
        elif isinstance(layer, nn.MaxPool2d) and StridedMax.replaces(layer) and isinstance(previous, nn.ReLU):
            result[-1] = StridedMax(_pair(layer.kernel_size), rectified=True)
        elif isinstance(layer, _MAX_POOLS) and isinstance(previous, nn.ReLU):
            result[-1:] = [layer, previous]
        elif isinstance(layer, nn.MaxPool2d) and StridedMax.replaces(layer):
            result.append(StridedMax(_pair(layer.kernel_size)))
        else:
            result.append(layer)
    return result


class StridedMax(nn.Module):
    """``nn.MaxPool2d(kernel)`` whose stride is its kernel (no padding, dilation or ceil mode), as elementwise
    maxima of the input's strided views: on channels-last activations half the time of ``max_pool2d``, which also
    makes the indices inference never reads. ``rectified``: a ReLU after it, applied in place. The same values,
    exactly (a maximum is exact whichever way it is taken; NaN propagates as in ``max_pool2d``)."""

    def __init__(self, kernel: tuple[int, int], rectified: bool = False) -> None:
        super().__init__()
        self.kernel, self.rectified = kernel, rectified

    @staticmethod
    def replaces(pool: nn.MaxPool2d) -> bool:
        kernel = _pair(pool.kernel_size)
        return (_pair(pool.stride) == kernel and _pair(pool.padding) == (0, 0) and _pair(pool.dilation) == (1, 1)
                and not pool.ceil_mode and not pool.return_indices)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        rows, columns = self.kernel
        height = features.shape[-2] // rows * rows
        width = features.shape[-1] // columns * columns
        pooled = features[..., 0:height:rows, :width]
        for offset in range(1, rows):
            pooled = torch.maximum(pooled, features[..., offset:height:rows, :width])
        result = pooled[..., 0::columns]
        for offset in range(1, columns):
            result = torch.maximum(result, pooled[..., offset::columns])
        if result.data_ptr() == features.data_ptr():  # a 1 x 1 kernel: a view of the input, never changed in place
            result = result.clone()
        return result.clamp_(min=0.0) if self.rectified else result


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def inference_network(network: nn.Module) -> nn.Module:
    """``fold_for_inference(network)``, made once per loaded network (every query builds an ``Analyzer``)."""
    folded = _inference_networks.get(network)
    if folded is None:
        folded = fold_for_inference(network)
        _inference_networks[network] = folded
    return folded


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the body with ``count`` torch intra-op threads (a process-wide setting), then restore the old count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, count))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class Analyzer:
    """Runs one loaded model on windows; holds the model and the batching policy."""

    def __init__(
        self, model: LoadedModel, max_windows: int = DEFAULT_MAX_WINDOWS, batch_windows: int = DEFAULT_BATCH_WINDOWS
    ) -> None:
        self.model = model
        self.max_windows = max_windows
        self.batch_windows = batch_windows
        self.network = inference_network(model.network)

    @property
    def sample_rate(self) -> int:
        return self.model.config.sample_rate

    @property
    def window_samples(self) -> int:
        return self.model.config.window_samples

    @property
    def reads_keys(self) -> bool:
        """Whether the model has a key head (a model without one gives no key)."""
        return self.network.key_head is not None

    def analyze_tracks(self, windows_per_track: list[np.ndarray],
                       key_windows_per_track: list[KeyWindows] | None = None,
                       with_key: bool = True) -> list[TrackAnalysis]:
        """Each item (windows, samples) float32 → one ``TrackAnalysis``; batched across tracks: the embedding and
        tags over its windows, the key over ``track_key_reads``. Without ``with_key`` no key is read (the analyses'
        ``key_probs`` are None): the key's further reads cost more than the embedding's."""
        if not windows_per_track:
            return []
        outputs = self.run_windows(np.concatenate(windows_per_track, axis=0))
        window_keys = outputs.pop("key_probs", None)
        bounds = np.cumsum([0, *(len(windows) for windows in windows_per_track)])
        key_reads: list[np.ndarray | None] = [None] * len(windows_per_track)
        if with_key and window_keys is not None:
            key_reads = self.track_key_reads(windows_per_track, np.split(window_keys, bounds[1:-1]),
                                             key_windows_per_track or [None] * len(windows_per_track))
        analyses = []
        for windows, first, last, keys in zip(windows_per_track, bounds[:-1], bounds[1:], key_reads):
            part = {name: values[first:last] for name, values in outputs.items()}
            if keys is not None:
                part["key_probs"] = keys
            analysis = self._summarise(part, int(last - first))
            if is_silent(windows):  # silence holds no instrument and is in no key
                analysis.key_probs = None
                if analysis.tag_probs is not None:
                    analysis.tag_probs = np.zeros_like(analysis.tag_probs)
            analyses.append(analysis)
        return analyses

    def track_key_reads(self, windows_per_track: list[np.ndarray], window_keys: list[np.ndarray | None],
                        key_windows_per_track: list[KeyWindows]) -> list[np.ndarray]:
        """Per track, the key probabilities (reads, 24) its key is the mean of, on the pitch grid of the track's
        tuning (``key_tuning``): its analysis windows first (``window_keys``, the network's pass over them; None: not
        read yet, they are read here; off the trained grid they are read again); when their mean's two best keys are
        within ``KEY_STOP_MARGIN``, also its ``key_windows_per_track`` item (the further windows only the key reads:
        ``engine.key_audio``, run through the key's part of the network alone; a function that makes them is called
        only then); when all those reads' two best keys are within ``COPY_MARGIN``, each of them also read resampled
        a semitone down and up (``run_semitone_copies``)."""
        tunings = [self.key_tuning(windows) for windows in windows_per_track]
        read_already = {track: keys for track, (cents, keys) in enumerate(zip(tunings, window_keys))
                        if cents == 0.0 and keys is not None}
        first = self._read_by_tuning({track: windows for track, windows in enumerate(windows_per_track)
                                      if track not in read_already}, tunings, self.run_key_windows)
        first.update(read_already)
        further = {}
        for track, extra in enumerate(key_windows_per_track):
            if extra is not None and key_margin(first[track].mean(axis=0)) < KEY_STOP_MARGIN:
                extra = extra() if callable(extra) else extra
                if len(extra):
                    further[track] = extra
        further_keys = self._read_by_tuning(further, tunings, self.run_key_windows)
        plain = [np.concatenate([first[track], further_keys[track]]) if track in further_keys else first[track]
                 for track in range(len(windows_per_track))]
        close = {track: (np.concatenate([windows, further[track]], axis=0) if track in further else windows)
                 for track, (windows, rows) in enumerate(zip(windows_per_track, plain))
                 if key_margin(rows.mean(axis=0)) < COPY_MARGIN}
        copies = self._read_by_tuning(close, tunings, self.run_semitone_copies)
        return [np.concatenate([rows, *copies[track]]) if track in copies else rows for track, rows in enumerate(plain)]

    @staticmethod
    def _read_by_tuning(windows_by_track: dict[int, np.ndarray], tunings: list[float],
                        read: Callable[[np.ndarray, float], np.ndarray]) -> dict[int, np.ndarray]:
        """``read(windows, tuning_cents)`` of each track's windows, the tracks on one pitch grid (the trained grid
        holds most) in one batch, its result's rows (its last axis but one) cut back per track."""
        results: dict[int, np.ndarray] = {}
        for cents in dict.fromkeys(tunings[track] for track in windows_by_track):
            group = [track for track in windows_by_track if tunings[track] == cents]
            rows = read(np.concatenate([windows_by_track[track] for track in group], axis=0), cents)
            cuts = np.cumsum([len(windows_by_track[track]) for track in group])[:-1]
            results.update(zip(group, np.split(rows, cuts, axis=-2)))
        return results

    def key_tuning(self, windows: np.ndarray) -> float:
        """Cents from A = 440 Hz of the pitch grid a track's key is read on: its estimated tuning (from its analysis
        ``windows``) when that is at least ``MIN_FOLLOWED_CENTS`` away and the encoder can follow it, else 0."""
        if not getattr(self.network.encoder, "follows_tuning", False):
            return 0.0
        cents = estimate_tuning(windows, self.sample_rate).cents
        return cents if abs(cents) >= MIN_FOLLOWED_CENTS else 0.0

    def analyze_file(self, path: Path | str) -> TrackAnalysis:
        """Decode and analyse one file with the same windows as indexing (so a copy of an indexed track lands
        on the same windows, and its key on the same key windows) on ``QUERY_INFERENCE_THREADS``; raises
        ``AudioDecodeError`` when it cannot be decoded."""
        audio = read_windows(path, self.sample_rate, self.window_samples, self.max_windows)
        return self.analyze_windows(audio.windows, lambda: file_key_windows(path, audio))

    def analyze_windows(self, windows: np.ndarray, key_windows: KeyWindows = None,
                        with_key: bool = True) -> TrackAnalysis:
        """One file's decoded windows (count, samples), and the further windows its key reads, → its analysis (no
        key without ``with_key``), on ``QUERY_INFERENCE_THREADS`` (a query that decoded its file for more than the
        embedding: ``engine.search``)."""
        with torch_threads(QUERY_INFERENCE_THREADS):
            return self.analyze_tracks([windows], [key_windows], with_key)[0]

    def key_probabilities(self, windows: np.ndarray, key_windows: KeyWindows = None) -> np.ndarray | None:
        """(24,) the key ``analyze_windows`` would give one file's ``windows`` and ``key_windows`` (None for
        silence), read through the key's part of the network alone: for a file whose embedding and tags are known
        already (a query analysed without its key, then asked for harmonic results), on ``QUERY_INFERENCE_THREADS``."""
        if is_silent(windows):  # as ``analyze_tracks``: silence is in no key
            return None
        with torch_threads(QUERY_INFERENCE_THREADS):
            return self.track_key_reads([windows], [None], [key_windows])[0].mean(axis=0).astype(np.float32)

    def run_windows(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """Forward ``windows`` (N, samples) in chunks → per-window embeddings, key and tag probabilities."""
        parts: dict[str, list[np.ndarray]] = {}
        with torch.inference_mode():
            for batch in _chunks(windows):
                outputs = self.network(batch)
                parts.setdefault("embeddings", []).append(outputs["embeddings"].float().numpy())
                if "key_logits" in outputs:
                    parts.setdefault("key_probs", []).append(torch.softmax(outputs["key_logits"], -1).numpy())
                if "tag_logits" in outputs:
                    parts.setdefault("tag_probs", []).append(torch.sigmoid(outputs["tag_logits"]).numpy())
        return {name: np.concatenate(chunks, axis=0) for name, chunks in parts.items()}

    def run_semitone_copies(self, windows: np.ndarray, tuning_cents: float = 0.0) -> np.ndarray:
        """(2, N, 24): the key probabilities of ``windows`` (N, samples) resampled a semitone up, then down
        (``engine.key_semitone_copies``), each moved back to the keys of the windows as decoded. A track's key is
        the mean over its windows' reads and these."""
        return np.stack([moved_key_probabilities(self.run_key_windows(copies, tuning_cents), semitones)
                         for copies, semitones in semitone_copies(windows)])

    def run_key_windows(self, windows: np.ndarray, tuning_cents: float = 0.0) -> np.ndarray:
        """Key probabilities (N, 24) of ``windows`` (N, samples), computing only what the key head reads, on the
        pitch grid of a track tuned ``tuning_cents`` from A = 440 Hz."""
        parts = []
        with torch.inference_mode():
            for batch in _chunks(windows):
                parts.append(torch.softmax(self.network.key_logits(batch, tuning_cents), -1).numpy())
        return np.concatenate(parts, axis=0)

    @staticmethod
    def _summarise(outputs: dict[str, np.ndarray], count: int) -> TrackAnalysis:
        embedding = l2_normalise(outputs["embeddings"].mean(axis=0, keepdims=True))[0]
        key_probs = outputs["key_probs"].mean(axis=0).astype(np.float32) if "key_probs" in outputs else None
        tag_probs = outputs["tag_probs"].mean(axis=0).astype(np.float32) if "tag_probs" in outputs else None
        return TrackAnalysis(embedding, key_probs, tag_probs, count)


def key_margin(probabilities: np.ndarray) -> float:
    """The best key's probability minus the second best's: how clear a read is."""
    second, first = np.sort(probabilities)[-2:]
    return float(first - second)


def _chunks(windows: np.ndarray) -> Iterator[torch.Tensor]:
    """``windows`` (N, samples) as tensors of at most ``INFERENCE_CHUNK_WINDOWS`` rows, in order."""
    for start in range(0, len(windows), INFERENCE_CHUNK_WINDOWS):
        yield torch.from_numpy(np.ascontiguousarray(windows[start : start + INFERENCE_CHUNK_WINDOWS]))
