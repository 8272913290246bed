"""Harmony of the tonal test pieces: scales per mode, the chord loops of each style and their cadences.

Chords are written as Roman numerals relative to the tonic, in pop-analysis spelling ("bVII" is the major
chord a whole tone below the tonic, lower case is minor, "7" on upper case is a dominant seventh, on lower
case a minor seventh). Each chord tone keeps its scale degree, so a melody over the chord can take its
chromatic notes (the leading tone over V in harmonic minor, the raised sixth over IV in dorian) note for note.
"""

from __future__ import annotations

from dataclasses import dataclass

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
HARMONIC_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11)
MINOR_KINDS = ("natural", "harmonic", "dorian")
STYLES = ("pop", "rock", "folk", "edm", "jazz")
# A dorian-coloured piece is natural minor whose raised sixth comes in with the IV chord (the melody follows
# the chord), as in "Scarborough Fair" or "Oye como va", rather than a whole piece in the dorian mode.
_BASE_SCALE = {"major": MAJOR_SCALE, "natural": NATURAL_MINOR_SCALE, "harmonic": HARMONIC_MINOR_SCALE,
               "dorian": NATURAL_MINOR_SCALE}
_NUMERALS = ("VII", "III", "VI", "IV", "II", "V", "I")  # longest first, so "VII" is not read as "V"
_DEGREE_OF_NUMERAL = {"I": 0, "II": 1, "III": 2, "IV": 3, "V": 4, "VI": 5, "VII": 6}
# Semitones above the tonic of each degree's root before an accidental: the major scale, as the spelling says.
_ROOT_OF_DEGREE = MAJOR_SCALE
# (semitones above the root, scale steps above the root's degree) of each chord quality.
_QUALITIES: dict[str, tuple[tuple[int, int], ...]] = {
    "maj": ((0, 0), (4, 2), (7, 4)),
    "min": ((0, 0), (3, 2), (7, 4)),
    "dim": ((0, 0), (3, 2), (6, 4)),
    "7": ((0, 0), (4, 2), (7, 4), (10, 6)),
    "m7": ((0, 0), (3, 2), (7, 4), (10, 6)),
    "maj7": ((0, 0), (4, 2), (7, 4), (11, 6)),
    "m7b5": ((0, 0), (3, 2), (6, 4), (10, 6)),
    "sus4": ((0, 0), (5, 3), (7, 4)),
    "add9": ((0, 0), (4, 2), (7, 4), (14, 1)),
}

# Four-bar loops; a bar holding two chords is written "ii7 V7". Keyed by style, then "major" or the minor kind.
LOOPS: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {
    "pop": {
        "major": (("I", "V", "vi", "IV"), ("vi", "IV", "I", "V"), ("I", "vi", "IV", "V"), ("I", "IV", "vi", "V")),
        "natural": (("i", "bVI", "bIII", "bVII"), ("i", "bVII", "bVI", "bVII"), ("i", "iv", "bVI", "bVII")),
        "harmonic": (("i", "iv", "bVI", "V"), ("i", "bVI", "iv", "V"), ("i", "bVII", "bVI", "V")),
        "dorian": (("i", "IV", "i", "bVII"), ("i", "bIII", "IV", "i"), ("i", "i", "IV", "i")),
    },
    "rock": {
        "major": (("I", "bVII", "IV", "I"), ("I", "IV", "V", "IV"), ("I", "V", "IV", "IV"), ("I", "I", "IV", "V")),
        "natural": (("i", "bVII", "bVI", "bVII"), ("i", "bVI", "bVII", "i"), ("i", "iv", "bVII", "i")),
        "harmonic": (("i", "iv", "V", "i"), ("i", "bVI", "V", "V"), ("i", "bVII", "bVI", "V")),
        "dorian": (("i", "bVII", "IV", "i"), ("i", "IV", "i", "bVII")),
    },
    "folk": {
        "major": (("I", "IV", "I", "V"), ("I", "IV", "V", "I"), ("I", "vi", "ii", "V"), ("I", "I", "V", "I")),
        "natural": (("i", "bVII", "i", "v"), ("i", "bIII", "bVII", "i"), ("i", "iv", "i", "v")),
        "harmonic": (("i", "iv", "V", "i"), ("i", "V", "i", "V"), ("i", "bVII", "bVI", "V")),
        "dorian": (("i", "IV", "i", "bVII"), ("i", "bVII", "i", "IV")),
    },
    "edm": {
        "major": (("vi", "IV", "I", "V"), ("I", "V", "vi", "IV"), ("IV", "V", "I", "vi"), ("Iadd9", "V", "vi", "IV")),
        "natural": (("i", "bVI", "bIII", "bVII"), ("i", "iv", "bVI", "bVII"), ("bVI", "bVII", "i", "i")),
        "harmonic": (("i", "bVI", "iv", "V"), ("i", "iv", "bVI", "V")),
        "dorian": (("i", "i", "IV", "i"), ("i", "bIII", "IV", "i")),
    },
    "jazz": {
        "major": (("Imaj7", "vi7", "ii7", "V7"), ("ii7", "V7", "Imaj7", "Imaj7"), ("Imaj7", "VI7", "ii7", "V7"),
                  ("iii7 VI7", "ii7 V7", "Imaj7", "Imaj7")),
        "natural": (("i7", "iv7", "i7", "v7"), ("iiø7", "v7", "i7", "i7")),
        "harmonic": (("i7", "iv7", "iiø7", "V7"), ("iiø7", "V7", "i7", "i7")),
        "dorian": (("i7", "i7", "IV7", "i7"), ("i7", "bIIImaj7", "IV7", "i7")),
    },
}
# The two closing bars (the last one is always the tonic), by minor kind or "major", with a jazz variant.
CADENCES: dict[str, tuple[str, ...]] = {
    "major": ("IV V", "I"), "natural": ("bVI bVII", "i"), "harmonic": ("iv V", "i"), "dorian": ("bVII IV", "i"),
}
JAZZ_CADENCES: dict[str, tuple[str, ...]] = {
    "major": ("ii7 V7", "Imaj7"), "natural": ("iiø7 v7", "i7"), "harmonic": ("iiø7 V7", "i7"), "dorian": ("bVII7 IV7", "i7"),
}


