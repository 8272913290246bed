"""Musical key notation: the 24 key classes the models predict, and the names DJs use.

Class index convention (shared by every model, head and label file):
``index = pitch_class`` for major keys (0..11, C=0) and ``12 + pitch_class`` for minor keys.
"""

from __future__ import annotations

from dataclasses import dataclass

KEY_CLASS_COUNT = 24
PITCH_CLASS_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_NAME_TO_PITCH_CLASS = {
    "C": 0, "B#": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "E#": 5,
    "F": 5, "F#": 6, "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11,
    "CB": 11,
}
# Camelot number of each major tonic (C major = 8B); a minor key shares the number of its relative major.
_CAMELOT_NUMBER_OF_MAJOR = (8, 3, 10, 5, 12, 7, 2, 9, 4, 11, 6, 1)
MODES = ("major", "minor")
KEY_NOTATIONS = ("standard", "camelot", "openkey")  # how a key is written into a file's key tag


@dataclass(frozen=True)
class Key:
    """One of the 24 keys, with every notation the product shows."""

    pitch_class: int
    mode: str

    @property
    def index(self) -> int:
        return self.pitch_class + (12 if self.mode == "minor" else 0)

    @property
    def tonic(self) -> str:
        return PITCH_CLASS_NAMES[self.pitch_class]

    @property
    def name(self) -> str:
        """Mixxx/Traktor style, e.g. "A minor", "Eb major"."""
        return f"{self.tonic} {self.mode}"

    @property
    def short_name(self) -> str:
        """The ID3 TKEY convention (at most three characters), e.g. "Am", "Eb"."""
        return f"{self.tonic}{'m' if self.mode == 'minor' else ''}"

    @property
    def camelot_number(self) -> int:
        relative_major = self.pitch_class if self.mode == "major" else (self.pitch_class + 3) % 12
        return _CAMELOT_NUMBER_OF_MAJOR[relative_major]

    @property
    def camelot(self) -> str:
        return f"{self.camelot_number}{'B' if self.mode == 'major' else 'A'}"

    @property
    def open_key(self) -> str:
        """Open Key notation: C major = 1d, A minor = 1m."""
        number = (self.camelot_number - 8) % 12 + 1
        return f"{number}{'d' if self.mode == 'major' else 'm'}"

    def transposed(self, semitones: int) -> "Key":
        return Key((self.pitch_class + semitones) % 12, self.mode)


def moved_key_probabilities(probabilities, semitones: int):
    """Key probabilities (..., 24) of audio transposed by ``semitones``, as the keys of the audio before: each
    mode's 12 tonics rotated back (what the transposed audio calls D major, the original calls C major when
    ``semitones`` is 2). numpy arrays only (this module stays free of numpy at import)."""
    by_mode = probabilities.reshape(*probabilities.shape[:-1], 2, 12)
    index = [(pitch_class + semitones) % 12 for pitch_class in range(12)]
    return by_mode[..., index].reshape(probabilities.shape)


def key_from_index(index: int) -> Key:
    if not 0 <= index < KEY_CLASS_COUNT:
        raise ValueError(f"key class index out of range: {index}")
    return Key(index % 12, "minor" if index >= 12 else "major")


def key_tag_text(key: Key, notation: str) -> str:
    """The text of a key tag in ``notation`` (one of ``KEY_NOTATIONS``): "Am", "8A" or "1m"; ``parse_key`` reads it back."""
    texts = {"standard": key.short_name, "camelot": key.camelot, "openkey": key.open_key}
    if notation not in texts:
        raise ValueError(f"unknown key notation {notation!r}; choose from {', '.join(KEY_NOTATIONS)}")
    return texts[notation]


KEY_CLASS_NAMES = tuple(key_from_index(i).name for i in range(KEY_CLASS_COUNT))
# Key class indices around the Camelot wheel: 1A, 1B, 2A, … 12B (how DJ software sorts a key column).
KEY_INDICES_IN_CAMELOT_ORDER = tuple(sorted(
    range(KEY_CLASS_COUNT), key=lambda i: (key_from_index(i).camelot_number, key_from_index(i).mode == "major")))


def parse_key(text: str) -> Key | None:
    """Read a key tag as found in files: "Am", "A minor", "8A", "1m", "F#", "Ebm", "a"; None if unreadable."""
    cleaned = text.strip().replace("♯", "#").replace("♭", "b")
    if not cleaned:
        return None
    lowered = cleaned.lower()
    if lowered[:-1].isdigit() and lowered[-1] in "abdm":
        return _parse_numbered(int(lowered[:-1]), lowered[-1])
    parts = cleaned.replace("-", " ").split()
    head = parts[0]
    mode = "major"
    if len(parts) > 1:
        word = parts[1].lower()
        if word.startswith("min") or word == "m":
            mode = "minor"
        elif not word.startswith("maj"):
            return None
    elif len(head) > 1 and head.endswith("m") and head[:-1].upper() in _NAME_TO_PITCH_CLASS:
        head, mode = head[:-1], "minor"
    elif head.islower() and head.upper() in _NAME_TO_PITCH_CLASS and len(head) <= 2:
        mode = "minor"  # lowercase tonic is the classical convention for minor
    pitch_class = _NAME_TO_PITCH_CLASS.get(head.upper())
    return None if pitch_class is None else Key(pitch_class, mode)


def _parse_numbered(number: int, letter: str) -> Key | None:
    if not 1 <= number <= 12:
        return None
    if letter in "ab":  # Camelot
        camelot_number, mode = number, ("minor" if letter == "a" else "major")
    else:  # Open Key
        camelot_number, mode = (number + 6) % 12 + 1, ("minor" if letter == "m" else "major")
    relative_major = _CAMELOT_NUMBER_OF_MAJOR.index(camelot_number)
    pitch_class = relative_major if mode == "major" else (relative_major - 3) % 12
    return Key(pitch_class, mode)


def keys_mix_harmonically(first: Key, second: Key) -> bool:
    """Camelot wheel rule: same number, one step around the wheel in the same mode, or relative major/minor."""
    if first.camelot_number == second.camelot_number:
        return True
    if first.mode != second.mode:
        return False
    step = (first.camelot_number - second.camelot_number) % 12
    return step in (1, 11)


def mirex_key_score(estimated: Key, reference: Key) -> float:
    """MIREX weighted key score: 1 exact, .5 fifth, .3 relative, .2 parallel, else 0."""
    if estimated == reference:
        return 1.0
    if estimated.mode == reference.mode:
        interval = (estimated.pitch_class - reference.pitch_class) % 12
        return 0.5 if interval in (5, 7) else 0.0
    if estimated.camelot_number == reference.camelot_number:
        return 0.3
    if estimated.pitch_class == reference.pitch_class:
        return 0.2
    return 0.0
