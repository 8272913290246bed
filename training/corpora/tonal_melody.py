"""The melody of the procedural tonal generator: rhythm cells per bar, chord tones on strong beats, scale
steps between them, and the last note on the tonic.

A four-bar rhythm phrase is drawn once and repeated (a bar is now and then redrawn), so clips have the
repetition real tunes have. Pitches walk the key's scale, adjusted under each chord (``scale_under_chord``);
in melodic minor a rising step uses the raised sixth and seventh and a falling one the natural scale.
"""

from __future__ import annotations

import random

from training.corpora.midi_file import MidiNote
from training.corpora.tonal_harmony import MINOR_SCALES, ChordSpan, scale_under_chord

MELODY_RANGE = 17  # semitones above the clip's melody floor
PHRASE_BARS = 4
REDRAW_BAR_SHARE = 0.3
STEP_WEIGHTS = {1: 5, 2: 2, 3: 1}  # scale steps of a weak-beat note, and how often each size is drawn
PHRASE_ACCENT = 6  # velocity added to a phrase's first note
VELOCITY_JITTER = 6
# Rhythm cells: note lengths in quarters filling one bar; a negative length is a rest.
RHYTHM_CELLS: dict[int, dict[str, tuple[tuple[float, ...], ...]]] = {
    4: {
        "sparse": ((4.0,), (2.0, 2.0), (3.0, 1.0), (2.0, 1.0, 1.0), (-1.0, 1.0, 2.0), (1.0, 1.0, 2.0)),
        "medium": ((1.0, 1.0, 1.0, 1.0), (2.0, 1.0, 1.0), (1.5, 0.5, 2.0), (1.0, 0.5, 0.5, 2.0), (1.0, 1.0, 2.0),
                   (-1.0, 1.0, 1.0, 1.0), (1.5, 1.5, 1.0)),
        "busy": ((0.5,) * 8, (1.0, 0.5, 0.5, 1.0, 1.0), (0.5, 0.5, 1.0, 0.5, 0.5, 1.0), (0.75, 0.25, 0.5, 0.5, 1.0, 1.0),
                 (1.0, 1.0, 0.5, 0.5, 1.0), (-0.5, 0.5, 0.5, 0.5, 1.0, 1.0)),
    },
    3: {
        "sparse": ((3.0,), (2.0, 1.0), (-1.0, 2.0)),
        "medium": ((1.0, 1.0, 1.0), (2.0, 1.0), (1.5, 0.5, 1.0), (-1.0, 1.0, 1.0)),
        "busy": ((0.5, 0.5, 1.0, 1.0), (1.0, 0.5, 0.5, 1.0), (0.5,) * 6, (1.5, 0.5, 0.5, 0.5)),
    },
}


def _span_at(spans: list[ChordSpan], time: float) -> ChordSpan:
    for span in spans:
        if span.onset <= time + 1e-6 < span.onset + span.duration:
            return span
    return spans[-1]


def _pitches_of(tonic: int, scale: tuple[int, ...], low: int) -> list[int]:
    return [pitch for pitch in range(low, low + MELODY_RANGE + 1) if (pitch - tonic) % 12 in scale]


def _nearest(pitches: list[int], target: int) -> int:
    return min(pitches, key=lambda pitch: (abs(pitch - target), pitch))


def _rhythm_of_bars(bar_count: int, beats_per_bar: int, density: str, rng: random.Random) -> list[tuple[float, ...]]:
    cells = RHYTHM_CELLS[beats_per_bar][density]
    phrase = [rng.choice(cells) for _ in range(PHRASE_BARS)]
    return [rng.choice(cells) if rng.random() < REDRAW_BAR_SHARE else phrase[bar % PHRASE_BARS] for bar in range(bar_count)]


def _next_pitch(current: int, span: ChordSpan, tonic: int, scale: tuple[int, ...], colour: str, low: int,
                strong: bool, rng: random.Random) -> int:
    chord_tones = [pitch for pitch in range(low, low + MELODY_RANGE + 1) if (pitch - tonic) % 12 in span.chord.pitch_classes]
    if strong and chord_tones:
        return _nearest(chord_tones, current + rng.choice((-2, 0, 2)))
    centre = low + MELODY_RANGE // 2
    direction = rng.choice((-1, 1)) if abs(current - centre) < 5 else (1 if current < centre else -1)
    if colour == "melodic":
        scale = MINOR_SCALES["melodic" if direction > 0 else "natural"]
    pitches = _pitches_of(tonic, scale_under_chord(scale, span.chord), low)
    index = pitches.index(_nearest(pitches, current))
    step = rng.choices(list(STEP_WEIGHTS), weights=list(STEP_WEIGHTS.values()))[0]
    return pitches[min(len(pitches) - 1, max(0, index + direction * step))]


def melody_part(spans: list[ChordSpan], bar_count: int, beats_per_bar: int, density: str, tonic: int,
                scale: tuple[int, ...], colour: str, low: int, velocity: int, track: int,
                rng: random.Random) -> list[MidiNote]:
    """A melody over ``bar_count`` bars; the final note is the tonic, held to the end of the last bar."""
    notes: list[MidiNote] = []
    current = _nearest(_pitches_of(tonic, scale, low), low + MELODY_RANGE // 2)
    for bar, cell in enumerate(_rhythm_of_bars(bar_count, beats_per_bar, density, rng)):
        time = float(bar * beats_per_bar)
        for length in cell:
            if length > 0:
                strong = (time - bar * beats_per_bar) % 2 == 0 or length >= 1.5
                current = _next_pitch(current, _span_at(spans, time), tonic, scale, colour, low, strong, rng)
                accent = PHRASE_ACCENT if bar % PHRASE_BARS == 0 and time == bar * beats_per_bar else 0
                note_velocity = velocity + accent + rng.randint(-VELOCITY_JITTER, VELOCITY_JITTER)
                notes.append(MidiNote(time, length * 0.95, current, note_velocity, track))
            time += abs(length)
    last_bar = float((bar_count - 1) * beats_per_bar)
    notes = [note for note in notes if note.onset_quarters < last_bar]
    tonic_pitch = _nearest([p for p in range(low, low + MELODY_RANGE + 1) if (p - tonic) % 12 == 0], current)
    notes.append(MidiNote(last_bar, float(beats_per_bar), tonic_pitch, velocity, track))
    return notes
