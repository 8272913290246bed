"""Which tempo is the beat: a small network over per-band periodicity on a log-tempo axis.

An onset envelope's autocorrelation peaks at the beat period and also at the bar, the half bar and the
subdivisions, and in drumless music a sustained sound's tremolo or beating can repeat more strongly than any of
them. One summed envelope hides which bands carry what, so here each of five band groups (about 1.5 octaves each,
bass to treble) keeps its own envelope besides the sum. Each envelope's autocorrelation is read on one log-tempo
axis (``BINS_PER_OCTAVE`` bins an octave from ``LOW_BPM``) twice: the value at each tempo's beat period and the comb
over four periods. A time stretch of the music is a shift along that axis, so a 1-D convolutional network over it
(dilated: each tempo sees its bar, half bar and subdivisions two octaves away) scores every tempo of
``OUTPUT_BPM`` the same way wherever it lies; only its last per-tempo bias (a learned prior) is not shift-invariant.

The network was trained on generated music whose tempo is exact (``training/tempo_net_training.py``), several
seeds averaged; it ships as ``tempo_net.json`` beside this module: plain numbers read with ``json`` and checked
(shapes, finite values) before use, so a damaged file is an error, never executed code. Pure numpy: it runs in the
torch-free decode workers, about 2 ms per track for the three networks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

NET_WEIGHTS_PATH = Path(__file__).with_name("tempo_net.json")
FORMAT_VERSION = 1
GROUP_EDGES_HZ = (40.0, 120.0, 350.0, 1000.0, 2800.0, 7000.0)  # five band groups of ~1.5 octaves
BINS_PER_OCTAVE = 48  # 1.45 % apart: finer than Acc1's 4 %, and the chosen bin is refined on the envelope anyway
LOW_BPM = 15.0
AXIS_BINS = 256  # 15 -> ~597 BPM: a 40-240 BPM beat's bar (×¼) and sixteenths (×4) are on the axis
OUTPUT_BPM = (40.0, 240.0)
KERNEL = 5
# The largest magnitude a weights file may hold: trained weights are below 1 (weight decay), and a bound keeps six
# layers of products finite, so a damaged file is refused instead of scoring every tempo NaN.
MAX_WEIGHT = 1e4
COMB_PERIODS = 4
POINTS_PER_BIN = 5  # the autocorrelation is read at 5 lags across each bin and the largest kept: long lags are
# many frames per bin, and a peak between two bin centres must not be missed


class NetWeightsError(ValueError):
    """The tempo network's weights file is missing, unreadable or malformed; ``reason`` says which."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"tempo network weights {path}: {reason}")
        self.path = path
        self.reason = reason


def axis_bpm(first: int = 0, last: int = AXIS_BINS) -> np.ndarray:
    """Tempo (BPM) of axis bins ``first`` .. ``last - 1`` (negative and beyond-the-end bins extend the axis)."""
    return LOW_BPM * 2.0 ** (np.arange(first, last) / BINS_PER_OCTAVE)


@lru_cache(maxsize=1)
def output_bins() -> np.ndarray:
    """Axis bins whose tempo lies in ``OUTPUT_BPM``: the tempi the network chooses among (computed once, read-only:
    every estimate asks for them)."""
    bpms = axis_bpm()
    bins = np.where((bpms >= OUTPUT_BPM[0] * 0.999) & (bpms <= OUTPUT_BPM[1] * 1.001))[0]
    bins.flags.writeable = False
    return bins


def group_starts(starts: np.ndarray, frame: int, sample_rate: int) -> list[np.ndarray]:
    """Per band group of ``GROUP_EDGES_HZ``: the band starts (``engine.tempo.band_starts``) inside it, the last
    one ending it, so ``engine.tempo.band_onsets`` sums that group's bands alone; a group wider than the bands
    found in it is one band, and a group wholly above the Nyquist frequency (audio at under 14 kHz) is empty."""
    bin_hz = sample_rate / frame
    top = frame // 2
    groups = []
    for low, high in zip(GROUP_EDGES_HZ[:-1], GROUP_EDGES_HZ[1:]):
        first, last = min(int(np.ceil(low / bin_hz)), top), min(int(np.ceil(high / bin_hz)), top)
        inside = starts[(starts >= first) & (starts <= last)]
        if inside.size >= 2:
            groups.append(inside)
        else:
            groups.append(np.array([first, last]) if last > first else np.zeros(0, dtype=np.int64))
    return groups


