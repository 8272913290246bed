"""Scales and chords of the procedural tonal generator, as pitch classes relative to the tonic (0..11).

Progressions are written as Roman numerals relative to the tonic, so one table serves every key:
uppercase is a major triad, lowercase minor, ``°`` diminished; ``b`` lowers the root a semitone (``bVII``
in C is Bb); a ``7`` adds the minor seventh (the dominant seventh on an uppercase numeral), ``maj7`` the
major seventh. A minor-key piece has a *colour* that fixes its sixth and seventh degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# Minor colours: natural (aeolian), harmonic (raised 7th), dorian (raised 6th), melodic (raised 6th and 7th
# going up; the melody writer uses the natural scale going down).
MINOR_SCALES = {
    "natural": (0, 2, 3, 5, 7, 8, 10),
    "harmonic": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "melodic": (0, 2, 3, 5, 7, 9, 11),
}
MINOR_COLOURS = tuple(MINOR_SCALES)
_DEGREE_SEMITONES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_TRIADS = {"major": (0, 4, 7), "minor": (0, 3, 7), "diminished": (0, 3, 6)}
MINOR_SEVENTH, MAJOR_SEVENTH = 10, 11


class ChordSymbolError(ValueError):
    """A Roman numeral the parser does not know."""


@dataclass(frozen=True)
class Chord:
    """``root``: semitones above the tonic; ``intervals``: semitones above the root, root first."""

    root: int
    intervals: tuple[int, ...]

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        """Chord tones relative to the tonic (0..11), root first."""
        return tuple((self.root + interval) % 12 for interval in self.intervals)


def parse_numeral(symbol: str) -> Chord:
    """``"bVII"``, ``"V7"``, ``"ii°"``, ``"Imaj7"``, ``"vi7"`` → Chord relative to the tonic."""
    text = symbol
    flat = text.startswith("b")
    if flat:
        text = text[1:]
    seventh = None
    if text.endswith("maj7"):
        seventh, text = MAJOR_SEVENTH, text[: -len("maj7")]
    elif text.endswith("7"):
        seventh, text = MINOR_SEVENTH, text[:-1]
    diminished = text.endswith("°")
    if diminished:
        text = text[:-1]
    degree = text.upper()
    if degree not in _DEGREE_SEMITONES:
        raise ChordSymbolError(f"unknown Roman numeral {symbol!r}")
    quality = "diminished" if diminished else ("major" if text.isupper() else "minor")
    intervals = _TRIADS[quality] + ((seventh,) if seventh is not None else ())
    return Chord((_DEGREE_SEMITONES[degree] - (1 if flat else 0)) % 12, intervals)


def scale_of(mode: str, colour: str) -> tuple[int, ...]:
    """The seven scale degrees (relative pitch classes) of a major key or a minor key of ``colour``."""
    return MAJOR_SCALE if mode == "major" else MINOR_SCALES[colour]


def scale_under_chord(scale: tuple[int, ...], chord: Chord) -> tuple[int, ...]:
    """The scale with any degree a semitone from a chord tone replaced by that chord tone, so a melody over
    V in natural minor uses the chord's leading tone rather than clashing with it."""
    tones = set(chord.pitch_classes)
    adjusted = []
    for degree in scale:
        clash = [tone for tone in tones if (tone - degree) % 12 in (1, 11) and tone not in scale]
        adjusted.append(clash[0] if clash else degree)
    return tuple(sorted(set(adjusted)))


@dataclass(frozen=True)
class ChordSpan:
    """One chord of a piece's harmony: times in quarter notes; ``next_chord`` lets a bass line approach it."""

    onset: float
    duration: float
    chord: Chord
    next_chord: Chord
    bar_start: bool  # the span starts a bar
