"""What the analysis of one track is (embedding, key and tag probabilities), free of torch.

The store, the migrations and the reading commands need this record and its summaries, but not the network that
makes it: keeping them here lets ``engine info`` / ``problems`` / ``similar TRACK_ID`` start without importing
torch (``engine.analyzer`` fills the record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.keys import Key, key_from_index

if TYPE_CHECKING:  # imported by the summaries below: ``engine info`` / ``problems`` start without numpy
    import numpy as np

# 16 s of a track: a stable mean, and cheap enough for >1000x real time (BENCHMARKS.md, "Indexing speed").
DEFAULT_MAX_WINDOWS = 6
# How the key is read (which windows engine.key_audio averages it over, on which pitch grid), stored with each
# analysis: raised when it changes, so the next index run analyses tracks stored with older ones once more. 1: the
# analysis windows alone; 2: those and the further windows the decode already holds; 3: on the pitch grid of the
# track's own tuning (engine.tuning) when that is off A = 440 Hz; 4: the further windows every half window over
# the audio decoded anyway (engine.key_audio.KEY_HOP_SHARE); 5: as many further windows on a track over 60 s as on
# a shorter one (engine.key_audio.KEY_EXTRA_WINDOWS), not 7; 6: each key window also read resampled a semitone down
# and up (engine.key_semitone_copies); 7: every window, the embedding's and tags' too, read at one loudness
# (engine.window_level), so the whole analysis is made again: the version of what a stored analysis was read from.
KEY_WINDOWS_VERSION = 7
DEFAULT_BATCH_WINDOWS = 64


@dataclass
class TrackAnalysis:
    """``embedding`` (D,) float32 unit length; ``key_probs`` (24,) or None; ``tag_probs`` (T,) or None."""

    embedding: np.ndarray
    key_probs: np.ndarray | None
    tag_probs: np.ndarray | None
    window_count: int


@dataclass(frozen=True)
class KeyEstimate:
    key: Key
    confidence: float


def key_estimate(key_probs: np.ndarray | None) -> KeyEstimate | None:
    """The most probable of the 24 keys and its probability."""
    if key_probs is None or key_probs.size == 0:
        return None
    import numpy as np

    index = int(np.argmax(key_probs))
    return KeyEstimate(key_from_index(index), float(key_probs[index]))


def top_tag_index(tag_probs: np.ndarray | None) -> int | None:
    """The index of the most probable tag (what the library sorts by), or None without tag probabilities."""
    if tag_probs is None or tag_probs.size == 0:
        return None
    import numpy as np

    return int(np.argmax(tag_probs))