def axis_features(correlations: np.ndarray, frames_per_second: float, first: int = 0,
                  last: int = AXIS_BINS) -> np.ndarray:
    """(2 · envelopes, bins) float32 from autocorrelations (envelopes, lags): per envelope, its largest value within
    each axis bin's period and its mean over four periods (the comb), bins ``first`` .. ``last - 1``."""
    periods = 60.0 * frames_per_second / axis_bpm(first, last)
    lags = np.arange(correlations.shape[1])
    half_bin = 2.0 ** (0.5 / BINS_PER_OCTAVE)
    across = periods[:, None] * np.linspace(1 / half_bin, half_bin, POINTS_PER_BIN)[None, :]
    multiples = periods[:, None] * np.arange(1, COMB_PERIODS + 1)[None, :]
    rows = []
    for correlation in correlations:
        rows.append(np.interp(across, lags, correlation, right=0.0).max(axis=1))
        rows.append(np.interp(multiples, lags, correlation, right=0.0).mean(axis=1))
    return np.stack(rows).astype(np.float32)


@dataclass(frozen=True)
class TempoNet:
    """One trained network: dilated convolutions (weights (out, in, ``KERNEL``), biases, dilations) with ReLU, a
    1x1 head and a per-tempo prior over ``output_bins()``."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    dilations: tuple[int, ...]
    head_weight: np.ndarray  # (width,)
    head_bias: float
    prior: np.ndarray  # (output bins,)

    def log_probabilities(self, features: np.ndarray) -> np.ndarray:
        """Log-softmax over ``output_bins()`` of one track's ``axis_features`` (channels, ``AXIS_BINS``)."""
        x = features.astype(np.float64)
        for weight, bias, dilation in zip(self.weights, self.biases, self.dilations):
            x = np.maximum(_dilated_conv(x, weight, bias, dilation), 0.0)
        logits = (self.head_weight @ x + self.head_bias)[output_bins()] + self.prior
        shifted = logits - logits.max()
        return shifted - np.log(np.exp(shifted).sum())


@dataclass(frozen=True)
class TempoNetEnsemble:
    """Networks trained from different seeds; their mean log-probability is the score of each tempo."""

    members: tuple[TempoNet, ...]

    def best_bpm(self, features: np.ndarray) -> float:
        """The tempo of ``output_bins()`` the members rate highest on average."""
        scores = np.mean([member.log_probabilities(features) for member in self.members], axis=0)
        best = int(output_bins()[int(np.argmax(scores))])
        return float(axis_bpm(best, best + 1)[0])


def _dilated_conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, dilation: int) -> np.ndarray:
    """A 'same'-length 1-D convolution (cross-correlation, zero padding) of ``x`` (in, bins)."""
    reach = dilation * (weight.shape[2] - 1) // 2
    padded = np.pad(x, ((0, 0), (reach, reach)))
    bins = x.shape[1]
    out = np.repeat(bias[:, None], bins, axis=1)
    for tap in range(weight.shape[2]):
        out += weight[:, :, tap] @ padded[:, tap * dilation: tap * dilation + bins]
    return out


def ensemble_to_json(ensemble: TempoNetEnsemble) -> dict:
    """The JSON object ``ensemble_from_json`` reads (floats to 7 significant digits: float32 precision)."""
    def numbers(array: np.ndarray) -> list:
        return np.vectorize(lambda value: float(f"{value:.7g}"), otypes=[float])(array).tolist()

    return {"format_version": FORMAT_VERSION, "group_edges_hz": list(GROUP_EDGES_HZ),
            "bins_per_octave": BINS_PER_OCTAVE, "low_bpm": LOW_BPM, "axis_bins": AXIS_BINS,
            "output_bpm": list(OUTPUT_BPM),
            "members": [{"dilations": list(net.dilations), "weights": [numbers(w) for w in net.weights],
                         "biases": [numbers(b) for b in net.biases], "head_weight": numbers(net.head_weight),
                         "head_bias": float(net.head_bias), "prior": numbers(net.prior)}
                        for net in ensemble.members]}


