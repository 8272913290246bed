"""Which audio of a file gets landmark hashes: for a library track, its analysis windows plus just enough
extra spans that any 30 s excerpt holds one span whole; for a query, the whole file when it is short (decoded in
the same open as its windows: ``read_query_audio``).

Indexing never decodes a whole track (every window would cost ~10x the analysed ones:
docs/lab-notes/2026-11-30-embedding-experiments.md), so a library track's
landmarks cover a quarter or less of it, spread so that an excerpt of ``COVERED_EXCERPT_SECONDS`` or longer,
cut anywhere, finds one of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.audio import AudioDecodeError, AudioWindows, read_spans, read_windows
from engine.landmarks import Landmarks, landmarks, span_starts

COVERED_EXCERPT_SECONDS = 30.0  # any excerpt this long, from anywhere in a track, holds one hashed span whole
COVERAGE_SLACK_SECONDS = 1.5  # seek precision and the peaks lost at a span's edges
QUERY_WHOLE_SECONDS = 120.0  # query files up to this long are hashed whole (2 min: ~0.25 s of decoding and hashing)


def track_landmarks(path: Path | str, audio: AudioWindows, spans: dict[float, np.ndarray] | None = None) -> Landmarks:
    """Landmarks of a library track from its decoded ``audio`` windows and the extra spans they need (``spans``
    when the caller has decoded them already: ``landmark_spans``)."""
    rate = audio.sample_rate
    if audio.whole is not None:
        return landmarks(audio.whole, rate)
    spans = landmark_spans(path, audio) if spans is None else spans
    return Landmarks.concatenate([landmarks(spans[start], rate, start) for start in sorted(spans)])


def landmark_spans(path: Path | str, audio: AudioWindows) -> dict[float, np.ndarray]:
    """The spans a library track's landmarks are hashed from, by start in seconds: its analysis windows and just
    enough extra spans, decoded now by seeking (the key reads them too: ``key_audio``). Extra spans that fail to
    decode are left out: the windows decoded, so the track is still usable."""
    rate = audio.sample_rate
    span_samples = audio.windows.shape[1]
    starts = track_span_starts(audio)
    spans = dict(zip(audio.start_seconds, audio.windows))
    extra_starts = [start for start in starts if start not in spans]
    try:
        spans.update(zip(extra_starts, read_spans(path, rate, extra_starts, span_samples)) if extra_starts else ())
    except AudioDecodeError:
        pass  # the windows decoded: hash those
    return {start: spans[start] for start in starts if start in spans}


def track_span_starts(audio: AudioWindows) -> list[float]:
    """Starts in seconds of the spans ``landmark_spans`` hashes: the analysis windows' and the extra spans'."""
    return span_starts(audio.duration_seconds, audio.windows.shape[1] / audio.sample_rate, audio.start_seconds,
                       COVERED_EXCERPT_SECONDS, COVERAGE_SLACK_SECONDS)


def read_query_audio(path: Path | str, sample_rate: int, window_samples: int, max_windows: int) -> AudioWindows:
    """A query file's windows (as indexing cuts them, truncation checked) and, up to ``QUERY_WHOLE_SECONDS``, all
    of it for its landmarks, in one open: ``track_landmarks`` then hashes the whole file when it is that short,
    else the spans indexing would hash (so a copy of a library track still lines up with it). Raises
    ``AudioDecodeError``."""
    return read_windows(path, sample_rate, window_samples, max_windows, whole_up_to_seconds=QUERY_WHOLE_SECONDS)
