"""One tonal test piece from (seed, piece index): its plan (key, style, tempo, meter, instruments, registers,
patterns) and its MIDI. Nothing else feeds it, so any piece can be rebuilt alone and a run can resume.

Every block of 24 consecutive pieces holds each of the 24 keys once; within a block, the twelve minor pieces
are four natural, four harmonic and four dorian-coloured, and six major and six minor pieces have drums.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from engine.keys import KEY_CLASS_COUNT, Key, key_from_index
from training.evaluation.tonal_midi import (
    DRUM_CHANNEL, MICROSECONDS_PER_MINUTE, ChannelSetup, Note, microseconds_per_quarter, midi_bytes,
)
from training.evaluation.tonal_test_accompaniment import bass_line, comping
from training.evaluation.tonal_test_drums import drum_part
from training.evaluation.tonal_test_harmony import CADENCES, JAZZ_CADENCES, LOOPS, MINOR_KINDS, STYLES, bars_of
from training.evaluation.tonal_test_melody import ENDING_BEATS, melody
from training.evaluation.tonal_test_timeline import ChordSpan, Grid

GENERATOR = "tonal_test_v1"
BLOCK = KEY_CLASS_COUNT
MIN_SECONDS, MAX_SECONDS = 20.0, 40.0
TAIL_SECONDS = 2.0  # ring-out kept after the last chord's end
DURATION_MARGIN_SECONDS = 1.0  # keeps the rendered length inside [MIN_SECONDS, MAX_SECONDS]
TEMPO_RANGES = {"pop": (72, 132), "rock": (96, 176), "folk": (60, 144), "edm": (110, 180), "jazz": (60, 180)}
TRIPLE_METER_SHARE = {"pop": 0.15, "rock": 0.0, "folk": 0.4, "edm": 0.0, "jazz": 0.1}
CHORUS_AFTER_BARS = 8  # a second loop takes over after this many bars (verse / chorus), then the first returns
# GM programs (0-based) by style and role; all are in the held-out sound font.
PROGRAMS = {
    "pop": {"melody": (0, 4, 11, 73, 65, 80, 40, 54), "comp": (0, 4, 5, 24, 25, 48, 89), "bass": (33, 34, 38)},
    "rock": {"melody": (29, 30, 27, 81, 16, 56), "comp": (29, 30, 27, 16, 18, 0), "bass": (33, 34, 35)},
    "folk": {"melody": (73, 40, 71, 22, 24, 105, 68, 75), "comp": (24, 25, 0, 21, 46, 105), "bass": (32, 33, 43)},
    "edm": {"melody": (80, 81, 84, 85, 98, 62), "comp": (88, 89, 90, 91, 50, 81, 5), "bass": (38, 39, 87)},
    "jazz": {"melody": (65, 66, 56, 11, 26, 0, 73, 64), "comp": (0, 4, 26, 11, 16), "bass": (32, 33)},
}
COMP_PATTERNS_BY_STYLE = {
    "pop": ("block", "pulse_quarters", "arpeggio_eighths", "strum"),
    "rock": ("pulse_eighths", "strum", "halves"),
    "folk": ("strum", "arpeggio_eighths", "block", "arpeggio_sixteenths"),
    "edm": ("offbeat_stabs", "arpeggio_sixteenths", "block"),
    "jazz": ("charleston", "halves"),
}
BASS_PATTERNS_BY_STYLE = {
    "pop": ("root", "syncopated", "eighths"), "rock": ("eighths", "root_fifth"), "folk": ("root_fifth", "root"),
    "edm": ("octaves", "eighths"), "jazz": ("walking",),
}
MELODY_LOWEST = (53, 67)  # range of the melody's lowest note: F3 .. G4
COMP_CENTER = (50, 64)
BASS_CENTER = (33, 45)
MELODY_CHANNEL, COMP_CHANNEL, BASS_CHANNEL = 0, 1, 2
VOLUMES = {MELODY_CHANNEL: 110, COMP_CHANNEL: 80, BASS_CHANNEL: 100, DRUM_CHANNEL: 90}


@dataclass(frozen=True)
class PiecePlan:
    """Everything that decides a piece; ``minor_kind`` is "" for major pieces."""

    seed: int
    index: int
    key: Key
    minor_kind: str
    style: str
    drums: bool
    tempo_microseconds: int
    beats_per_bar: int
    bars: int
    loops: tuple[tuple[str, ...], ...]
    melody_program: int
    comp_program: int
    bass_program: int
    comp_pattern: str
    bass_pattern: str
    melody_lowest: int
    comp_center: int
    bass_center: int

    @property
    def tempo_bpm(self) -> float:
        """The quarter-note tempo the MIDI file plays at, exactly."""
        return MICROSECONDS_PER_MINUTE / self.tempo_microseconds

    @property
    def mode_kind(self) -> str:
        return self.minor_kind or "major"

    @property
    def programs(self) -> list[int]:
        return [self.melody_program, self.comp_program, self.bass_program]

    @property
    def music_seconds(self) -> float:
        """From the first beat to the end of the held final chord."""
        beats = (self.bars - 1) * self.beats_per_bar + ENDING_BEATS
        return beats * self.tempo_microseconds / 1e6


def _block_assignment(seed: int, block: int) -> tuple[list[int], dict[int, str], set[int], dict[int, str]]:
    """A block's key order, minor kind per minor key, keys with drums, style per key: balanced by construction."""
    rng = random.Random(f"{GENERATOR}:{seed}:block:{block}")
    order = list(range(BLOCK))
    rng.shuffle(order)
    kinds = [MINOR_KINDS[i % len(MINOR_KINDS)] for i in range(12)]
    rng.shuffle(kinds)
    kind_of_key = {12 + pitch_class: kind for pitch_class, kind in enumerate(kinds)}
    majors, minors = list(range(12)), list(range(12, 24))
    rng.shuffle(majors)
    rng.shuffle(minors)
    with_drums = set(majors[:6] + minors[:6])
    styles = [STYLES[(i + block) % len(STYLES)] for i in range(BLOCK)]
    rng.shuffle(styles)
    return order, kind_of_key, with_drums, dict(enumerate(styles))


