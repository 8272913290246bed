"""A stored track as the library shows it (``TrackRow``): its key (the analysis', else the file's key tag) and its
strongest tags named by the model's tag names. The ``Library`` and a search by track id read with ``sqlite3`` alone
(``engine.track_search``) both make their rows here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.keys import key_from_index, parse_key
from engine.library_reads import unblob
from engine.records import StoredTrack
from engine.results import KeyInfo, TrackRow
from engine.scan import path_from_key

if TYPE_CHECKING:
    from engine.library_reader import LibraryReader
    from engine.store import Store

TOP_TAG_COUNT = 3


def shown_rows(source: Store | LibraryReader, model_id: str | None, tag_names: list[str],
               track_ids: Sequence[int]) -> dict[int, TrackRow]:
    """Tracks by id as the library shows them, with ``model_id``'s analysis (None: none) read from ``source``."""
    return {track_id: track_row(row, tag_names)
            for track_id, row in source.track_rows_by_ids(model_id, list(track_ids)).items()}


def track_row(stored: StoredTrack, tag_names: list[str]) -> TrackRow:
    return TrackRow(
        id=stored.id, path=path_from_key(stored.path_key), title=stored.title, artist=stored.artist,
        album=stored.album, album_artist=stored.album_artist, genre=stored.genre, year=stored.year,
        track_number=stored.track_number, duration=stored.duration, codec=stored.codec, bitrate=stored.bitrate,
        bpm=stored.bpm, key=key_info(stored.key_index, stored.key_confidence, stored.tag_key),
        top_tags=top_tags(stored.tag_probs, tag_names), analysed=stored.analysed, display_path=stored.path,
        estimated_bpm=stored.estimated_bpm, bpm_confidence=stored.bpm_confidence, tempo_version=stored.tempo_version,
    )


def key_info(key_index: int | None, confidence: float | None, tag_key: str | None) -> KeyInfo | None:
    """The analysis' key when there is one, else the key tag's (when it parses)."""
    if key_index is not None:
        return KeyInfo.from_key(key_from_index(key_index), confidence, "analysis")
    parsed = parse_key(tag_key) if tag_key else None
    return KeyInfo.from_key(parsed, None, "tag") if parsed else None


def top_tags(tag_probs: bytes | None, tag_names: list[str]) -> list[tuple[str, float]]:
    """The ``TOP_TAG_COUNT`` most probable tags; none when the stored probabilities are not the model's tags."""
    probabilities = unblob(tag_probs)
    if probabilities is None or len(probabilities) != len(tag_names):
        return []
    import numpy as np

    order = np.argsort(-probabilities)[:TOP_TAG_COUNT]
    return [(tag_names[i], float(probabilities[i])) for i in order]
