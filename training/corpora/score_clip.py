"""One rendered variant of a score: cut to a clip length at a bar line, transposed, re-orchestrated.

Short pieces are looped until they reach the minimum length; long ones are cut at the first bar line past
the target length (never past the maximum), so clips end on a bar rather than mid-beat.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from training.corpora.instrumentation import Instrumentation
from training.corpora.midi_file import MidiNote, MidiTrack, midi_file_bytes
from training.corpora.score_notes import ScoreNotes

RELEASE_SECONDS = 1.5  # rendered tail kept after the last note-off
VELOCITY_RANGE = (64, 110)
VELOCITY_JITTER = 8
MAX_LOOPS = 16


@dataclass(frozen=True)
class ClipVariant:
    transposition: int  # semitones added to every pitch
    quarter_bpm: float
    instrumentation: Instrumentation
    target_seconds: float
    min_seconds: float
    max_seconds: float


@dataclass
class ClipMidi:
    midi_bytes: bytes
    seconds: float  # musical length of the clip; the audio is cut to this plus RELEASE_SECONDS


def _looped(score_notes: ScoreNotes, min_quarters: float) -> tuple[list[list[float]], list[float]]:
    """Repeat the piece (period = its length rounded up to a bar) until it is at least ``min_quarters`` long."""
    bar_starts = score_notes.bar_starts
    period = score_notes.length_quarters
    later_bars = [start for start in bar_starts if start >= period - 1e-6]
    if later_bars:
        period = later_bars[0]
    notes, bars = list(score_notes.notes), list(bar_starts)
    loops = 1
    while loops * period < min_quarters and loops < MAX_LOOPS:
        shift = loops * period
        notes += [[onset + shift, duration, pitch, part] for onset, duration, pitch, part in score_notes.notes]
        bars += [start + shift for start in bar_starts]
        loops += 1
    return notes, sorted(set(bars + [loops * period]))


def _cut_point(bars: list[float], length: float, target: float, maximum: float) -> float:
    candidates = [start for start in bars if target <= start <= maximum]
    if candidates:
        return candidates[0]
    return min(length, maximum)


def build_clip_midi(score_notes: ScoreNotes, variant: ClipVariant, rng: random.Random) -> ClipMidi:
    """Notes → MIDI bytes for this variant. Times: quarters; ``quarter_bpm`` converts to seconds."""
    seconds_per_quarter = 60.0 / variant.quarter_bpm
    notes, bars = _looped(score_notes, variant.min_seconds / seconds_per_quarter)
    length = max(onset + duration for onset, duration, _, _ in notes)
    cut = _cut_point(bars, length, variant.target_seconds / seconds_per_quarter, variant.max_seconds / seconds_per_quarter)
    programs = variant.instrumentation.programs
    velocity_by_track = [rng.randint(*VELOCITY_RANGE) for _ in programs]
    midi_notes: list[MidiNote] = []
    for onset, duration, pitch, part in notes:
        if onset >= cut:
            continue
        duration = min(duration, cut - onset)
        pitch = int(pitch) + variant.transposition
        tracks = [int(part)]
        if variant.instrumentation.doubling_octave and len(programs) == 2:
            tracks = [0, 1]
        for track in tracks:
            shifted = pitch + (12 * variant.instrumentation.doubling_octave if track == 1 and len(tracks) == 2 else 0)
            velocity = velocity_by_track[track] + rng.randint(-VELOCITY_JITTER, VELOCITY_JITTER)
            midi_notes.append(MidiNote(onset, duration, shifted, velocity, track))
    tracks = [MidiTrack(program, f"part {index}") for index, program in enumerate(programs)]
    return ClipMidi(midi_file_bytes(midi_notes, tracks, variant.quarter_bpm), cut * seconds_per_quarter)
