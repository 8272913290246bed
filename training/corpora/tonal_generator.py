"""The procedural tonal generator for training: one piece description in, a multi-part MIDI file out.

A ``TonalPieceSpec`` (drawn by ``tonal_plan``) fixes everything that is a label or a choice: key, minor
colour, style, tempo, programs, registers, dynamics. ``compose`` lays the style's progression over whole
bars, closes on a cadence to the tonic, and writes bass, comping, an optional pad, the melody and (when
``drums``) a drum part. The key label is exact by construction: every chord is a Roman numeral of that
key and the piece ends on its tonic; the tempo label is the MIDI tempo, a whole number of beats a minute.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from training.corpora.midi_file import MidiNote, MidiTrack, midi_file_bytes
from training.corpora.tonal_accompaniment import bass_part, comping_part
from training.corpora.tonal_drums import drum_part
from training.corpora.tonal_harmony import ChordSpan, parse_numeral, scale_of
from training.corpora.tonal_melody import melody_part
from training.corpora.tonal_styles import Style, style_by_name

MIN_BARS = 4
SWING_DELAY = 1 / 6  # quarters: a swung off-beat eighth lands on the last triplet of the beat
MIN_SWUNG_QUARTERS = 0.1
# Velocity of each role relative to the clip's dynamic level: the melody leads, the pad sits behind.
ROLE_VELOCITY_OFFSETS = {"melody": 8, "comping": -10, "bass": 0, "pad": -20, "drums": -4}
STANDARD_DRUM_KIT = 0  # the only kit every training sound font has


@dataclass(frozen=True)
class TonalPieceSpec:
    """Everything one generated clip is made from; ``variant_seed`` drives the note-level choices."""

    style: str
    pitch_class: int  # tonic, C = 0
    mode: str  # "major" or "minor"
    colour: str  # minor colour ("natural", "harmonic", "dorian", "melodic"); "major" for major keys
    tempo_bpm: int
    drums: bool
    solo: bool  # one instrument plays every part
    melody_program: int
    comping_program: int
    bass_program: int
    pad_program: int | None
    progression: tuple[str, ...]
    cadence: tuple[str, ...]
    bass_pattern: str
    comping_pattern: str
    melody_low: int
    comping_low: int
    bass_low: int
    dynamic_level: int  # MIDI velocity the roles are offset from
    target_seconds: float
    variant_seed: int

    @property
    def programs(self) -> tuple[int, ...]:
        """The melodic programs that sound, in track order (melody, comping, bass, then the pad if any)."""
        pad = (self.pad_program,) if self.pad_program is not None else ()
        return (self.melody_program, self.comping_program, self.bass_program) + pad


@dataclass(frozen=True)
class GeneratedPiece:
    midi_bytes: bytes
    seconds: float  # musical length: whole bars at the spec's tempo
    bar_count: int
    notes: tuple[MidiNote, ...]
    tracks: tuple[MidiTrack, ...]


def bar_count_for(style: Style, tempo_bpm: int, target_seconds: float) -> int:
    bar_seconds = style.beats_per_bar * 60.0 / tempo_bpm
    return max(MIN_BARS, round(target_seconds / bar_seconds))


def harmony(spec: TonalPieceSpec, style: Style, bar_count: int) -> list[ChordSpan]:
    """The progression looped over every chord slot, the cadence in the last slots, the tonic filling the
    last bar."""
    slots = bar_count * style.chords_per_bar
    symbols = [spec.progression[slot % len(spec.progression)] for slot in range(slots)]
    final_bar = slots - style.chords_per_bar
    approach = list(spec.cadence[:-1])
    symbols[final_bar - len(approach):final_bar] = approach
    symbols[final_bar:] = [spec.cadence[-1]] * style.chords_per_bar
    chords = [parse_numeral(symbol) for symbol in symbols]
    slot_quarters = style.beats_per_bar / style.chords_per_bar
    return [ChordSpan(slot * slot_quarters, slot_quarters, chord, chords[min(slot + 1, slots - 1)],
                      slot % style.chords_per_bar == 0)
            for slot, chord in enumerate(chords)]


def swung(notes: list[MidiNote]) -> list[MidiNote]:
    """Off-beat eighths delayed to the last triplet of their beat (and shortened so they end in time)."""
    result = []
    for note in notes:
        if abs(note.onset_quarters % 1 - 0.5) < 1e-6:
            duration = max(MIN_SWUNG_QUARTERS, note.duration_quarters - SWING_DELAY)
            note = replace(note, onset_quarters=note.onset_quarters + SWING_DELAY, duration_quarters=duration)
        result.append(note)
    return result


def compose(spec: TonalPieceSpec) -> GeneratedPiece:
    """The spec's piece as MIDI; the same spec always gives the same bytes."""
    style = style_by_name(spec.style)
    rng = random.Random(spec.variant_seed)
    bar_count = bar_count_for(style, spec.tempo_bpm, spec.target_seconds)
    spans = harmony(spec, style, bar_count)
    scale = scale_of(spec.mode, spec.colour)
    level = {role: spec.dynamic_level + offset for role, offset in ROLE_VELOCITY_OFFSETS.items()}
    tracks = [MidiTrack(spec.melody_program, "melody"), MidiTrack(spec.comping_program, "comping"),
              MidiTrack(spec.bass_program, "bass")]
    notes = bass_part(spans, spec.bass_pattern, spec.pitch_class, spec.bass_low, level["bass"], 2, scale, rng)
    notes += comping_part(spans, spec.comping_pattern, spec.pitch_class, spec.comping_low, level["comping"], 1, rng)
    if spec.pad_program is not None:
        tracks.append(MidiTrack(spec.pad_program, "pad"))
        notes += comping_part(spans, "pad", spec.pitch_class, spec.comping_low, level["pad"], len(tracks) - 1, rng)
    notes += melody_part(spans, bar_count, style.beats_per_bar, style.melody_density, spec.pitch_class, scale,
                         spec.colour, spec.melody_low, level["melody"], 0, rng)
    if spec.drums:
        tracks.append(MidiTrack(STANDARD_DRUM_KIT, "drums", drums=True))
        notes += drum_part(style.drum_pattern, bar_count, style.beats_per_bar, level["drums"], len(tracks) - 1, rng)
    if style.swing:
        notes = swung(notes)
    midi_bytes = midi_file_bytes(notes, tracks, spec.tempo_bpm)
    seconds = bar_count * style.beats_per_bar * 60.0 / spec.tempo_bpm
    return GeneratedPiece(midi_bytes, seconds, bar_count, tuple(notes), tuple(tracks))
