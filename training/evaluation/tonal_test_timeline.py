"""The time grid every part of a tonal test piece is written on: chord spans in ticks, beats, swing, registers."""

from __future__ import annotations

import random
from dataclasses import dataclass

from training.evaluation.tonal_midi import TICKS_PER_QUARTER
from training.evaluation.tonal_test_harmony import Chord

SWING_OFFBEAT = 2 / 3  # a swung eighth falls two thirds into the beat (triplet feel)
STRAIGHT_OFFBEAT = 1 / 2
TIMING_JITTER_TICKS = 6  # about 6 ms at 120 BPM: players are not a grid
VELOCITY_JITTER = 8


@dataclass(frozen=True)
class ChordSpan:
    """One chord's time: ``start`` and ``length`` in ticks, the bar it lies in, whether it ends the piece."""

    chord: Chord
    start: int
    length: int
    bar: int
    final: bool


@dataclass(frozen=True)
class Grid:
    """Meter and feel: ``beats_per_bar`` quarter notes to the bar, eighths swung or straight."""

    beats_per_bar: int
    swing: bool

    @property
    def bar_ticks(self) -> int:
        return self.beats_per_bar * TICKS_PER_QUARTER

    def beat(self, count: float) -> int:
        """Ticks of ``count`` beats, an "and" (x.5) placed by the feel."""
        whole = int(count)
        fraction = count - whole
        if abs(fraction - 0.5) < 1e-9:
            fraction = SWING_OFFBEAT if self.swing else STRAIGHT_OFFBEAT
        return round((whole + fraction) * TICKS_PER_QUARTER)


def pitch_near(pitch_class: int, center: int) -> int:
    """The MIDI pitch of ``pitch_class`` closest to ``center`` (ties go down)."""
    below = center - ((center - pitch_class) % 12)
    return below if center - below <= 6 else below + 12


def humanised(rng: random.Random, tick: int, velocity: int) -> tuple[int, int]:
    """A start moved by a few ticks (never before 0) and a velocity varied within 1..127."""
    return (max(0, tick + rng.randint(-TIMING_JITTER_TICKS, TIMING_JITTER_TICKS)),
            min(127, max(1, velocity + rng.randint(-VELOCITY_JITTER, VELOCITY_JITTER))))