def ensemble_from_json(data: object, path: Path = NET_WEIGHTS_PATH) -> TempoNetEnsemble:
    """A ``TempoNetEnsemble`` from parsed JSON, checked: this code's axis and band groups, layer shapes that chain,
    finite numbers. Raises ``NetWeightsError``."""
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise NetWeightsError(path, f"not a format {FORMAT_VERSION} weights object")
    layout = {"group_edges_hz": list(GROUP_EDGES_HZ), "bins_per_octave": BINS_PER_OCTAVE, "low_bpm": LOW_BPM,
              "axis_bins": AXIS_BINS, "output_bpm": list(OUTPUT_BPM)}
    if any(data.get(name) != value for name, value in layout.items()):
        raise NetWeightsError(path, "its axis or band groups are not the ones this version computes")
    members = data.get("members")
    if not isinstance(members, list) or not members:
        raise NetWeightsError(path, "no networks in it")
    return TempoNetEnsemble(tuple(_member(entry, path) for entry in members))


def _member(entry: object, path: Path) -> TempoNet:
    try:
        dilations = tuple(entry["dilations"])
        if not all(type(d) is int for d in dilations):  # a float would be truncated, a bool read as 0 or 1
            raise TypeError("dilations must be whole numbers")
        weights = tuple(np.asarray(w, dtype=np.float64) for w in entry["weights"])
        biases = tuple(np.asarray(b, dtype=np.float64) for b in entry["biases"])
        head_weight = np.asarray(entry["head_weight"], dtype=np.float64)
        head_bias = np.asarray(entry["head_bias"], dtype=np.float64)
        prior = np.asarray(entry["prior"], dtype=np.float64)
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise NetWeightsError(path, f"missing or non-numeric field ({error})") from None
    if not (len(weights) == len(biases) == len(dilations)) or not weights:
        raise NetWeightsError(path, "its layers, biases and dilations do not match")
    if min(dilations) < 1 or max(dilations) > AXIS_BINS:
        raise NetWeightsError(path, f"a dilation outside 1..{AXIS_BINS}")
    inputs = 2 * len(GROUP_EDGES_HZ)  # the summed envelope and each group's, two readings each
    for weight, bias in zip(weights, biases):
        if weight.ndim != 3 or weight.shape[1:] != (inputs, KERNEL) or bias.shape != (weight.shape[0],):
            raise NetWeightsError(path, f"a layer has shape {weight.shape} (bias {bias.shape}); expected "
                                        f"(width, {inputs}, {KERNEL})")
        inputs = weight.shape[0]
    if head_weight.shape != (inputs,) or head_bias.shape != () or prior.shape != (output_bins().size,):
        raise NetWeightsError(path, "its head or prior has the wrong shape")
    if not all(np.all(np.isfinite(a)) for a in (*weights, *biases, head_weight, head_bias, prior)):
        raise NetWeightsError(path, "it holds a non-finite number")
    if max(float(np.abs(a).max()) for a in (*weights, *biases, head_weight, head_bias, prior)) > MAX_WEIGHT:
        raise NetWeightsError(path, f"it holds a number beyond ±{MAX_WEIGHT:g} (no trained network's)")
    return TempoNet(weights, biases, dilations, head_weight, float(head_bias), prior)


def load_ensemble(path: Path = NET_WEIGHTS_PATH) -> TempoNetEnsemble:
    """Read and check a weights file. Raises ``NetWeightsError``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # ValueError: undecodable text, bad JSON, huge integers
        raise NetWeightsError(Path(path), str(error) or type(error).__name__) from None
    return ensemble_from_json(data, Path(path))


@lru_cache(maxsize=1)
def shipped_ensemble() -> TempoNetEnsemble:
    """The networks shipped with the engine, read once per process."""
    return load_ensemble(NET_WEIGHTS_PATH)
