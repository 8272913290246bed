"""Which rendered score clips have a tempo label a tempo estimator can learn: those whose beat is the quarter note.

A score clip records ``quarter_bpm``, the tempo it was rendered at. In 2/4, 3/4, 4/4, C or C| that is a metrical
level of the music (the beat, or twice the half-note beat of a reel), the convention of every other tempo label
here (``tempo_bpm``: the quarter-note tempo). In 6/8, 9/8 or 12/8 the beat is the dotted quarter and the quarter
note is no level of the music at all (a jig at ``quarter_bpm`` 120 pulses at 80 and 240), so those clips carry no
usable tempo label; neither do meters whose beat is ambiguous (6/4, 3/8). Bach chorales are all in simple meters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from training.corpora.score_sources import CHORALE_SOURCE, abc_header_field, read_tune_text

_SIMPLE = re.compile(r"^(?:C\|?|[2-5]/[24]|7/4)$")


def quarter_is_beat(meter: str | None) -> bool:
    """True for a simple meter whose beat is the quarter (or the half: then the quarter is its subdivision)."""
    return meter is not None and bool(_SIMPLE.match(meter.replace(" ", "")))


def piece_meter(piece: dict) -> str | None:
    """The time signature of a piece of ``pieces.jsonl`` as written ("6/8", "C|"); chorales count as "4/4"
    (all of them are in simple meters); None when a tune's header has none or its book cannot be read."""
    if piece.get("source") == CHORALE_SOURCE:
        return "4/4"
    try:
        return abc_header_field(read_tune_text(piece["location"]), "M")
    except (OSError, IndexError, ValueError, KeyError):
        return None


def beat_tempo_labels(scores_manifest: Path) -> dict[str, float]:
    """clip_id → quarter-note tempo for the clips of a score corpus whose piece's beat is the quarter; the pieces
    are read from ``pieces.jsonl`` beside the manifest."""
    pieces_path = scores_manifest.parent / "pieces.jsonl"
    meters: dict[str, str | None] = {}
    for line in pieces_path.read_text(encoding="utf-8").splitlines():
        piece = json.loads(line)
        if "piece_id" in piece and "location" in piece:
            meters[piece["piece_id"]] = piece_meter(piece)
    labels: dict[str, float] = {}
    for line in scores_manifest.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("quarter_bpm") and quarter_is_beat(meters.get(record.get("piece_id", ""))):
            labels[record["clip_id"]] = float(record["quarter_bpm"])
    return labels