class ChordSymbolError(ValueError):
    """A Roman numeral this module cannot read."""


@dataclass(frozen=True)
class Chord:
    """A chord relative to the tonic: ``tones`` as (semitones above the tonic, scale degree 0..6), root first."""

    symbol: str
    tones: tuple[tuple[int, int], ...]

    @property
    def root(self) -> int:
        return self.tones[0][0] % 12

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple(semitones % 12 for semitones, _ in self.tones)


def parse_chord(symbol: str) -> Chord:
    """"bVII", "V7", "iiø7", "Imaj7", "vi7", "Iadd9", "ii°" → the chord's tones relative to the tonic."""
    rest, shift = symbol, 0
    if rest[:1] in ("b", "#"):
        shift, rest = (-1 if rest[0] == "b" else 1), rest[1:]
    numeral = next((n for n in _NUMERALS if rest.upper().startswith(n)), None)
    if numeral is None:
        raise ChordSymbolError(f"no Roman numeral in chord symbol {symbol!r}")
    written, suffix = rest[:len(numeral)], rest[len(numeral):]
    upper = written.isupper()
    quality = {"": "maj" if upper else "min", "7": "7" if upper else "m7", "maj7": "maj7", "ø7": "m7b5",
               "°": "dim", "sus4": "sus4", "add9": "add9"}.get(suffix)
    if quality is None:
        raise ChordSymbolError(f"unknown chord suffix {suffix!r} in {symbol!r}")
    degree = _DEGREE_OF_NUMERAL[numeral]
    root = _ROOT_OF_DEGREE[degree] + shift
    return Chord(symbol, tuple((root + interval, (degree + steps) % 7) for interval, steps in _QUALITIES[quality]))


def scale_for(mode_kind: str) -> tuple[int, ...]:
    """The base scale of "major" or a minor kind, semitones above the tonic."""
    return _BASE_SCALE[mode_kind]


def scale_over(chord: Chord, mode_kind: str) -> tuple[int, ...]:
    """The seven notes a melody uses over ``chord``: the base scale with the chord's own tones put on their
    degrees (so the melody takes the leading tone over V, the raised sixth over a dorian IV)."""
    notes = list(scale_for(mode_kind))
    for semitones, degree in chord.tones:
        notes[degree] = semitones % 12
    return tuple(notes)


def bars_of(symbols: tuple[str, ...]) -> list[list[Chord]]:
    """Bar strings ("ii7 V7") → per bar, the chords that share it equally."""
    return [[parse_chord(part) for part in bar.split()] for bar in symbols]
