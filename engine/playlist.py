"""Radio-style playlists: a walk through nearest neighbours, and the M3U8 file that holds the result.

The walk goes from each track to its most similar unused neighbour whose artist differs from the
current track's, so a playlist drifts smoothly, never repeats, and never plays one artist twice in a row.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.results import TrackRow

NEIGHBOUR_POOL = 32  # neighbours looked at per step before widening the search
POOL_GROWTH = 4

Neighbours = Callable[[int, int], list[int]]  # (track_id, k) → track ids, best first, excluding track_id


def same_artist(first: str | None, second: str | None) -> bool:
    """Unknown artists never count as the same artist."""
    return bool(first) and bool(second) and first.casefold().strip() == second.casefold().strip()


def radio_walk(seed_id: int, count: int, neighbours: Neighbours, artist_of: Callable[[int], str | None]) -> list[int]:
    """Up to ``count`` track ids starting with ``seed_id``; shorter when the library runs out."""
    order = [seed_id]
    used = {seed_id}
    current = seed_id
    while len(order) < count:
        chosen = _next_track(current, used, neighbours, artist_of)
        if chosen is None:
            break
        order.append(chosen)
        used.add(chosen)
        current = chosen
    return order


def _next_track(current: int, used: set[int], neighbours: Neighbours, artist_of) -> int | None:
    pool = NEIGHBOUR_POOL
    current_artist = artist_of(current)
    while True:
        candidates = neighbours(current, pool)
        for candidate in candidates:
            if candidate not in used and not same_artist(artist_of(candidate), current_artist):
                return candidate
        if len(candidates) < pool:
            return None  # every track was looked at
        pool *= POOL_GROWTH


def write_m3u8(tracks: Sequence[TrackRow], path: Path | str) -> Path:
    """Extended M3U in UTF-8 with absolute paths; non-UTF-8 file names are written as their raw bytes."""
    path = Path(path)
    lines = [b"#EXTM3U"]
    for track in tracks:
        seconds = int(round(track.duration)) if track.duration else -1
        label = " - ".join(part for part in (track.artist, track.title) if part) or Path(track.display_path).stem
        lines.append(f"#EXTINF:{seconds},{label}".encode("utf-8", errors="replace"))
        lines.append(os.fsencode(os.path.abspath(track.path)))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path
