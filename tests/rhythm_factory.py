"""Make test audio at a known tempo: click tracks, drum grooves, and drumless plucked-chord parts.

Seeded numpy synthesis (no sound fonts), mono float32; write it to any format with
``audio_factory.write_audio``. Beat times are exact, so a tempo estimate can be checked to the 1 %.
"""

from __future__ import annotations

import numpy as np

from audio_factory import SAMPLE_RATE, midi_to_hz

CLICK_SECONDS = 0.01
CLICK_HZ = 1000.0
KICK_SECONDS = 0.25
SNARE_SECONDS = 0.15
HAT_SECONDS = 0.04
PLUCK_SECONDS = 0.6


def _place(track: np.ndarray, sound: np.ndarray, start_seconds: float, sample_rate: int) -> None:
    start = int(round(start_seconds * sample_rate))
    end = min(track.size, start + sound.size)
    if start < end:
        track[start:end] += sound[: end - start]


def _decaying(seconds: float, sample_rate: int, decay_per_second: float) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return np.exp(-decay_per_second * t), t


def click_track(bpm: float, seconds: float = 30.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A metronome: a 10 ms 1 kHz click on every beat."""
    track = np.zeros(int(seconds * sample_rate), dtype=np.float32)
    envelope, t = _decaying(CLICK_SECONDS, sample_rate, 300.0)
    click = (0.8 * envelope * np.sin(2 * np.pi * CLICK_HZ * t)).astype(np.float32)
    for beat in np.arange(0.0, seconds, 60.0 / bpm):
        _place(track, click, beat, sample_rate)
    return track


def drum_groove(bpm: float, seconds: float = 30.0, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A 4/4 rock groove: kick on beats 1 and 3, snare on 2 and 4, closed hi-hat on every eighth note, and a
    bass note on every beat."""
    rng = np.random.default_rng(seed)
    track = np.zeros(int(seconds * sample_rate), dtype=np.float32)
    envelope, t = _decaying(KICK_SECONDS, sample_rate, 18.0)
    kick = (0.9 * envelope * np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-30 * t)) / 30))).astype(np.float32)
    envelope, _ = _decaying(SNARE_SECONDS, sample_rate, 30.0)
    snare = (0.5 * envelope * rng.standard_normal(envelope.size)).astype(np.float32)
    envelope, _ = _decaying(HAT_SECONDS, sample_rate, 120.0)
    hat = np.diff(rng.standard_normal(envelope.size + 1)).astype(np.float32) * envelope.astype(np.float32) * 0.15
    beat_seconds = 60.0 / bpm
    roots = (36, 36, 41, 43)  # C C F G, one bar each
    for index, beat in enumerate(np.arange(0.0, seconds, beat_seconds)):
        _place(track, kick if index % 2 == 0 else snare, beat, sample_rate)
        _place(track, hat, beat, sample_rate)
        _place(track, hat * 0.6, beat + beat_seconds / 2, sample_rate)
        _place(track, _pluck(midi_to_hz(roots[(index // 4) % 4]), beat_seconds, sample_rate, 0.3), beat, sample_rate)
    return track


def plucked_chords(bpm: float, seconds: float = 30.0, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """No drums: a chord on every beat (accented on the bar) and a melody note on some eighths."""
    rng = np.random.default_rng(seed)
    track = np.zeros(int(seconds * sample_rate), dtype=np.float32)
    beat_seconds = 60.0 / bpm
    chords = ((48, 52, 55), (53, 57, 60), (55, 59, 62), (48, 52, 55))
    for index, beat in enumerate(np.arange(0.0, seconds, beat_seconds)):
        accent = 1.0 if index % 4 == 0 else 0.6
        for note in chords[(index // 4) % 4]:
            _place(track, _pluck(midi_to_hz(note), PLUCK_SECONDS, sample_rate, 0.15 * accent), beat, sample_rate)
        if rng.random() < 0.5:
            note = 72 + int(rng.choice([0, 2, 4, 5, 7, 9]))
            _place(track, _pluck(midi_to_hz(note), PLUCK_SECONDS / 2, sample_rate, 0.1), beat + beat_seconds / 2,
                   sample_rate)
    return track


def _pluck(frequency: float, seconds: float, sample_rate: int, amplitude: float) -> np.ndarray:
    envelope, t = _decaying(max(seconds, 0.05), sample_rate, 6.0)
    tone = np.sin(2 * np.pi * frequency * t) + 0.4 * np.sin(4 * np.pi * frequency * t)
    return (amplitude * envelope * tone).astype(np.float32)
