"""The learned metrical-level choice: the shipped weights load and are checked, a damaged file is refused with
its reason, and on synthesised music the scorer picks the beat, also where the strongest comb is half of it."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rhythm_factory
from engine import tempo
from engine.tempo_level import (
    FEATURE_NAMES, LEVEL_WEIGHTS_PATH, LevelWeightsError, candidate_tempi, chosen_level, load_scorer, shipped_scorer,
)

RATE = 16_000
TOLERANCE = 0.04


def correlation_of(audio: np.ndarray) -> np.ndarray:
    return tempo.autocorrelation(tempo.onset_strength(audio, RATE))


def test_the_shipped_weights_load_as_plain_numbers_of_the_features_this_code_computes():
    scorer = load_scorer(LEVEL_WEIGHTS_PATH)
    data = json.loads(LEVEL_WEIGHTS_PATH.read_text(encoding="utf-8"))
    assert data["features"] == list(FEATURE_NAMES)
    assert scorer.hidden_weights.shape == (scorer.hidden_bias.size, len(FEATURE_NAMES))
    assert np.all(np.isfinite(scorer.hidden_weights)) and np.all(scorer.scale > 0)
    assert LEVEL_WEIGHTS_PATH.stat().st_size < 64_000  # a small file beside the code, not a model download


@pytest.mark.parametrize("damage, reason", [
    (lambda data: data.update(output_bias=float("nan")), "non-finite"),
    (lambda data: data.update(hidden_bias=data["hidden_bias"][:-1]), "shape"),
    (lambda data: data.update(features=list(reversed(data["features"]))), "features"),
    (lambda data: data.update(format_version=99), "format"),
    (lambda data: data.update(scale=[0.0] * len(data["scale"])), "positive"),
])
def test_a_damaged_weights_file_is_refused_with_its_reason(tmp_path, damage, reason):
    data = json.loads(LEVEL_WEIGHTS_PATH.read_text(encoding="utf-8"))
    damage(data)
    path = tmp_path / "tempo_level.json"
    path.write_text(json.dumps(data), encoding="utf-8")  # json writes NaN as a bare token, which json reads back
    with pytest.raises(LevelWeightsError, match=reason):
        load_scorer(path)


def test_a_weights_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "tempo_level.json"
    path.write_bytes(b"\x80\x04\x95 not json")
    with pytest.raises(LevelWeightsError):
        load_scorer(path)


def test_the_candidates_are_the_strongest_combs_relatives_within_the_tempo_range():
    assert np.allclose(candidate_tempi(60.0, 40.0, 240.0), [40.0, 60.0, 90.0, 120.0, 180.0, 240.0])
    assert np.allclose(candidate_tempi(150.0, 40.0, 240.0), [50.0, 75.0, 100.0, 150.0, 225.0])


@pytest.mark.parametrize("make, bpm", [
    (rhythm_factory.drum_groove, 96.0),
    (rhythm_factory.drum_groove, 136.0),  # its strongest comb is at 68 BPM, like 96's at 48
    (rhythm_factory.plucked_chords, 72.0),
    (rhythm_factory.plucked_chords, 132.0),
])
def test_the_scorer_picks_the_beat_among_the_metrical_levels(make, bpm):
    correlation = correlation_of(make(bpm, 30.0, seed=int(bpm), sample_rate=RATE))
    strongest_bpm, strongest_salience = tempo.strongest_comb(correlation)
    level = chosen_level(shipped_scorer(), correlation, strongest_bpm, strongest_salience, tempo.MIN_BPM,
                         tempo.MAX_BPM, tempo.FRAMES_PER_SECOND, tempo.COMB_MULTIPLES)
    assert abs(level / bpm - 1.0) <= TOLERANCE
