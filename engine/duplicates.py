"""Duplicates: groups of library tracks that are one recording (copies, re-encodes), told by landmark matching.

``Library.duplicate_groups`` asks the landmark index, for every track, which other tracks line up with it
(``LandmarkIndex.same_recordings``, the matching ``engine similar FILE`` marks ``same_recording``); this module
joins those pairs into groups and orders each group's copies so the one most worth keeping comes first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.results import TrackRow

# Codecs that keep the audio whole: a lossless copy is worth more than any lossy one of the same recording.
LOSSLESS_CODECS = frozenset({"flac", "alac", "wavpack", "ape", "tta"})
LOSSLESS_PREFIXES = ("pcm_",)  # WAV / AIFF sample formats: pcm_s16le, pcm_s24be, pcm_f32le …


@dataclass(frozen=True)
class DuplicateCopy:
    """One file of a group: the track, its size in bytes on disk when the library last read it."""

    track: TrackRow
    size: int


@dataclass(frozen=True)
class DuplicateGroup:
    """Two or more library tracks that are the same recording; ``copies[0]`` is the suggested one to keep."""

    copies: list[DuplicateCopy]


def is_lossless(codec: str | None) -> bool:
    name = (codec or "").lower()
    return name in LOSSLESS_CODECS or name.startswith(LOSSLESS_PREFIXES)


def keep_order(copy: DuplicateCopy) -> tuple:
    """Sort key, best first: lossless, then the highest bitrate, then the longest (an excerpt is shorter), then
    the largest file, then the oldest track id (the first one indexed)."""
    track = copy.track
    return (not is_lossless(track.codec), -(track.bitrate or 0), -(track.duration or 0.0), -copy.size, track.id)


def connected_groups(pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The connected components (of two or more ids) of the graph whose edges are ``pairs``; each component's ids
    ascending, components by their smallest id. Matching is not symmetric (an excerpt finds its track, the track
    need not find the excerpt), so one direction of an edge is enough."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for first, second in pairs:
        first_root, second_root = root(first), root(second)
        if first_root != second_root:
            parent[max(first_root, second_root)] = min(first_root, second_root)
    members: dict[int, list[int]] = {}
    for node in parent:
        members.setdefault(root(node), []).append(node)
    return sorted((sorted(group) for group in members.values() if len(group) > 1), key=lambda group: group[0])
