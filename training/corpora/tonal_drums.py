"""Drum parts of the procedural tonal generator: one bar of General MIDI percussion per style on a
sixteenth-note grid, a fill closing every eight bars, a crash after it.

Drums carry tempo and metre, never pitch, so they cannot bend a clip's key label.
"""

from __future__ import annotations

import random

from training.corpora.midi_file import MidiNote

STEPS_PER_BEAT = 4
HIT_QUARTERS = 0.2
FILL_EVERY_BARS = 8
VELOCITY_JITTER = 7
DOWNBEAT_ACCENT = 10
# General MIDI percussion keys (channel 10).
KICK, SIDE_STICK, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 36, 37, 38, 39, 42, 44, 46
CRASH, RIDE, TAMBOURINE, LOW_TOM, MID_TOM, HIGH_TOM = 49, 51, 54, 45, 47, 50
# style pattern -> {drum key: sixteenth-note steps within the bar}
PATTERNS: dict[str, dict[int, tuple[int, ...]]] = {
    "pop": {KICK: (0, 7, 8), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)},
    "rock": {KICK: (0, 6, 8, 10), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12), OPEN_HAT: (14,)},
    "folk": {KICK: (0, 8), SNARE: (4, 12), TAMBOURINE: (0, 2, 4, 6, 8, 10, 12, 14)},
    "edm": {KICK: (0, 4, 8, 12), CLAP: (4, 12), OPEN_HAT: (2, 6, 10, 14), CLOSED_HAT: tuple(range(16))},
    "jazz": {RIDE: (0, 4, 6, 8, 12, 14), PEDAL_HAT: (4, 12), KICK: (0,)},
    "waltz": {KICK: (0,), SIDE_STICK: (4, 8), CLOSED_HAT: (0, 4, 8)},
    "ballad": {KICK: (0, 10), SIDE_STICK: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)},
    "latin": {KICK: (0, 6, 8, 14), SIDE_STICK: (0, 6, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)},
    "march": {KICK: (0, 8), SNARE: (0, 4, 6, 8, 12, 13, 14, 15), CRASH: (0,)},
    # Fast and slow grooves whose beat a DJ names by convention: drum & bass at 160-180 (kick on 1 and the "and" of
    # 3, snare on 2 and 4 of the fast beat) and hip-hop at 70-100 (snare on 2 and 4, sixteenth hats that must not
    # double it).
    "breakbeat": {KICK: (0, 10), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14), RIDE: (2, 6, 10, 14)},
    "hiphop": {KICK: (0, 7, 10), SNARE: (4, 12), CLOSED_HAT: tuple(range(16)), OPEN_HAT: (14,)},
}
FILL = (SNARE, SNARE, HIGH_TOM, HIGH_TOM, MID_TOM, MID_TOM, LOW_TOM, LOW_TOM)  # the last two beats, in sixteenths


def drum_part(pattern: str, bar_count: int, beats_per_bar: int, velocity: int, track: int,
              rng: random.Random) -> list[MidiNote]:
    """``bar_count`` bars of ``pattern``; steps past the bar's length (3/4) are dropped."""
    steps_per_bar = beats_per_bar * STEPS_PER_BEAT
    grid = PATTERNS[pattern]
    notes = []
    for bar in range(bar_count):
        bar_start = bar * beats_per_bar
        fill_bar = bar % FILL_EVERY_BARS == FILL_EVERY_BARS - 1 and bar < bar_count - 1
        hits = [(key, step) for key, steps in grid.items() for step in steps if step < steps_per_bar]
        if fill_bar:
            fill_start = steps_per_bar - len(FILL)
            hits = [(key, step) for key, step in hits if step < fill_start] + [
                (key, fill_start + number) for number, key in enumerate(FILL)]
        if bar % FILL_EVERY_BARS == 0 and pattern != "jazz" and (CRASH, 0) not in hits:
            hits.append((CRASH, 0))
        for key, step in hits:
            accent = DOWNBEAT_ACCENT if step % STEPS_PER_BEAT == 0 else 0
            note_velocity = velocity + accent + rng.randint(-VELOCITY_JITTER, VELOCITY_JITTER)
            notes.append(MidiNote(bar_start + step / STEPS_PER_BEAT, HIT_QUARTERS, key, note_velocity, track))
    return notes
