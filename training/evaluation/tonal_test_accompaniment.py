"""Bass lines and comping (block chords, pulses, arpeggios, strums, jazz comping) over a chord timeline.

Patterns are onsets within one bar, in beats; a chord that starts where the pattern has no onset still
sounds at its start, so two-chord bars work with every pattern. The last chord of a piece is held.
"""

from __future__ import annotations

import random

from training.evaluation.tonal_midi import Note
from training.evaluation.tonal_test_timeline import ChordSpan, Grid, humanised, pitch_near

Onset = tuple[float, float, str]  # (beat in the bar, length in beats, role or strum direction)
BASS_PATTERNS: dict[str, dict[int, tuple[Onset, ...]]] = {
    "root": {4: ((0, 4, "root"),), 3: ((0, 3, "root"),)},
    "root_fifth": {4: ((0, 2, "root"), (2, 2, "fifth")), 3: ((0, 1, "root"), (1, 1, "fifth"), (2, 1, "fifth"))},
    "eighths": {n: tuple((i / 2, 0.5, "root") for i in range(2 * n)) for n in (3, 4)},
    "octaves": {n: tuple((i / 2, 0.45, "root" if i % 2 == 0 else "octave") for i in range(2 * n)) for n in (3, 4)},
    "syncopated": {4: ((0, 1.5, "root"), (1.5, 1, "root"), (3, 0.5, "fifth"), (3.5, 0.5, "octave")),
                   3: ((0, 1.5, "root"), (1.5, 1.5, "fifth"))},
    "walking": {4: ((0, 1, "root"), (1, 1, "third"), (2, 1, "fifth"), (3, 1, "approach")),
                3: ((0, 1, "root"), (1, 1, "fifth"), (2, 1, "approach"))},
}
COMP_PATTERNS: dict[str, dict[int, tuple[Onset, ...]]] = {
    "block": {4: ((0, 4, "down"),), 3: ((0, 3, "down"),)},
    "halves": {4: ((0, 2, "down"), (2, 2, "down")), 3: ((0, 3, "down"),)},
    "pulse_quarters": {n: tuple((i, 0.9, "down") for i in range(n)) for n in (3, 4)},
    "pulse_eighths": {n: tuple((i / 2, 0.45, "down") for i in range(2 * n)) for n in (3, 4)},
    "offbeat_stabs": {n: tuple((i + 0.5, 0.35, "down") for i in range(n)) for n in (3, 4)},
    "strum": {4: ((0, 1, "down"), (1, 0.5, "down"), (1.5, 1, "up"), (2.5, 0.5, "up"), (3, 0.5, "down"), (3.5, 0.5, "up")),
              3: ((0, 1, "down"), (1, 1, "down"), (2, 0.5, "down"), (2.5, 0.5, "up"))},
    "charleston": {4: ((0, 0.9, "down"), (1.5, 0.9, "down"), (3.5, 0.4, "down")), 3: ((0, 0.9, "down"), (1.5, 0.9, "down"))},
    "arpeggio_eighths": {n: tuple((i / 2, 0.5, "arp") for i in range(2 * n)) for n in (3, 4)},
    "arpeggio_sixteenths": {n: tuple((i / 4, 0.25, "arp") for i in range(4 * n)) for n in (3, 4)},
}
STRUM_SPREAD_TICKS = 14  # between strings of a strummed chord (about 15 ms at 120 BPM)
UP_STRUM_VELOCITY_DROP = 15
ARPEGGIO_RING_BEATS = 1.0  # an arpeggiated note rings this long under the next ones
BASS_VELOCITY = 92
COMP_VELOCITY = 70
ENDING_BEATS = 4  # the final chord is held this long past its bar's start, beyond the bar in 3/4


