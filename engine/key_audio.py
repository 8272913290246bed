"""Which audio of a track the key is estimated from: its analysis windows and more of it, already decoded.

Six 2.7 s windows hold 16 s of a 30 s piece, and a key averaged over them misses what the rest says: on the
validation pieces the whole piece instead of 6 windows took MIREX from 94.3 to 96.2 % and halved relative-minor
errors (docs/lab-notes/2026-12-05-key-windows.md). The embedding and the tags stay on the analysis
windows; the key head also reads, without decoding anything more at index time:

- a track decoded whole (up to ``audio.WHOLE_DECODE_SECONDS``): a window centred in each gap between analysis
  windows, and one at each end (the analysis windows skip the first and last 5 %, where a piece's opening and
  final cadence are), so the key hears all of the piece;
- a sought track: the landmark spans decoded beyond its windows (spread over the whole track), and gap windows
  that lie inside the middle span decoded for the tempo.

At most ``KEY_EXTRA_WINDOWS`` of them, spread evenly. A file analysed on its own (``engine key FILE``, ``similar
FILE``) reads the same windows (``file_key_windows``), so its key is the key indexing would store.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from engine.audio import (
    WHOLE_DECODE_SECONDS, AudioDecodeError, AudioWindows, cut_windows, read_spans, too_short_to_spread,
)
from engine.landmark_audio import landmark_spans, track_span_starts
from engine.tempo import ANALYSIS_SECONDS
from engine.tempo_audio import TempoSpan, middle_start

KEY_EXTRA_WINDOWS = 7  # beyond the analysis windows: 13 in all, all of a 30 s piece (at half a window's cost each)
MIN_GAP_SHARE = 0.25  # a gap between analysis windows narrower than this share of a window gets no window of its own


def gap_starts(window_starts: list[float], window_seconds: float) -> list[float]:
    """Starts of windows centred in each gap between consecutive analysis windows (sorted starts) that is at least
    ``MIN_GAP_SHARE`` of a window wide."""
    starts = []
    for left, right in zip(window_starts, window_starts[1:]):
        gap = right - (left + window_seconds)
        if gap >= MIN_GAP_SHARE * window_seconds:
            starts.append((left + right) / 2)  # the window's centre is the gap's
    return starts


def edge_starts(window_starts: list[float], window_seconds: float, duration_seconds: float) -> list[float]:
    """Starts of a window at the very beginning and one ending at the very end of a track, where the analysis
    windows (sorted starts) leave at least half a window there (a nearer window would be a near-copy)."""
    starts = []
    if window_starts and window_starts[0] >= window_seconds / 2:
        starts.append(0.0)
    last = duration_seconds - window_seconds
    if window_starts and last - window_starts[-1] >= window_seconds / 2:
        starts.append(last)
    return starts


def extra_key_windows(audio: AudioWindows, spans: Mapping[float, np.ndarray] | None,
                      tempo_span: TempoSpan | None) -> np.ndarray:
    """(count, window_samples) float32: the windows beyond ``audio.windows`` that the key also reads, cut from
    what is decoded already: ``audio.decoded`` when the track was decoded whole, else the landmark ``spans`` (by
    start; ``landmark_audio.landmark_spans``) and the tempo's middle span. Empty when there are none."""
    rate, window_samples = audio.sample_rate, audio.windows.shape[1]
    window_seconds = window_samples / rate
    if audio.decoded is not None:
        analysed = sorted(audio.start_seconds)
        duration = audio.decoded.size / rate
        starts = gap_starts(analysed, window_seconds) + edge_starts(analysed, window_seconds, duration)
        return _chosen(audio, {start: _cut(audio.decoded, start, rate, window_samples) for start in starts})
    middle = {}
    if tempo_span is not None and tempo_span.samples.size:
        middle = {start: _cut(tempo_span.samples, start - tempo_span.start_seconds, rate, window_samples)
                  for start in middle_gap_starts(audio)}
    return _chosen(audio, {**_span_windows(audio, spans or {}), **middle})


def middle_gap_starts(audio: AudioWindows) -> list[float]:
    """The gap windows (``gap_starts``) of a sought track that lie inside the middle span its tempo is taken from."""
    window_seconds = audio.windows.shape[1] / audio.sample_rate
    first = middle_start(audio.duration_seconds)
    last = first + min(ANALYSIS_SECONDS, audio.duration_seconds) - window_seconds
    return [start for start in gap_starts(sorted(audio.start_seconds), window_seconds) if first <= start <= last]