def _bar_count(rng: random.Random, beats_per_bar: int, tempo_microseconds: int) -> int:
    """Bars whose rendered length (music + tail) falls inside the 20-40 s window, near a random target."""
    beat_seconds = tempo_microseconds / 1e6
    low, high = MIN_SECONDS + DURATION_MARGIN_SECONDS, MAX_SECONDS - DURATION_MARGIN_SECONDS
    target = rng.uniform(low, high)
    candidates = [bars for bars in range(4, 200)
                  if low <= ((bars - 1) * beats_per_bar + ENDING_BEATS) * beat_seconds + TAIL_SECONDS <= high]
    return min(candidates, key=lambda bars: abs(((bars - 1) * beats_per_bar + ENDING_BEATS) * beat_seconds
                                                 + TAIL_SECONDS - target))


def plan_piece(seed: int, index: int) -> PiecePlan:
    """The plan of piece ``index`` of the set seeded ``seed``."""
    order, kind_of_key, with_drums, style_of_key = _block_assignment(seed, index // BLOCK)
    key_index = order[index % BLOCK]
    style = style_of_key[key_index]
    rng = random.Random(f"{GENERATOR}:{seed}:piece:{index}")
    minor_kind = kind_of_key.get(key_index, "")
    tempo = microseconds_per_quarter(rng.randint(*TEMPO_RANGES[style]))
    beats_per_bar = 3 if rng.random() < TRIPLE_METER_SHARE[style] else 4
    loops = LOOPS[style][minor_kind or "major"]
    melody_lowest = rng.randint(*MELODY_LOWEST)
    return PiecePlan(
        seed=seed, index=index, key=key_from_index(key_index), minor_kind=minor_kind, style=style,
        drums=key_index in with_drums, tempo_microseconds=tempo, beats_per_bar=beats_per_bar,
        bars=_bar_count(rng, beats_per_bar, tempo), loops=tuple(rng.sample(loops, min(2, len(loops)))),
        melody_program=rng.choice(PROGRAMS[style]["melody"]), comp_program=rng.choice(PROGRAMS[style]["comp"]),
        bass_program=rng.choice(PROGRAMS[style]["bass"]), comp_pattern=rng.choice(COMP_PATTERNS_BY_STYLE[style]),
        bass_pattern=rng.choice(BASS_PATTERNS_BY_STYLE[style]), melody_lowest=melody_lowest,
        comp_center=min(rng.randint(*COMP_CENTER), melody_lowest), bass_center=rng.randint(*BASS_CENTER),
    )


def chord_spans(plan: PiecePlan, grid: Grid) -> list[ChordSpan]:
    """The loops bar by bar (the second loop for a chorus after ``CHORUS_AFTER_BARS``), then the cadence."""
    cadence = (JAZZ_CADENCES if plan.style == "jazz" else CADENCES)[plan.mode_kind]
    loop_bars = plan.bars - len(cadence)
    symbols = []
    for bar in range(loop_bars):
        loop = plan.loops[(bar // CHORUS_AFTER_BARS) % len(plan.loops)]
        symbols.append(loop[bar % len(loop)])
    spans = []
    for bar, chords in enumerate(bars_of(tuple(symbols) + cadence)):
        length = grid.bar_ticks // len(chords)
        for position, chord in enumerate(chords):
            spans.append(ChordSpan(chord, bar * grid.bar_ticks + position * length, length, bar,
                                   final=bar == plan.bars - 1))
    return spans


def piece_notes(plan: PiecePlan) -> list[Note]:
    """All notes of the piece: melody, comping, bass and (when planned) drums."""
    rng = random.Random(f"{GENERATOR}:{plan.seed}:notes:{plan.index}")
    grid = Grid(plan.beats_per_bar, swing=plan.style == "jazz")
    spans = chord_spans(plan, grid)
    tonic = plan.key.pitch_class
    notes = melody(spans, grid, plan.mode_kind, tonic, plan.melody_lowest, MELODY_CHANNEL, rng)
    notes += comping(spans, grid, plan.comp_pattern, tonic, plan.comp_center, COMP_CHANNEL, rng)
    notes += bass_line(spans, grid, plan.bass_pattern, tonic, plan.bass_center, BASS_CHANNEL, rng)
    if plan.drums:
        notes += drum_part(plan.style, grid, plan.bars, rng)
    return notes


def piece_midi(plan: PiecePlan) -> bytes:
    """The piece as a Standard MIDI File."""
    channels = [ChannelSetup(MELODY_CHANNEL, plan.melody_program, VOLUMES[MELODY_CHANNEL]),
                ChannelSetup(COMP_CHANNEL, plan.comp_program, VOLUMES[COMP_CHANNEL], pan=48),
                ChannelSetup(BASS_CHANNEL, plan.bass_program, VOLUMES[BASS_CHANNEL])]
    if plan.drums:
        channels.append(ChannelSetup(DRUM_CHANNEL, 0, VOLUMES[DRUM_CHANNEL]))
    return midi_bytes(piece_notes(plan), channels, plan.tempo_microseconds, plan.beats_per_bar)

