"""Score → plain note list (quarter-note times, MIDI pitches, part index), cached as JSON.

music21 parsing is the slow step (about half a second a chorale), so each piece is parsed once and its
notes are reused for every transposition, tempo and instrumentation.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.keys import Key

MAX_PARTS = 8


class ScoreParseError(Exception):
    """music21 could not read a piece, or it has no notes."""


@dataclass
class ScoreNotes:
    """``notes`` rows are [onset_quarters, duration_quarters, midi_pitch, part]; ``bar_starts`` in quarters."""

    notes: list[list[float]]
    bar_starts: list[float]
    part_count: int
    length_quarters: float


def notes_from_stream(score) -> ScoreNotes:
    """Flatten a music21 score: ties merged, chord symbols and grace notes left out, at most MAX_PARTS parts."""
    from music21 import harmony

    score = score.stripTies()
    parts = list(getattr(score, "parts", None) or []) or [score]
    parts = parts[:MAX_PARTS]
    notes: list[list[float]] = []
    for part_index, part in enumerate(parts):
        for element in part.flatten().notes:
            if isinstance(element, harmony.ChordSymbol):
                continue
            duration = float(element.quarterLength)
            if duration <= 0:
                continue
            onset = float(element.offset)
            for pitch in element.pitches:
                notes.append([onset, duration, int(pitch.midi), part_index])
    if not notes:
        raise ScoreParseError("no notes")
    notes.sort()
    bar_starts = [float(measure.offset) for measure in parts[0].getElementsByClass("Measure")]
    length = max(onset + duration for onset, duration, _, _ in notes)
    return ScoreNotes(notes, bar_starts or [0.0], len(parts), length)


def chorale_key(score) -> Key | None:
    """(final bass pitch class, mode) where the ``<key>`` element's tonic agrees with the final bass note."""
    from music21 import key as m21key

    parts = list(score.parts)
    if not parts:
        return None
    signatures = list(parts[0].recurse().getElementsByClass(m21key.KeySignature))
    if not signatures or not isinstance(signatures[0], m21key.Key):
        return None
    declared = signatures[0]
    if declared.mode not in ("major", "minor"):
        return None
    bass_notes = list(parts[-1].flatten().notes)
    if not bass_notes:
        return None
    final_bass_pitch_class = bass_notes[-1].pitches[0].pitchClass
    if declared.tonic.pitchClass != final_bass_pitch_class:
        return None
    return Key(final_bass_pitch_class, declared.mode)


def parse_chorale(path: Path):
    from music21 import converter

    try:
        return converter.parse(str(path))
    except Exception as error:  # music21 raises many unrelated types on bad files
        raise ScoreParseError(f"{path.name}: {error}") from None


def parse_abc_tune(tune_text: str):
    from music21 import converter

    try:
        parsed = converter.parse(tune_text, format="abc")
    except Exception as error:
        raise ScoreParseError(f"abc: {error}") from None
    if hasattr(parsed, "scores"):  # an Opus of one tune
        parsed = parsed.scores[0]
    return parsed


def cache_path(cache_folder: Path, piece_id: str) -> Path:
    return cache_folder / (piece_id.replace(":", "_").replace("/", "_") + ".json")


def load_cached_notes(cache_folder: Path, piece_id: str) -> ScoreNotes | None:
    path = cache_path(cache_folder, piece_id)
    if not path.exists():
        return None
    return ScoreNotes(**json.loads(path.read_text()))


def save_cached_notes(cache_folder: Path, piece_id: str, score_notes: ScoreNotes) -> None:
    """Atomic write: two render workers may cache the same piece at once."""
    cache_folder.mkdir(parents=True, exist_ok=True)
    path = cache_path(cache_folder, piece_id)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(score_notes)))
    os.replace(temporary, path)
