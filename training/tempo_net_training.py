"""Train the tempo network (``engine/tempo_net.py``) on music whose tempo is exact.

    python -m training.tempo_net_training --manifest data/generated/manifest.jsonl \
        --manifest data/generated_rhythm/manifest.jsonl --out engine/tempo_net.json [--cache FEATURES.npz]

Every train-split record with a ``tempo_bpm`` (the generator's exact quarter-note tempo), or a rendered score's
``quarter_bpm`` where the quarter is its beat (a score corpus's manifest; ``training.corpora.score_meter``), is decoded as indexing
decodes it for its tempo (the middle 30 s at 16 kHz) and its envelopes' autocorrelations are read on the
network's log-tempo axis, with ``MARGIN`` bins to spare at each end. A time stretch by f is then a shift of
log2(f) · 48 bins, so each training batch plays its clips at a tempo drawn in ×0.79-1.26 by cropping the axis
(the label moves with it): the network learns the corpus's music at every tempo, and to choose the same level
when a track is played a little faster or slower (the evaluation's stretch consistency). A band group's two
rows are zeroed at random (``BAND_DROPOUT``), so no one band is relied on (the generator's instruments are not
the user's). Each member of the shipped ensemble is one seed; their log-probabilities are averaged. Val and test
splits are never read here: they judge the result (``benchmarks/experiments/tempo_band_net.py``, ``engine eval``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from engine.audio import AudioDecodeError, probe
from engine.tempo import FRAMES_PER_SECOND, envelope_correlations
from engine.tempo_audio import TEMPO_SAMPLE_RATE, middle_span
from engine.tempo_net import (
    AXIS_BINS, BINS_PER_OCTAVE, KERNEL, OUTPUT_BPM, TempoNet, TempoNetEnsemble, axis_bpm, axis_features,
    ensemble_to_json, output_bins,
)
from training.corpora.manifest import record_audio_path
from training.corpora.score_meter import beat_tempo_labels

MARGIN = 16  # bins beyond each end of the axis: a shift of up to ±16 bins (×0.79-1.26) stays on it
MAX_SHIFT = 15
DILATIONS = (1, 2, 4, 8, 16, 32)  # receptive field ±124 bins: 2.6 octaves each side, a beat's bar and sixteenths
WIDTH = 16
STEPS = 400
BATCH = 128
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 0.1
BAND_DROPOUT = 0.4
RIGHT_WITHIN = 0.02  # an output bin within 2 % of the label is right (bins are 1.45 % apart)
SEEDS = (0, 1, 2)


def train_records(manifests: list[Path]) -> list[tuple[float, Path]]:
    """(tempo, audio path) of every train-split record with a tempo in ``manifests``: a generator's ``tempo_bpm``,
    or a rendered score's ``quarter_bpm`` where the quarter is its beat (``score_meter.beat_tempo_labels``)."""
    found = []
    for manifest in manifests:
        records = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
        scores = beat_tempo_labels(manifest) if any("quarter_bpm" in record for record in records) else {}
        for record in records:
            bpm = record.get("tempo_bpm") or scores.get(record.get("clip_id", ""))
            if record.get("split") == "train" and bpm:
                found.append((float(bpm), record_audio_path(record, manifest)))
    return found


def clip_features(path: Path) -> np.ndarray | None:
    """``axis_features`` of a file's tempo span with ``MARGIN`` bins each side; None (said on stderr) when it does
    not decode or holds no onsets."""
    try:
        audio = middle_span(path, probe(path).duration_seconds or 0.0, TEMPO_SAMPLE_RATE)
    except AudioDecodeError as error:
        print(f"skipped {path}: {error}", file=sys.stderr)
        return None
    correlations = envelope_correlations(audio, TEMPO_SAMPLE_RATE)
    if correlations[0, 0] <= 0:
        return None
    return axis_features(correlations, FRAMES_PER_SECOND, -MARGIN, AXIS_BINS + MARGIN)


