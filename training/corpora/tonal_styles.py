"""The styles of the procedural tonal generator: tempo range, metre, progressions, part patterns, programs.

Each style is data: the generator (``tonal_generator``) reads a Style and never branches on its name.
Progressions hold one Roman numeral per chord slot (``chords_per_bar`` slots a bar) and loop until the
clip is long enough; every clip then closes on the style's cadence for its mode and minor colour, so
the labelled tonic is also where the music comes to rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from training.corpora.instrumentation import family_of_program

# GM programs the generator plays that the score corpus's FAMILY_PROGRAMS does not list, with the family the
# General MIDI program groups put them in (electric basses sit with "guitar", as 32 and 33 already do).
EXTRA_PROGRAM_FAMILIES = {18: "organ", 29: "guitar", 30: "guitar", 34: "guitar", 35: "guitar", 75: "woodwind"}
# A drum kit is not an instrument family of the tag vocabulary; clips record drums as their own field.


def family_of_generated_program(program: int) -> str:
    """The tag family of a GM program the generator uses (the score corpus's vocabulary)."""
    return EXTRA_PROGRAM_FAMILIES.get(program) or family_of_program(program)


@dataclass(frozen=True)
class Style:
    """One style. Programs are GM numbers per role; pattern names are read by the part writers."""

    name: str
    tempo_bpm: tuple[int, int]  # quarter notes per minute, inclusive, drawn as whole numbers
    beats_per_bar: int  # quarter-note beats (simple metres only, so tempo_bpm is the beat rate)
    chords_per_bar: int
    major_progressions: tuple[tuple[str, ...], ...]
    minor_progressions: tuple[tuple[str, ...], ...]
    bass_patterns: tuple[str, ...]
    comping_patterns: tuple[str, ...]
    melody_density: str  # "sparse", "medium" or "busy": the pool of rhythm cells per bar
    drum_pattern: str
    drum_share: float  # probability that a clip of this style has drums
    swing: bool
    melody_programs: tuple[int, ...]
    comping_programs: tuple[int, ...]
    bass_programs: tuple[int, ...]
    pad_programs: tuple[int, ...]  # sustained chords behind the band; () = never


_BASSES = (32, 33, 34, 35)
_SYNTH_BASSES = (38, 39)
_PADS = (48, 49, 52, 53, 89, 90, 16, 19)

STYLES: tuple[Style, ...] = (
    Style("pop", (84, 128), 4, 1,
          (("I", "V", "vi", "IV"), ("I", "vi", "IV", "V"), ("I", "IV", "vi", "V"), ("I", "IV", "I", "V")),
          (("i", "bVI", "bIII", "bVII"), ("i", "iv", "bVI", "V"), ("i", "bVII", "bVI", "bVII"), ("i", "iv", "i", "V")),
          ("root_fifth", "eighths"), ("strum8", "arpeggio", "pad"), "medium", "pop", 0.7, False,
          (73, 71, 65, 56, 40, 80, 11, 26, 53, 68, 0), (0, 1, 4, 24, 25, 26, 27, 88, 48), _BASSES + _SYNTH_BASSES, _PADS),
    Style("rock", (100, 180), 4, 1,
          (("I", "bVII", "IV", "I"), ("I", "IV", "V", "IV"), ("I", "V", "IV", "I"), ("I", "I", "IV", "V")),
          (("i", "bVII", "bVI", "bVII"), ("i", "iv", "bVII", "i"), ("i", "bVI", "bVII", "i"), ("i", "iv", "V", "i")),
          ("eighths", "root_fifth"), ("strum8", "power8"), "medium", "rock", 0.9, False,
          (29, 30, 27, 81, 65, 56, 16), (29, 30, 27, 26, 24, 17, 18), (33, 34, 35), (16, 17, 48)),
    Style("folk", (80, 140), 4, 1,
          (("I", "IV", "I", "V"), ("I", "I", "IV", "I", "I", "IV", "V", "I"), ("I", "V", "IV", "I")),
          (("i", "bVII", "i", "v"), ("i", "bIII", "bVII", "i"), ("i", "iv", "i", "V"), ("i", "IV", "i", "v")),
          ("root_fifth", "root"), ("arpeggio", "strum8", "block"), "busy", "folk", 0.35, False,
          (73, 40, 71, 75, 21, 68, 24), (24, 25, 21, 0), (32, 33, 43, 42), (48, 52)),
    Style("edm", (118, 140), 4, 1,
          (("vi", "IV", "I", "V"), ("I", "V", "vi", "IV"), ("IV", "V", "I", "I")),
          (("i", "bVI", "bIII", "bVII"), ("i", "bVII", "bVI", "bVII"), ("i", "iv", "bVI", "bVII"), ("i", "i", "bVI", "bVII")),
          ("octaves", "offbeat"), ("offbeat", "pad", "pulse16"), "medium", "edm", 1.0, False,
          (80, 81, 87, 82, 90, 11), (88, 89, 90, 81, 80, 91, 4), _SYNTH_BASSES, (89, 90, 91, 88)),
    Style("jazz", (100, 190), 4, 1,
          (("Imaj7", "vi7", "ii7", "V7"), ("ii7", "V7", "Imaj7", "Imaj7"), ("iii7", "vi7", "ii7", "V7"), ("Imaj7", "VI7", "ii7", "V7")),
          (("i7", "iv7", "V7", "i7"), ("i7", "ii°7", "V7", "i7"), ("i7", "bVImaj7", "ii°7", "V7")),
          ("walking",), ("charleston", "pad"), "busy", "jazz", 0.6, True,
          (65, 66, 56, 61, 71, 73, 11, 26, 0), (0, 1, 4, 26, 11, 16), (32, 33, 43), ()),
    Style("waltz", (84, 180), 3, 1,
          (("I", "I", "IV", "I", "V", "V", "I", "I"), ("I", "IV", "V", "I"), ("I", "vi", "ii", "V")),
          (("i", "i", "iv", "i", "V", "V", "i", "i"), ("i", "iv", "V", "i"), ("i", "bVI", "iv", "V")),
          ("waltz",), ("waltz",), "medium", "waltz", 0.3, False,
          (40, 73, 68, 71, 21, 0, 11, 56), (0, 21, 24, 48, 11), (32, 43, 42, 58), (48, 49)),
    Style("ballad", (60, 84), 4, 1,
          (("I", "vi", "IV", "V"), ("I", "iii", "IV", "V"), ("I", "IV", "I", "V"), ("I", "V", "vi", "IV")),
          (("i", "bVI", "bIII", "bVII"), ("i", "iv", "V", "i"), ("i", "bVI", "iv", "V")),
          ("root",), ("arpeggio", "pad"), "sparse", "ballad", 0.3, False,
          (0, 40, 73, 71, 68, 53, 11, 65), (0, 1, 4, 24, 48, 89), (32, 33, 35, 42, 43), (48, 49, 52, 89)),
    Style("latin", (96, 150), 4, 1,
          (("Imaj7", "Imaj7", "II7", "II7", "ii7", "V7", "Imaj7", "Imaj7"), ("Imaj7", "vi7", "ii7", "V7"), ("I", "IV", "V7", "I")),
          (("i7", "i7", "iv7", "iv7", "ii°7", "V7", "i7", "i7"), ("i7", "iv7", "V7", "i7"), ("i", "bVII", "bVI", "V")),
          ("bossa",), ("bossa", "montuno"), "medium", "latin", 0.7, False,
          (73, 65, 56, 71, 11, 12, 24, 40), (24, 0, 1, 12, 21), (32, 33, 43), (48, 49)),
    Style("chorale", (60, 96), 4, 2,
          (("I", "IV", "V", "I"), ("I", "vi", "ii", "V"), ("I", "V", "vi", "iii", "IV", "I", "ii", "V")),
          (("i", "iv", "V", "i"), ("i", "bVI", "iv", "V"), ("i", "bIII", "iv", "V")),
          ("root",), ("block", "pad"), "sparse", "none", 0.0, False,
          (52, 53, 19, 71, 68, 40, 56, 60), (19, 20, 16, 52, 53, 48, 49, 61, 57), (43, 42, 57, 58, 70, 20), ()),
    Style("march", (100, 130), 4, 1,
          (("I", "I", "IV", "I", "V", "V", "I", "I"), ("I", "IV", "V", "I"), ("I", "vi", "IV", "V")),
          (("i", "i", "iv", "i", "V", "V", "i", "i"), ("i", "iv", "V", "i"), ("i", "bVI", "iv", "V")),
          ("root_fifth",), ("block", "offbeat"), "medium", "march", 0.75, False,
          (56, 72, 73, 71, 60, 61, 40), (56, 60, 61, 57, 71, 0, 48), (58, 57, 43, 70), (48, 61)),
)
STYLE_NAMES = tuple(style.name for style in STYLES)
# Styles a corpus plays only when its config names them (``TonalCorpusConfig.styles``): the default corpus, which
# the shipped model's key stage was trained on, stays what it was. They add tempi whose beat is set by the genre's
# convention at the fast and slow ends, for the tempo estimator's metrical-level scorer.
EXTRA_STYLES: tuple[Style, ...] = (
    Style("breakbeat", (160, 180), 4, 1,
          (("vi", "IV", "I", "V"), ("I", "I", "IV", "IV"), ("I", "vi", "IV", "V")),
          (("i", "i", "bVI", "bVI"), ("i", "bVII", "bVI", "bVII"), ("i", "iv", "i", "bVI")),
          ("root", "octaves"), ("pad", "offbeat"), "sparse", "breakbeat", 1.0, False,
          (80, 81, 88, 11, 4, 73), (88, 89, 90, 91, 4, 48), _SYNTH_BASSES + (33,), (89, 90, 91, 88)),
    Style("hiphop", (70, 100), 4, 1,
          (("I", "vi", "IV", "V"), ("ii7", "V7", "Imaj7", "vi7"), ("I", "IV", "I", "IV")),
          (("i", "bVI", "bIII", "bVII"), ("i7", "iv7", "i7", "V7"), ("i", "i", "iv", "iv")),
          ("root", "root_fifth"), ("pad", "block", "arpeggio"), "medium", "hiphop", 1.0, True,
          (0, 4, 11, 73, 65, 80), (4, 0, 88, 89, 48), _BASSES + _SYNTH_BASSES, (89, 90, 48)),
)
ALL_STYLES = STYLES + EXTRA_STYLES  # every style a config may name

# Closing cadences per mode (and minor colour): the last chord is the tonic and fills the last bar.
CADENCES = {
    "major": (("IV", "V", "I"), ("ii", "V7", "I"), ("V", "I")),
    "natural": (("iv", "v", "i"), ("bVI", "bVII", "i"), ("iv", "V", "i")),
    "harmonic": (("iv", "V7", "i"), ("ii°", "V", "i")),
    "dorian": (("IV", "v", "i"), ("IV", "V", "i"), ("bVII", "IV", "i")),
    "melodic": (("iv", "V", "i"), ("ii°", "V7", "i")),
}


def style_by_name(name: str) -> Style:
    for style in ALL_STYLES:
        if style.name == name:
            return style
    raise KeyError(f"unknown style {name!r}; known: {', '.join(style.name for style in ALL_STYLES)}")


def every_style_program() -> set[int]:
    """All GM programs any style may play (each must have a family)."""
    return {program for style in ALL_STYLES
            for program in style.melody_programs + style.comping_programs + style.bass_programs + style.pad_programs}

