"""GM drum parts (channel 10) for the tonal test pieces: one groove per style and meter, fills at phrase ends.

Drums carry no pitch class, so they test whether a key estimator is misled by broadband percussion.
"""

from __future__ import annotations

import random

from training.evaluation.tonal_midi import DRUM_CHANNEL, Note
from training.evaluation.tonal_test_timeline import Grid, humanised

KICK, SIDE_STICK, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE = 36, 37, 38, 39, 42, 44, 46, 49, 51
HIGH_TOM, LOW_TOM = 50, 45
HIT_TICKS = 60
PHRASE_BARS = 4
Hit = tuple[float, int, int]  # (beat in the bar, GM drum note, velocity)


def _eighths(note: int, velocity: int, beats: int) -> tuple[Hit, ...]:
    return tuple((i / 2, note, velocity - (12 if i % 2 else 0)) for i in range(2 * beats))


GROOVES: dict[str, dict[int, tuple[Hit, ...]]] = {
    "pop": {4: ((0, KICK, 100), (2, KICK, 90), (2.5, KICK, 70), (1, SNARE, 95), (3, SNARE, 95)) + _eighths(CLOSED_HAT, 70, 4),
            3: ((0, KICK, 100), (1, SNARE, 70), (2, SNARE, 70)) + _eighths(CLOSED_HAT, 65, 3)},
    "rock": {4: ((0, KICK, 110), (2, KICK, 105), (2.5, KICK, 90), (1, SNARE, 110), (3, SNARE, 110)) + _eighths(CLOSED_HAT, 85, 4),
             3: ((0, KICK, 110), (1, SNARE, 100), (2, SNARE, 100)) + _eighths(CLOSED_HAT, 80, 3)},
    "folk": {4: ((0, KICK, 80), (2, KICK, 75), (1, SIDE_STICK, 75), (3, SIDE_STICK, 75)) + tuple((i, CLOSED_HAT, 55) for i in range(4)),
             3: ((0, KICK, 80), (1, SIDE_STICK, 65), (2, SIDE_STICK, 65))},
    "edm": {4: tuple((i, KICK, 115) for i in range(4)) + ((1, CLAP, 100), (3, CLAP, 100))
            + tuple((i + 0.5, OPEN_HAT, 80) for i in range(4)) + tuple((i / 4, CLOSED_HAT, 50) for i in range(16) if i % 2),
            3: tuple((i, KICK, 115) for i in range(3)) + ((1, CLAP, 95),) + tuple((i + 0.5, OPEN_HAT, 80) for i in range(3))},
    "jazz": {4: ((0, RIDE, 80), (1, RIDE, 85), (1.5, RIDE, 65), (2, RIDE, 80), (3, RIDE, 85), (3.5, RIDE, 65),
                 (1, PEDAL_HAT, 60), (3, PEDAL_HAT, 60)) + tuple((i, KICK, 35) for i in range(4)),
             3: ((0, RIDE, 80), (1, RIDE, 85), (1.5, RIDE, 65), (2, RIDE, 80), (1, PEDAL_HAT, 55), (2, PEDAL_HAT, 55))},
}
FILL: tuple[Hit, ...] = ((0, SNARE, 90), (0.25, SNARE, 80), (0.5, HIGH_TOM, 95), (0.75, LOW_TOM, 100))  # the bar's last beat


def drum_part(style: str, grid: Grid, total_bars: int, rng: random.Random) -> list[Note]:
    """``total_bars`` bars of the style's groove: a crash opening each phrase, a fill closing it, one final hit."""
    notes = []
    groove = GROOVES[style][grid.beats_per_bar]
    last_beat = grid.beats_per_bar - 1
    for bar in range(total_bars):
        hits: list[Hit] = []
        if bar == total_bars - 1:
            hits = [(0, KICK, 110), (0, CRASH, 110)]
        else:
            fill = bar % PHRASE_BARS == PHRASE_BARS - 1 and style != "jazz"
            hits = [hit for hit in groove if not (fill and hit[0] >= last_beat)]
            if fill:
                hits += [(last_beat + beat, note, velocity) for beat, note, velocity in FILL]
            if bar % PHRASE_BARS == 0:
                hits.append((0, CRASH, 100))
        for beat, note, velocity in hits:
            tick, humanised_velocity = humanised(rng, bar * grid.bar_ticks + grid.beat(beat), velocity)
            notes.append(Note(tick, HIT_TICKS, note, humanised_velocity, DRUM_CHANNEL))
    return notes
