"""Training the tempo network: only train-split records with a tempo are read (a rendered score's where the quarter
is its beat), and the fit (with its stretch by
shifting) learns a beat marked on the log-tempo axis, at tempi the training clips never had."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.tempo_net import AXIS_BINS, BINS_PER_OCTAVE, GROUP_EDGES_HZ, TempoNetEnsemble, axis_bpm
from training.corpora.score_meter import quarter_is_beat
from training.tempo_net_training import MARGIN, as_engine_network, fit, train_records

torch = pytest.importorskip("torch")


def test_only_train_records_with_a_tempo_are_read(tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    rows = [{"split": "train", "tempo_bpm": 90.0, "relative_path": "a.flac"},
            {"split": "val", "tempo_bpm": 100.0, "relative_path": "b.flac"},
            {"split": "test", "tempo_bpm": 110.0, "relative_path": "c.flac"},
            {"split": "train", "relative_path": "d.flac"}]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert train_records([manifest]) == [(90.0, tmp_path / "a.flac")]


def test_a_rendered_score_is_read_at_its_quarter_tempo_only_where_the_quarter_is_its_beat(tmp_path):
    books = {"reel.abc": "X:1\nT:Reel\nM:C|\nK:D\nABcd|\n", "jig.abc": "X:1\nT:Jig\nM:6/8\nK:G\nGAB cBA|\n"}
    pieces = [{"piece_id": "bach:1", "source": "bach_chorales", "location": str(tmp_path / "bwv1.mxl")}]
    for name, text in books.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        pieces.append({"piece_id": f"tunes:{name}", "source": "oneills1850", "location": f"{tmp_path / name}#0"})
    (tmp_path / "pieces.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pieces), encoding="utf-8")
    clips = [("train-0", "bach:1", 70.0), ("train-1", "tunes:reel.abc", 120.0), ("train-2", "tunes:jig.abc", 110.0)]
    rows = [{"clip_id": clip, "piece_id": piece, "quarter_bpm": bpm, "split": "train", "relative_path": f"{clip}.flac"}
            for clip, piece, bpm in clips]
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert train_records([manifest]) == [(70.0, tmp_path / "train-0.flac"), (120.0, tmp_path / "train-1.flac")]


@pytest.mark.parametrize("meter, is_beat", [("C", True), ("C|", True), ("2/4", True), ("3/4", True), ("4/4", True),
                                            ("2/2", True), ("6/8", False), ("9/8", False), ("12/8", False),
                                            ("3/8", False), ("6/4", False), (None, False), ("", False)])
def test_the_quarter_is_the_beat_of_simple_meters_only(meter, is_beat):
    assert quarter_is_beat(meter) is is_beat


def marked(bpm: float, channels: int) -> np.ndarray:
    """Axis features (with the training margin) that mark ``bpm`` on the first reading and its double, weaker,
    on a band group's: what a beat with eighth-note subdivisions looks like, reduced to the bone."""
    features = np.zeros((channels, AXIS_BINS + 2 * MARGIN), dtype=np.float32)
    position = MARGIN + int(round(BINS_PER_OCTAVE * np.log2(bpm / axis_bpm(0, 1)[0])))
    features[0, position - 1: position + 2] = 1.0
    features[2, position + BINS_PER_OCTAVE - 1: position + BINS_PER_OCTAVE + 2] = 0.6
    return features


def test_the_fit_learns_a_marked_beat_and_carries_it_to_unseen_tempi():
    torch.set_num_threads(1)
    channels = 2 * len(GROUP_EDGES_HZ)
    train_tempi = np.array([70.0, 85.0, 100.0, 120.0, 140.0])
    features = np.stack([marked(bpm, channels) for bpm in train_tempi])
    network = as_engine_network(fit(features, train_tempi, seed=0, steps=150, width=8))
    ensemble = TempoNetEnsemble((network,))
    for bpm in (64.0, 93.0, 131.0):  # between and beyond the training tempi: only the shifts taught these
        found = ensemble.best_bpm(marked(bpm, channels)[:, MARGIN: MARGIN + AXIS_BINS])
        assert abs(found / bpm - 1.0) <= 0.03
