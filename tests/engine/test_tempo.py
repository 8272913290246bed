"""The tempo estimator on synthesised audio at known tempi (click tracks, drum grooves, music without drums),
and the half / double rule of tempo ranges."""

from __future__ import annotations

import numpy as np
import pytest

import rhythm_factory
from engine.tempo import TempoError, estimate_tempo
from engine.tempo_range import tempos_match

RATE = 16_000
EXACT = 0.01  # the "exact within 1 %"
# The tempo network (engine/tempo_net.py) reads this rock groove under 60 BPM at double tempo (a half-time feel at
# 112-120): the generated music it learned from has few drummed pieces under 70 BPM. From 62 BPM up it reads the
# beat. Known miss, kept visible: strict, so a network that gets it right fails the marker.
DOUBLED_WHEN_SLOW = pytest.mark.xfail(strict=True, reason="the tempo network doubles a bare rock groove under 60 BPM")
# At 171 BPM it reads this groove right with most hi-hat noises (seeds 0-3, 100, 200) but halves the one drawn from
# seed 171, which this test uses: a close call between the beat and the half-bar. Known miss, strict as above.
HALVED_WHEN_FAST = pytest.mark.xfail(strict=True, reason="the tempo network halves the 171 BPM groove of seed 171")


def relative_error(found: float, true: float) -> float:
    return abs(found / true - 1.0)


@pytest.mark.parametrize("bpm", [62.0, 87.5, 100.0, 123.0, 140.0, 174.0, 180.0])
def test_click_tracks_are_timed_within_one_percent(bpm):
    estimate = estimate_tempo(rhythm_factory.click_track(bpm, 30.0, RATE), RATE)
    assert relative_error(estimate.bpm, bpm) <= EXACT
    assert 0.5 <= estimate.confidence <= 1.0


@pytest.mark.parametrize("bpm", [pytest.param(58.0, marks=DOUBLED_WHEN_SLOW), 64.0, 92.0, 118.0, 136.0,
                                 pytest.param(171.0, marks=HALVED_WHEN_FAST)])
def test_drum_grooves_are_timed_at_the_beat_not_the_hi_hat_eighths(bpm):
    estimate = estimate_tempo(rhythm_factory.drum_groove(bpm, 30.0, seed=int(bpm), sample_rate=RATE), RATE)
    assert relative_error(estimate.bpm, bpm) <= EXACT


@pytest.mark.parametrize("bpm", [61.0, 84.0, 110.0, 150.0, 178.0])
def test_music_without_drums_is_timed_within_one_percent(bpm):
    estimate = estimate_tempo(rhythm_factory.plucked_chords(bpm, 30.0, seed=int(bpm), sample_rate=RATE), RATE)
    assert relative_error(estimate.bpm, bpm) <= EXACT


@pytest.mark.parametrize("frequency", [110.0, 220.0, 440.0, 523.25, 1000.0])
def test_a_steady_tone_has_no_tempo(frequency):
    """A held sine has no onsets, only the ripple of its partial against the analysis frames, which a normalised
    autocorrelation would time as confidently as a click track (a 523 Hz sine read at 210 BPM, confidence 0.95)."""
    seconds = np.arange(30 * RATE) / RATE
    with pytest.raises(TempoError, match="no onsets"):
        estimate_tempo((0.5 * np.sin(2 * np.pi * frequency * seconds)).astype(np.float32), RATE)
    tone_then_clicks = np.concatenate([0.5 * np.sin(2 * np.pi * frequency * seconds[: 10 * RATE]),
                                       rhythm_factory.click_track(120.0, 20.0, RATE)]).astype(np.float32)
    assert relative_error(estimate_tempo(tone_then_clicks, RATE).bpm, 120.0) <= EXACT


@pytest.mark.parametrize(("shape", "frequency"), [("sawtooth", 220.0), ("sawtooth", 261.63), ("square", 220.0)])
def test_a_steady_tone_rich_in_partials_has_no_tempo(shape, frequency):
    """Its many partials ripple against the analysis frames enough to pass the envelope's mean (a 220 Hz sawtooth was
    read at 120 BPM with confidence 0.93), but the ripple never peaks as an onset does."""
    phase = (frequency * np.arange(30 * RATE) / RATE) % 1.0
    tone = 2.0 * phase - 1.0 if shape == "sawtooth" else np.where(phase < 0.5, 1.0, -1.0)
    with pytest.raises(TempoError, match="no onsets"):
        estimate_tempo((0.3 * tone).astype(np.float32), RATE)


def test_silence_and_too_short_audio_have_no_tempo():
    with pytest.raises(TempoError, match="no onsets"):
        estimate_tempo(np.zeros(10 * RATE, dtype=np.float32), RATE)
    with pytest.raises(TempoError, match="too short"):
        estimate_tempo(rhythm_factory.click_track(120.0, 2.0, RATE), RATE)


def test_bpm_range_counts_half_and_double_tempo_as_a_match():
    assert tempos_match(128.0, 130.0, 2.0)
    assert not tempos_match(float("inf"), 130.0, 100.0) and not tempos_match(128.0, float("inf"), 1e308)
    assert not tempos_match(128.0, 133.0, 2.0)
    assert tempos_match(174.0, 87.5, 2.0)  # half time
    assert tempos_match(85.0, 171.0, 1.0)  # double time
    assert not tempos_match(120.0, 180.0, 5.0)  # 3:2 is not a mix
    assert not tempos_match(120.0, 0.0, 50.0)
