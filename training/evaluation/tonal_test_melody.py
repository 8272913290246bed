"""The melody of a tonal test piece, written to make its key clear the way songs do.

Four-bar phrases from two rhythmic motifs; chord tones on strong beats and long notes, scale steps between
them, taking the chord's chromatic notes (the leading tone over V in harmonic minor); each phrase ends on a
held chord tone, and the piece ends with a step into the tonic (from the second degree or the seventh).
"""

from __future__ import annotations

import bisect
import random

from training.evaluation.tonal_midi import Note
from training.evaluation.tonal_test_harmony import scale_over
from training.evaluation.tonal_test_timeline import ChordSpan, Grid, humanised

Rhythm = tuple[tuple[float, float], ...]  # (beat in the bar, length in beats)
MOTIFS: dict[int, tuple[Rhythm, ...]] = {
    4: (((0, 1), (1, 1), (2, 1.5), (3.5, 0.5)), ((0, 1.5), (1.5, 0.5), (2, 2)),
        ((0, 0.5), (0.5, 0.5), (1, 1), (2, 0.5), (2.5, 0.5), (3, 1)), ((0, 2), (2, 1), (3, 1)),
        ((0.5, 0.5), (1, 1), (2, 1), (3, 1)), ((0, 1), (1, 0.5), (1.5, 0.5), (2, 2))),
    3: (((0, 2), (2, 1)), ((0, 1), (1, 1), (2, 1)), ((0, 1.5), (1.5, 0.5), (2, 1)),
        ((0, 0.5), (0.5, 0.5), (1, 1), (2, 1))),
}
PHRASE_BARS = 4
MELODY_RANGE_SEMITONES = 17
MAX_LEAP_DRIFT = 4  # semitones a chord tone may be sought away from the last note
MELODY_VELOCITY = 96
DOWNBEAT_ACCENT = 10
ENDING_BEATS = 4


def _span_at(spans: list[ChordSpan], tick: int) -> ChordSpan:
    starts = [span.start for span in spans]
    return spans[max(0, bisect.bisect_right(starts, tick) - 1)]


def _in_range(pitch_classes: set[int], low: int, high: int) -> list[int]:
    return [pitch for pitch in range(low, high + 1) if pitch % 12 in pitch_classes]


def _chord_tone_near(span: ChordSpan, target: int, tonic: int, low: int, high: int) -> int:
    candidates = _in_range({(tonic + pc) % 12 for pc in span.chord.pitch_classes}, low, high)
    return min(candidates, key=lambda pitch: (abs(pitch - target), pitch))


def _step(span: ChordSpan, mode_kind: str, previous: int, direction: int, tonic: int, low: int, high: int) -> int:
    """One scale step from ``previous`` in ``direction`` on the scale over the span's chord, turning at the edges."""
    scale = _in_range({(tonic + pc) % 12 for pc in scale_over(span.chord, mode_kind)}, low, high)
    above = [pitch for pitch in scale if pitch > previous]
    below = [pitch for pitch in scale if pitch < previous]
    if direction > 0 and above or not below:
        return above[0]
    return below[-1]


def _bar_rhythm(bar: int, total_bars: int, motifs: tuple[Rhythm, Rhythm], beats_per_bar: int) -> Rhythm:
    """Motif a, motif b, a, then a phrase ending: the start of a and one note held to the bar's end."""
    if bar == total_bars - 1:
        return ((0, ENDING_BEATS),)
    position = bar % PHRASE_BARS
    if position == PHRASE_BARS - 1 or bar == total_bars - 2:
        head = tuple(onset for onset in motifs[0] if onset[0] < beats_per_bar / 2)[:2] or ((0, 1),)
        last_start = head[-1][0] + head[-1][1]
        return head[:-1] + ((head[-1][0], last_start - head[-1][0]), (last_start, beats_per_bar - last_start))
    return motifs[position % 2]


def melody(spans: list[ChordSpan], grid: Grid, mode_kind: str, tonic: int, low: int, channel: int,
           rng: random.Random) -> list[Note]:
    """The melody over ``spans`` in the register [low, low + MELODY_RANGE_SEMITONES]."""
    high = low + MELODY_RANGE_SEMITONES
    total_bars = spans[-1].bar + 1
    motifs = tuple(rng.sample(MOTIFS[grid.beats_per_bar], 2))
    previous = _chord_tone_near(spans[0], (low + high) // 2, tonic, low, high)
    direction = rng.choice((-1, 1))
    notes = []
    for bar in range(total_bars):
        rhythm = _bar_rhythm(bar, total_bars, motifs, grid.beats_per_bar)
        for position, (beat, length) in enumerate(rhythm):
            start = bar * grid.bar_ticks + grid.beat(beat)
            span = _span_at(spans, start)
            last_of_bar = position == len(rhythm) - 1
            if bar == total_bars - 1:
                pitch = _in_range({tonic % 12}, low, high)
                pitch = min(pitch, key=lambda p: abs(p - previous))
            elif bar == total_bars - 2 and last_of_bar:  # the note that leads into the final tonic
                scale = scale_over(span.chord, mode_kind)
                leading = [(tonic + scale[1]) % 12, (tonic + scale[6]) % 12] if scale[6] == 11 else [(tonic + scale[1]) % 12]
                pitch = min(_in_range(set(leading), low, high), key=lambda p: abs(p - previous))
            elif beat == 0 or length >= 1 or last_of_bar:
                pitch = _chord_tone_near(span, previous + rng.randint(-MAX_LEAP_DRIFT, MAX_LEAP_DRIFT), tonic, low, high)
            else:
                if rng.random() < 0.3:
                    direction = -direction
                pitch = _step(span, mode_kind, previous, direction, tonic, low, high)
            if pitch >= high - 2:
                direction = -1
            elif pitch <= low + 2:
                direction = 1
            tick, velocity = humanised(rng, start, MELODY_VELOCITY + (DOWNBEAT_ACCENT if beat == 0 else 0))
            notes.append(Note(tick, max(1, grid.beat(beat + length) - grid.beat(beat) - 20), pitch, velocity, channel))
            previous = pitch
    return notes
