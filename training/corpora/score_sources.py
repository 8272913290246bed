"""The labelled score sources in music21's corpus: Bach chorales and the O'Neill / Ryan ABC tune books.

Each source yields ``ScorePiece`` records (identity, key label, split group) without rendering anything.
Labels are only kept where they can be defended:
- chorales: key = (final bass pitch class, mode of the ``<key>`` element), kept only where the key
  element's own tonic equals that final bass note (the others end on a half cadence or are modal);
- tunes: the ``K:`` field's tonic and mode, kept only for major (``K:G``, ``Gmaj``, ``Gion``) and minor
  (``Gm``, ``Gmin``, ``Gaeo``); dorian, mixolydian and the other church modes are dropped.
Essen folksongs are non-commercial and never used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.keys import Key, parse_key

CHORALE_FOLDER = "bach"
CHORALE_SOURCE = "bach_chorales"  # a piece's ``source`` when it is a Bach chorale (the tune books: TUNE_FOLDERS)
TUNE_FOLDERS = {"oneills1850": "oneills1850", "ryans_mammoth": "ryansMammoth"}
_TUNE_SPLIT = re.compile(r"^X:", re.MULTILINE)
_MAJOR_MODE_WORDS = ("", "maj", "major", "ion", "ionian")
_MINOR_MODE_WORDS = ("m", "min", "minor", "aeo", "aeolian")


@dataclass(frozen=True)
class ScorePiece:
    """One labelled piece. ``piece_id`` is unique; ``split_group`` keeps every rendering of a piece on one side."""

    piece_id: str
    source: str
    title: str
    key: Key
    location: str  # corpus file path; for tunes "path#index" of the tune inside the file
    split_group: str


def music21_corpus_root() -> Path:
    import music21.corpus

    return Path(music21.corpus.__file__).resolve().parent


def chorale_paths() -> list[Path]:
    """Bach chorale files (``bwv*.mxl`` / ``.xml``) in corpus order."""
    folder = music21_corpus_root() / CHORALE_FOLDER
    return sorted(path for path in folder.iterdir() if path.name.startswith("bwv") and path.suffix in (".mxl", ".xml"))


def bwv_number(path: Path) -> str:
    """``bwv66.6.mxl`` → ``66.6``."""
    return path.stem.removeprefix("bwv")


def bwv_group(bwv: str) -> str:
    """Split group of a chorale: its cantata/work number, so movements of one work stay together."""
    return "BWV" + bwv.split(".")[0]


def parse_abc_key(field: str) -> Key | None:
    """``K:`` field → major/minor Key, or None for modal keys, ``K:none`` or an unreadable field."""
    text = field.strip().split("%")[0].strip()
    match = re.match(r"^([A-Ga-g])([#b]?)\s*([A-Za-z]*)", text)
    if not match:
        return None
    tonic = match.group(1).upper() + match.group(2)
    mode_word = match.group(3).lower()
    if mode_word in _MAJOR_MODE_WORDS:
        return parse_key(f"{tonic} major")
    if mode_word in _MINOR_MODE_WORDS:
        return parse_key(f"{tonic} minor")
    return None


def split_abc_tunes(text: str) -> list[str]:
    """One ABC book → the text of each tune (from its ``X:`` line)."""
    starts = [match.start() for match in _TUNE_SPLIT.finditer(text)]
    return [text[start:end].strip() + "\n" for start, end in zip(starts, starts[1:] + [len(text)])]


def abc_header_field(tune_text: str, letter: str) -> str | None:
    for line in tune_text.splitlines():
        if line.startswith(f"{letter}:"):
            return line[2:].strip()
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "untitled"


def tune_pieces() -> list[ScorePiece]:
    """Every major/minor tune of the O'Neill and Ryan books; the split group is the normalised title, so
    a tune printed in both books (or twice in one) never lands on both sides of a split."""
    pieces: list[ScorePiece] = []
    root = music21_corpus_root()
    for source, folder in TUNE_FOLDERS.items():
        for path in sorted((root / folder).glob("*.abc")):
            for index, tune_text in enumerate(split_abc_tunes(path.read_text(encoding="utf-8", errors="replace"))):
                key_field = abc_header_field(tune_text, "K")
                key = parse_abc_key(key_field) if key_field else None
                if key is None:
                    continue
                title = abc_header_field(tune_text, "T") or "untitled"
                pieces.append(
                    ScorePiece(
                        piece_id=f"{source}:{path.stem}:{index}",
                        source=source,
                        title=title,
                        key=key,
                        location=f"{path}#{index}",
                        split_group="tune:" + _slug(title),
                    )
                )
    return pieces


def read_tune_text(location: str) -> str:
    path, index = location.rsplit("#", 1)
    return split_abc_tunes(Path(path).read_text(encoding="utf-8", errors="replace"))[int(index)]