def training_set(records: list[tuple[float, Path]], cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(features (clips, channels, AXIS_BINS + 2·MARGIN), tempi) of ``records``, kept in ``cache`` by path."""
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as stored:
            known = dict(zip(stored["paths"].tolist(), stored["features"]))
    rows, tempi = [], []
    for done, (bpm, path) in enumerate(records):
        if str(path) not in known:
            features = clip_features(path)
            if features is None:
                continue
            known[str(path)] = features
        rows.append(known[str(path)])
        tempi.append(bpm)
        if done % 200 == 199:
            print(json.dumps({"clips": done + 1, "of": len(records)}), flush=True)
    if cache is not None and known:
        np.savez(cache, paths=np.array(list(known)), features=np.stack(list(known.values())))
    return np.stack(rows), np.array(tempi)


def torch_network(channels: int, seed: int, width: int = WIDTH, dilations: tuple[int, ...] = DILATIONS):
    """The network of ``engine.tempo_net.TempoNet`` in torch, freshly initialised from ``seed``."""
    import torch

    torch.manual_seed(seed)

    class TorchTempoNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sizes = [channels] + [width] * len(dilations)
            self.layers = torch.nn.ModuleList(
                torch.nn.Conv1d(sizes[i], sizes[i + 1], KERNEL, padding=d * (KERNEL - 1) // 2, dilation=d)
                for i, d in enumerate(dilations))
            self.dilations = dilations
            self.head = torch.nn.Conv1d(width, 1, 1)
            self.prior = torch.nn.Parameter(torch.zeros(len(output_bins())))
            self.register_buffer("outputs", torch.tensor(output_bins()), persistent=False)

        def forward(self, x):
            for layer in self.layers:
                x = torch.relu(layer(x))
            return self.head(x)[:, 0, self.outputs] + self.prior

    return TorchTempoNet()


def fit(features: np.ndarray, tempi: np.ndarray, seed: int, steps: int = STEPS, width: int = WIDTH,
        weight_decay: float = WEIGHT_DECAY, band_dropout: float = BAND_DROPOUT, draws: np.ndarray | None = None):
    """One network fitted to ``features`` (clips, channels, AXIS_BINS + 2·MARGIN) and their ``tempi``, clips drawn
    with probabilities ``draws`` (uniform when None)."""
    import torch

    model = torch_network(features.shape[1], seed, width)
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    draw = np.random.default_rng(seed)
    out_bpm = axis_bpm()[output_bins()]
    tensor = torch.tensor(features)
    groups = features.shape[1] // 2 - 1  # two rows per envelope; the first envelope is the sum of all bands
    for _ in range(steps):
        rows = draw.integers(0, len(tempi), BATCH) if draws is None else draw.choice(len(tempi), BATCH, p=draws)
        shifts = draw.integers(-MAX_SHIFT, MAX_SHIFT + 1, BATCH)
        target = tempi[rows] * 2.0 ** (shifts / BINS_PER_OCTAVE)
        keep = (target >= OUTPUT_BPM[0]) & (target <= OUTPUT_BPM[1])
        rows, shifts, target = rows[keep], shifts[keep], target[keep]
        # played 2^(s/48) times faster, every period is s bins further up the axis: the window starts s bins lower
        batch = torch.stack([tensor[r, :, MARGIN - s: MARGIN - s + AXIS_BINS] for r, s in zip(rows, shifts)])
        kept = torch.tensor(draw.random((len(rows), groups)) >= band_dropout).float().repeat_interleave(2, dim=1)
        batch = batch * torch.cat([torch.ones(len(rows), 2), kept], dim=1)[:, :, None]
        right = torch.tensor(np.abs(out_bpm[None, :] / target[:, None] - 1.0) <= RIGHT_WITHIN)
        logits = model(batch)
        loss = -(torch.logsumexp(logits.masked_fill(~right, -1e9), 1) - torch.logsumexp(logits, 1)).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    return model


def as_engine_network(model) -> TempoNet:
    """The numpy ``TempoNet`` holding ``model``'s weights."""
    def array(tensor) -> np.ndarray:
        return tensor.detach().numpy().astype(np.float64)

    return TempoNet(weights=tuple(array(layer.weight) for layer in model.layers),
                    biases=tuple(array(layer.bias) for layer in model.layers), dilations=tuple(model.dilations),
                    head_weight=array(model.head.weight)[0, :, 0], head_bias=float(model.head.bias.item()),
                    prior=array(model.prior))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, action="append", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--steps", type=int, default=STEPS)
    options = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    features, tempi = training_set(train_records(options.manifest), options.cache)
    members = tuple(as_engine_network(fit(features, tempi, seed, options.steps)) for seed in options.seeds)
    options.out.write_text(json.dumps(ensemble_to_json(TempoNetEnsemble(members)), separators=(",", ":")) + "\n",
                           encoding="utf-8")
    print(json.dumps({"clips": len(tempi), "members": len(members), "out": str(options.out)}))


if __name__ == "__main__":
    main()
