"""Bass lines and comping of the procedural tonal generator: chord spans in, MIDI notes out.

A pattern is a rhythm (onsets and lengths in quarter notes over a repeating unit) plus a rule for which
chord tones sound; the style picks pattern names (``tonal_styles``). Pitches are absolute MIDI numbers:
the tonic's pitch class is added to the chord's relative pitch classes, then notes are placed above a
register floor (``low``) chosen per clip.
"""

from __future__ import annotations

import random

from training.corpora.midi_file import MidiNote
from training.corpora.tonal_harmony import Chord, ChordSpan

ACCENT_VELOCITY = 8  # added to notes on the beat
VELOCITY_JITTER = 5
FIFTH, OCTAVE = 7, 12
WALKING_RANGE = 19  # semitones above the bass floor a walking line may climb
# Comping rhythms: (unit length in quarters, ((onset, duration), ...)) repeated through each chord span.
# "pad" holds the chord for the whole span instead.
COMPING_RHYTHMS: dict[str, tuple[float, tuple[tuple[float, float], ...]]] = {
    "block": (1.0, ((0.0, 0.95),)),
    "strum8": (1.0, ((0.0, 0.45), (0.5, 0.45))),
    "power8": (1.0, ((0.0, 0.45), (0.5, 0.45))),
    "offbeat": (1.0, ((0.5, 0.35),)),
    "pulse16": (1.0, ((0.0, 0.2), (0.25, 0.2), (0.5, 0.2), (0.75, 0.2))),
    "waltz": (3.0, ((1.0, 0.8), (2.0, 0.8))),
    "charleston": (4.0, ((0.0, 1.2), (1.5, 0.8))),
    "bossa": (4.0, ((0.0, 0.9), (1.5, 0.9), (3.0, 0.9))),
    "arpeggio": (1.0, ((0.0, 0.5), (0.5, 0.5))),
    "montuno": (4.0, ((0.0, 0.5), (1.0, 0.5), (1.5, 0.5), (2.5, 0.5), (3.0, 0.5), (3.5, 0.5))),
}
BROKEN_PATTERNS = ("arpeggio", "montuno")  # one chord tone per onset, cycling through the voicing
# Bass rhythms as (unit, ((onset, duration, tone), ...)); tone: "root", "fifth", "octave".
BASS_RHYTHMS: dict[str, tuple[float, tuple[tuple[float, float, str], ...]]] = {
    "root": (4.0, ((0.0, 3.9, "root"),)),
    "root_fifth": (2.0, ((0.0, 0.95, "root"), (1.0, 0.95, "fifth"))),
    "eighths": (0.5, ((0.0, 0.45, "root"),)),
    "octaves": (1.0, ((0.0, 0.45, "root"), (0.5, 0.45, "octave"))),
    "offbeat": (1.0, ((0.5, 0.4, "root"),)),
    "waltz": (3.0, ((0.0, 0.95, "root"),)),
    "bossa": (2.0, ((0.0, 1.45, "root"), (1.5, 0.45, "fifth"))),
}


def pitch_at_or_above(pitch_class: int, low: int) -> int:
    """The lowest MIDI pitch of ``pitch_class`` that is ``>= low``."""
    return low + (pitch_class - low) % 12


def voice_chord(pitch_classes: tuple[int, ...], low: int, previous: list[int] | None) -> list[int]:
    """Close-position voicing above ``low``: the inversion whose mean is nearest the previous voicing's
    (smooth voice leading), root position when there is none."""
    candidates = []
    for rotation in range(len(pitch_classes)):
        order = pitch_classes[rotation:] + pitch_classes[:rotation]
        voicing = [pitch_at_or_above(order[0], low)]
        for pitch_class in order[1:]:
            voicing.append(pitch_at_or_above(pitch_class, voicing[-1] + 1))
        candidates.append(voicing)
    if not previous:
        return candidates[0]
    previous_mean = sum(previous) / len(previous)
    return min(candidates, key=lambda voicing: abs(sum(voicing) / len(voicing) - previous_mean))


def _velocity(base: int, onset: float, rng: random.Random) -> int:
    accent = ACCENT_VELOCITY if abs(onset - round(onset)) < 1e-6 else 0
    return base + accent + rng.randint(-VELOCITY_JITTER, VELOCITY_JITTER)