def _onsets_in_span(pattern: dict[int, tuple[Onset, ...]], span: ChordSpan, grid: Grid) -> list[tuple[int, int, str]]:
    """The pattern's onsets inside ``span`` as (start tick, length ticks, role); one at the span's start if none."""
    bar_start = span.bar * grid.bar_ticks
    onsets = []
    for beat, length, role in pattern[grid.beats_per_bar]:
        start = bar_start + grid.beat(beat)
        if span.start <= start < span.start + span.length:
            onsets.append((start, min(grid.beat(beat + length) - grid.beat(beat), span.start + span.length - start), role))
    if not onsets or onsets[0][0] != span.start:
        first_role = pattern[grid.beats_per_bar][0][2]
        end = onsets[0][0] if onsets else span.start + span.length
        onsets.insert(0, (span.start, end - span.start, first_role))
    return onsets


def _final(span: ChordSpan, grid: Grid) -> int:
    return max(span.length, grid.beat(ENDING_BEATS))


def _bass_pitch(role: str, span: ChordSpan, next_root: int, tonic: int, center: int) -> int:
    root = pitch_near((tonic + span.chord.root) % 12, center)
    tones = [pitch_near((tonic + semitones) % 12, root + 6) for semitones, _ in span.chord.tones]
    upper = sorted(pitch for pitch in tones if pitch > root) or [root + 7]
    if role == "fifth":
        return next((pitch for pitch in upper if pitch - root == 7), upper[-1] if len(upper) > 1 else upper[0])
    if role == "third":
        return upper[0]
    if role == "octave":
        return root + 12
    if role == "approach":  # a semitone above or below the next chord's root
        target = pitch_near((tonic + next_root) % 12, root)
        return target - 1 if target > root else target + 1
    return root


def bass_line(spans: list[ChordSpan], grid: Grid, pattern: str, tonic: int, center: int, channel: int,
              rng: random.Random) -> list[Note]:
    """Roots on the strong beats, fifths / octaves / chord tones between, chromatic approaches when walking."""
    notes = []
    for position, span in enumerate(spans):
        next_root = spans[position + 1].chord.root if position + 1 < len(spans) else 0
        onsets = [(span.start, _final(span, grid), "root")] if span.final else _onsets_in_span(BASS_PATTERNS[pattern], span, grid)
        for start, length, role in onsets:
            tick, velocity = humanised(rng, start, BASS_VELOCITY + (8 if start == span.start else 0))
            notes.append(Note(tick, max(1, length - 10), _bass_pitch(role, span, next_root, tonic, center), velocity, channel))
    return notes


def voicing(span: ChordSpan, tonic: int, center: int) -> list[int]:
    """The chord's tones each placed nearest ``center``, low to high (close position around the register)."""
    return sorted({pitch_near((tonic + semitones) % 12, center) for semitones, _ in span.chord.tones})


def comping(spans: list[ChordSpan], grid: Grid, pattern: str, tonic: int, center: int, channel: int,
            rng: random.Random) -> list[Note]:
    """The chords played in ``pattern``: held, pulsed, strummed (strings spread in time) or arpeggiated."""
    notes = []
    arpeggio_step = 0
    for span in spans:
        pitches = voicing(span, tonic, center)
        onsets = [(span.start, _final(span, grid), "down")] if span.final else _onsets_in_span(COMP_PATTERNS[pattern], span, grid)
        for start, length, role in onsets:
            if role == "arp":
                cycle = pitches + pitches[-2:0:-1]  # up and back down without repeating the ends
                tick, velocity = humanised(rng, start, COMP_VELOCITY)
                ring = max(length, grid.beat(ARPEGGIO_RING_BEATS))
                notes.append(Note(tick, min(ring, span.start + span.length - tick + grid.beat(0.5)),
                                  cycle[arpeggio_step % len(cycle)], velocity, channel))
                arpeggio_step += 1
                continue
            order = pitches if role == "down" else pitches[::-1]
            spread = STRUM_SPREAD_TICKS if pattern == "strum" else 0
            base_velocity = COMP_VELOCITY - (UP_STRUM_VELOCITY_DROP if role == "up" else 0)
            for string, pitch in enumerate(order):
                tick, velocity = humanised(rng, start + string * spread, base_velocity)
                notes.append(Note(tick, max(1, length - 8 - string * spread), pitch, velocity, channel))
    return notes
