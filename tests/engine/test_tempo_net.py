"""The tempo network: the shipped weights load and are checked, a damaged file is refused with its reason, the
numpy network the engine runs computes what the torch network it was trained as computes, and on synthesised
music whose strongest repetition is not the beat (a fast tremolo over slow chords) it still finds the beat."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rhythm_factory
from engine import tempo
from engine.tempo_net import (
    AXIS_BINS, GROUP_EDGES_HZ, NET_WEIGHTS_PATH, NetWeightsError, TempoNetEnsemble, axis_bpm, axis_features,
    ensemble_from_json, ensemble_to_json, load_ensemble, output_bins,
)

RATE = 16_000


def test_the_shipped_weights_load_as_plain_numbers_for_this_codes_axis():
    ensemble = load_ensemble(NET_WEIGHTS_PATH)
    assert len(ensemble.members) >= 1
    for member in ensemble.members:
        assert member.weights[0].shape[1] == 2 * len(GROUP_EDGES_HZ)
        assert member.prior.shape == (output_bins().size,)
    assert NET_WEIGHTS_PATH.stat().st_size < 1_000_000  # a small file beside the code, not a model download


def test_the_output_tempi_span_the_estimators_range():
    chosen = axis_bpm()[output_bins()]
    assert chosen[0] == pytest.approx(tempo.MIN_BPM, rel=0.015) and chosen[-1] == pytest.approx(tempo.MAX_BPM, rel=0.015)
    assert np.all(np.diff(np.log2(chosen)) == pytest.approx(1 / 48))


@pytest.mark.parametrize("damage, reason", [
    (lambda data: data["members"][0].update(head_bias=float("nan")), "non-finite"),
    (lambda data: data["members"][0]["biases"].__setitem__(0, data["members"][0]["biases"][0][:-1]), "layer"),
    (lambda data: data["members"][0].update(prior=data["members"][0]["prior"][:-1]), "prior"),
    (lambda data: data.update(bins_per_octave=24), "axis"),
    (lambda data: data.update(format_version=99), "format"),
    (lambda data: data.update(members=[]), "no networks"),
    (lambda data: data["members"][0].pop("weights"), "missing"),
    (lambda data: data["members"][0].update(dilations=[10**12] * len(data["members"][0]["dilations"])), "dilation"),
    (lambda data: data["members"][0].update(dilations=[float("inf")] * len(data["members"][0]["dilations"])),
     "missing or non-numeric"),
    (lambda data: data["members"][0].update(dilations=[d + 0.5 for d in data["members"][0]["dilations"]]),
     "whole numbers"),
    (lambda data: data["members"][0].update(dilations=[True] * len(data["members"][0]["dilations"])), "whole numbers"),
    (lambda data: data["members"][0].update(head_bias=1e300), "beyond"),
    (lambda data: data["members"][0]["weights"][2][0][0].__setitem__(1, -3e5), "beyond"),
])
def test_a_damaged_weights_file_is_refused_with_its_reason(tmp_path, damage, reason):
    data = json.loads(NET_WEIGHTS_PATH.read_text(encoding="utf-8"))
    damage(data)
    path = tmp_path / "tempo_net.json"
    path.write_text(json.dumps(data), encoding="utf-8")  # json writes NaN as a bare token, which json reads back
    with pytest.raises(NetWeightsError, match=reason):
        load_ensemble(path)


@pytest.mark.parametrize("content", [b"\x80\x04\x95 not json", b"[" * 100_000,
                                     b'{"format_version": 1' + b"9" * 5000 + b"}"])
def test_a_weights_file_that_is_not_json_or_too_deep_or_too_large_a_number_is_refused(tmp_path, content):
    path = tmp_path / "tempo_net.json"
    path.write_bytes(content)
    with pytest.raises(NetWeightsError):
        load_ensemble(path)


def test_the_numpy_network_computes_what_the_torch_network_computes():
    torch = pytest.importorskip("torch")
    from training.tempo_net_training import as_engine_network, torch_network

    model = torch_network(2 * len(GROUP_EDGES_HZ), seed=3, width=8)
    features = np.random.default_rng(0).random((2, 2 * len(GROUP_EDGES_HZ), AXIS_BINS)).astype(np.float32)
    with torch.no_grad():
        expected = torch.log_softmax(model(torch.tensor(features)), 1).numpy()
    network = as_engine_network(model)
    found = np.stack([network.log_probabilities(row) for row in features])
    assert np.allclose(found, expected, atol=1e-5)
    reread = ensemble_from_json(json.loads(json.dumps(ensemble_to_json(TempoNetEnsemble((network,))))))
    assert np.allclose(reread.members[0].log_probabilities(features[0]), found[0], atol=1e-5)


def test_the_band_groups_and_the_sum_each_get_a_correlation_from_one_spectrum():
    audio = rhythm_factory.click_track(100.0, 12.0, RATE)
    correlations = tempo.envelope_correlations(audio, RATE)
    assert correlations.shape[0] == len(GROUP_EDGES_HZ)  # the sum, then one per group of the five
    assert np.allclose(correlations[0], tempo.autocorrelation(tempo.onset_strength(audio, RATE)))
    features = axis_features(correlations, tempo.FRAMES_PER_SECOND)
    assert features.shape == (2 * correlations.shape[0], AXIS_BINS) and np.all(np.isfinite(features))


@pytest.mark.parametrize("bpm", [66.0, 72.0])
def test_a_fast_tremolo_over_slow_chords_is_not_taken_for_the_beat(bpm):
    """A sustained chord pulsing at 3.75 Hz (a tremolo organ) repeats more strongly than the chord changes on the
    beat: the summed envelope's strongest comb is the tremolo (225 BPM, no whole relative of the beat)."""
    draw = np.random.default_rng(int(bpm))
    seconds, beat = 30.0, 60.0 / bpm
    t = np.arange(int(seconds * RATE)) / RATE
    audio = np.zeros_like(t)
    for start in np.arange(0.0, seconds, beat):
        root = 110.0 * 2 ** (draw.integers(0, 12) / 12)
        chord = sum(np.sin(2 * np.pi * root * ratio * (t - start)) for ratio in (1.0, 1.26, 1.5, 2.0))
        envelope = np.where(t >= start, np.exp(-(t - start) / 0.6), 0.0) * (t < start + 2 * beat)
        audio += 0.2 * chord * envelope
    audio *= 1.0 + 0.9 * np.sin(2 * np.pi * 3.75 * t)
    correlation = tempo.autocorrelation(tempo.onset_strength(audio.astype(np.float32), RATE))
    assert abs(tempo.strongest_comb(correlation)[0] / 225.0 - 1.0) < 0.03
    estimate = tempo.estimate_tempo(audio.astype(np.float32), RATE)
    assert abs(estimate.bpm / bpm - 1.0) <= 0.04


@pytest.mark.parametrize("rate", [8_000, 11_025, 44_100])
def test_audio_at_other_rates_is_timed_though_some_band_groups_lie_above_its_nyquist_frequency(rate):
    for bpm in (87.5, 123.0):
        estimate = tempo.estimate_tempo(rhythm_factory.click_track(bpm, 20.0, rate), rate)
        assert abs(estimate.bpm / bpm - 1.0) <= 0.01