def _hits(span: ChordSpan, unit: float, rhythm: tuple) -> list[tuple[float, float, tuple]]:
    """(onset, duration, rest of the rhythm entry) of each hit of a repeating rhythm inside the span."""
    hits = []
    end = span.onset + span.duration
    unit_start = span.onset
    while unit_start < end - 1e-6:
        for onset, duration, *rest in rhythm:
            time = unit_start + onset
            if time < end - 1e-6:
                hits.append((time, min(duration, end - time), tuple(rest)))
        unit_start += unit
    return hits


def _walking_line(span: ChordSpan, tonic: int, low: int, scale: tuple[int, ...], rng: random.Random) -> list[int]:
    """One quarter-note pitch per beat: the root, chord or scale tones, then a semitone into the next root."""
    beats = max(1, round(span.duration))
    root = pitch_at_or_above((tonic + span.chord.root) % 12, low)
    line = [root]
    tones = sorted({(tonic + pitch_class) % 12 for pitch_class in span.chord.pitch_classes + scale})
    for _ in range(beats - 2):
        candidates = [pitch for pitch in range(low, low + WALKING_RANGE) if pitch % 12 in tones and 0 < abs(pitch - line[-1]) <= 4]
        line.append(rng.choice(candidates) if candidates else line[-1])
    if beats > 1:
        next_root = pitch_at_or_above((tonic + span.next_chord.root) % 12, low)
        line.append(next_root + rng.choice((-1, 1)))
    return line


def bass_part(spans: list[ChordSpan], pattern: str, tonic: int, low: int, velocity: int, track: int,
              scale: tuple[int, ...], rng: random.Random) -> list[MidiNote]:
    """The bass line under every span; ``pattern`` names a BASS_RHYTHMS entry or "walking". A walking line
    stops on the final chord's root (walking on would pass through notes outside the closing chord)."""
    notes = []
    for number, span in enumerate(spans):
        root = pitch_at_or_above((tonic + span.chord.root) % 12, low)
        if pattern == "walking":
            final = number == len(spans) - 1
            line = [root] if final else _walking_line(span, tonic, low, scale, rng)
            for beat, pitch in enumerate(line):
                onset = span.onset + beat
                duration = span.duration if final else 0.9
                notes.append(MidiNote(onset, duration, pitch, _velocity(velocity, onset, rng), track))
            continue
        unit, rhythm = BASS_RHYTHMS[pattern]
        fifth = root + FIFTH if root + FIFTH < low + OCTAVE + FIFTH else root - (OCTAVE - FIFTH)
        pitch_of = {"root": root, "fifth": fifth, "octave": root + OCTAVE}
        for onset, duration, (tone,) in _hits(span, unit, rhythm):
            notes.append(MidiNote(onset, duration, pitch_of[tone], _velocity(velocity, onset, rng), track))
    return notes


def _comping_voicing(chord: Chord, pattern: str, tonic: int, low: int, previous: list[int] | None) -> list[int]:
    pitch_classes = tuple((tonic + pitch_class) % 12 for pitch_class in chord.pitch_classes)
    if pattern == "power8":
        root = pitch_at_or_above(pitch_classes[0], low)
        return [root, root + FIFTH, root + OCTAVE]
    if pattern == "charleston" and len(pitch_classes) >= 4:  # jazz shell: third and seventh over the root
        return voice_chord((pitch_classes[0], pitch_classes[1], pitch_classes[3]), low, previous)
    return voice_chord(pitch_classes, low, previous)


def comping_part(spans: list[ChordSpan], pattern: str, tonic: int, low: int, velocity: int, track: int,
                 rng: random.Random) -> list[MidiNote]:
    """Chords over every span; ``pattern`` is "pad" or a COMPING_RHYTHMS entry."""
    notes = []
    previous: list[int] | None = None
    for span in spans:
        voicing = _comping_voicing(span.chord, pattern, tonic, low, previous)
        previous = voicing
        if pattern == "pad":
            notes += [MidiNote(span.onset, span.duration, pitch, velocity, track) for pitch in voicing]
            continue
        unit, rhythm = COMPING_RHYTHMS[pattern]
        broken = voicing + [voicing[0] + OCTAVE] + voicing[1:-1][::-1]  # up then down again
        for number, (onset, duration, _) in enumerate(_hits(span, unit, rhythm)):
            note_velocity = _velocity(velocity, onset, rng)
            pitches = [broken[number % len(broken)]] if pattern in BROKEN_PATTERNS else voicing
            notes += [MidiNote(onset, duration, pitch, note_velocity, track) for pitch in pitches]
    return notes