def file_key_windows(path: Path | str, audio: AudioWindows,
                     spans: Mapping[float, np.ndarray] | None = None) -> np.ndarray:
    """``extra_key_windows`` of a file analysed on its own (``engine key FILE``, ``similar FILE``): the landmark
    spans sought as indexing seeks them (``spans`` when the caller has them), or cut from the query's whole decode
    when it holds one, and each middle gap window sought on its own instead of the tempo's 30 s. A cut or a window
    sought alone differs from indexing's only where the resampler starts: the key probabilities agree to ~1e-4."""
    if audio.decoded is not None:
        return extra_key_windows(audio, None, None)
    rate, window_samples = audio.sample_rate, audio.windows.shape[1]
    middle_starts = middle_gap_starts(audio)
    if audio.whole is not None:
        spans = {start: _cut(audio.whole, start, rate, window_samples) for start in track_span_starts(audio)}
        middle = {start: _cut(audio.whole, start, rate, window_samples) for start in middle_starts}
        return _chosen(audio, {**_span_windows(audio, spans), **middle})
    spans = landmark_spans(path, audio) if spans is None else spans
    try:
        sought = read_spans(path, rate, middle_starts, window_samples) if middle_starts else []
    except AudioDecodeError:
        sought = []  # as indexing, whose tempo span failed: the landmark spans only
    middle = {start: _fit(window, window_samples) for start, window in zip(middle_starts, sought)}
    return _chosen(audio, {**_span_windows(audio, spans), **middle})


def layout_from_samples(samples: np.ndarray, rate: int, window_samples: int,
                        max_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """(analysis windows, extra key windows) of decoded mono ``samples`` laid out as indexing lays out a file of
    that length (whole decode up to ``WHOLE_DECODE_SECONDS``, else sought windows, landmark spans and the middle
    span, here cut from ``samples``): what ``engine eval`` scores the key on, audio that never was a file."""
    duration = samples.size / rate
    windows, starts = cut_windows(samples, rate, window_samples, max_windows)
    if duration <= WHOLE_DECODE_SECONDS or too_short_to_spread(duration, window_samples / rate, max_windows):
        audio = AudioWindows(windows, rate, duration, starts, decoded=samples)
        return windows, extra_key_windows(audio, None, None)
    audio = AudioWindows(windows, rate, duration, starts)
    spans = {start: _cut(samples, start, rate, window_samples) for start in track_span_starts(audio)}
    middle = middle_start(duration)
    middle_samples = _cut(samples, middle, rate, int(ANALYSIS_SECONDS * rate), pad=False)
    return windows, extra_key_windows(audio, spans, TempoSpan(middle, middle_samples))


def _cut(samples: np.ndarray, start_seconds: float, rate: int, window_samples: int, pad: bool = True) -> np.ndarray:
    offset = max(0, int(round(start_seconds * rate)))
    piece = samples[offset : offset + window_samples]
    return _fit(piece, window_samples) if pad else piece


def _fit(piece: np.ndarray, window_samples: int) -> np.ndarray:
    """A window of exactly ``window_samples``: zero-padded where the audio ended."""
    piece = piece[:window_samples]
    return piece if piece.size == window_samples else np.pad(piece, (0, window_samples - piece.size))


def _span_windows(audio: AudioWindows, spans: Mapping[float, np.ndarray]) -> dict[float, np.ndarray]:
    """The landmark spans that are not analysis windows, as key windows."""
    analysed, window_samples = set(audio.start_seconds), audio.windows.shape[1]
    return {start: _fit(span, window_samples) for start, span in spans.items() if start not in analysed and span.size}


def _chosen(audio: AudioWindows, candidates: Mapping[float, np.ndarray]) -> np.ndarray:
    """The candidates kept (``_apart``, then ``_spread``), stacked in time order."""
    window_samples = audio.windows.shape[1]
    starts = _spread(_apart(candidates, sorted(audio.start_seconds), window_samples / audio.sample_rate / 2),
                     KEY_EXTRA_WINDOWS)
    if not starts:
        return np.zeros((0, window_samples), dtype=np.float32)
    return np.stack([candidates[start] for start in starts]).astype(np.float32, copy=False)


def _apart(candidates: Mapping[float, np.ndarray], analysed: list[float], distance: float) -> list[float]:
    """Candidate starts, sorted, without those within ``distance`` of an analysis window or of an earlier kept one
    (near-copies add cost and weight, not audio)."""
    kept: list[float] = []
    for start in sorted(candidates):
        if all(abs(start - other) >= distance for other in analysed) and (not kept or start - kept[-1] >= distance):
            kept.append(start)
    return kept


def _spread(starts: list[float], count: int) -> list[float]:
    """At most ``count`` of the sorted ``starts``, evenly spaced among them."""
    if len(starts) <= count:
        return starts
    return [starts[int(index * len(starts) / count)] for index in range(count)]
