"""Which audio of a track the key is estimated from: its analysis windows and more of it, already decoded.

Six 2.7 s windows hold 16 s of a 30 s piece, and a key averaged over them misses what the rest says: on the
validation pieces the whole piece instead of 6 windows took MIREX from 94.3 to 96.2 % and halved relative-minor
errors (docs/lab-notes/2026-12-05-key-windows.md). The embedding and the tags stay on the analysis
windows; unless those already agree clearly on a key (``engine.analyzer.KEY_STOP_MARGIN``), the key head also
reads, without decoding anything more at index time:

- a track decoded whole (up to ``audio.WHOLE_DECODE_SECONDS``): windows every half window from its first sample
  to its last (``KEY_HOP_SHARE``), so the key hears all of the piece, each passage read twice at different
  offsets: a window's frames fall differently on the music each time, and the mean of overlapping reads was
  right more often on validation than the mean of windows edge to edge (MIREX 94.8 -> 96.0 %, transposition
  consistency 78.9 -> 82.1 %; docs/lab-notes/2026-12-06-key-overlapping-windows.md);
- a sought track up to twice the middle span decoded for the tempo (60 s): windows every half window over that
  span, most of the track;
- a longer track: the landmark spans decoded beyond its windows (spread over the whole track), then windows of the
  middle span in the room left.

Those within a quarter window of an analysis window (or of each other) are left out: near-copies add cost and
weight, not audio. At most ``KEY_EXTRA_WINDOWS`` of them, spread evenly, whatever the track's length: a cap of 7
over 60 s (a long track's middle read densely seemed to outweigh the rest of it) lost transposition consistency on
long game-music tracks (a split the key reader was never fitted on: 72.1 % with it, 79.4 % without; validation
level) and wherever a shifted copy crossed 60 s (docs/lab-notes/2026-12-06-key-window-cap.md). A file analysed on its own
(``engine key FILE``, ``similar FILE``) reads the same windows (``file_key_windows``), so its key is the key
indexing would store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from engine.audio import WHOLE_DECODE_SECONDS, AudioWindows, cut_windows, too_short_to_spread
from engine.landmark_audio import landmark_spans, track_span_starts
from engine.tempo import ANALYSIS_SECONDS
from engine.tempo_audio import TempoSpan, middle_start, track_tempo_span

KEY_EXTRA_WINDOWS = 20  # beyond the analysis windows: a 30 s piece at half-window hops (half a window's cost each)
KEY_HOP_SHARE = 0.5  # key windows start every half window over the audio decoded anyway: overlapping reads of the
# same music average out where a window's frames happen to fall (docs/lab-notes/2026-12-06-key-overlapping-windows.md)


def hop_starts(first: float, last: float, window_seconds: float) -> list[float]:
    """Window starts from ``first`` to ``last`` (both included) at most ``KEY_HOP_SHARE`` of a window apart, evenly
    spaced; none when ``last`` is before ``first``."""
    if last < first:
        return []
    count = int(np.ceil((last - first) / (KEY_HOP_SHARE * window_seconds) - 1e-9)) + 1
    return [float(start) for start in np.linspace(first, last, count)]


def chosen_starts(audio: AudioWindows, candidates: Iterable[float], fillers: Iterable[float] = ()) -> list[float]:
    """Sorted starts of the windows the key reads beyond the analysis windows: at most ``KEY_EXTRA_WINDOWS`` of the
    ``candidates``, spread evenly, then ``fillers`` in the room left (a long track's landmark spans cover all of
    it, the middle span's windows only its middle); none within a quarter window of an analysis window or of each
    other (near-copies add cost and weight, not audio)."""
    distance = KEY_HOP_SHARE * audio.windows.shape[1] / audio.sample_rate / 2
    analysed = sorted(audio.start_seconds)
    starts = _spread(_apart(candidates, analysed, distance), KEY_EXTRA_WINDOWS)
    room = KEY_EXTRA_WINDOWS - len(starts)
    if room > 0:
        starts += _spread(_apart(fillers, sorted(analysed + starts), distance), room)
    return sorted(starts)


def extra_key_windows(audio: AudioWindows, spans: Mapping[float, np.ndarray] | None,
                      tempo_span: TempoSpan | None) -> np.ndarray:
    """(count, window_samples) float32: the windows beyond ``audio.windows`` that the key also reads, cut from
    what is decoded already: ``audio.decoded`` when the track was decoded whole, else the landmark ``spans`` (by
    start; ``landmark_audio.landmark_spans``) and the tempo's middle span. Empty when there are none."""
    rate, window_samples = audio.sample_rate, audio.windows.shape[1]
    if audio.decoded is not None:
        every = hop_starts(0.0, audio.decoded.size / rate - window_samples / rate, window_samples / rate)
        return _stacked([_cut(audio.decoded, start, rate, window_samples) for start in chosen_starts(audio, every)],
                        window_samples)
    span_windows = _span_windows(audio, spans or {})
    has_middle = tempo_span is not None and tempo_span.samples.size > 0
    starts = chosen_starts(audio, span_windows, middle_hop_starts(audio) if has_middle else [])
    return _stacked([span_windows[start] if start in span_windows else
                     _cut(tempo_span.samples, start - tempo_span.start_seconds, rate, window_samples)
                     for start in starts], window_samples)


def middle_hop_starts(audio: AudioWindows) -> list[float]:
    """Key window starts (``hop_starts``) over the middle span a sought track's tempo is taken from."""
    window_seconds = audio.windows.shape[1] / audio.sample_rate
    first = middle_start(audio.duration_seconds)
    last = first + min(ANALYSIS_SECONDS, audio.duration_seconds) - window_seconds
    return hop_starts(first, last, window_seconds)


def file_key_windows(path: Path | str, audio: AudioWindows,
                     spans: Mapping[float, np.ndarray] | None = None) -> np.ndarray:
    """``extra_key_windows`` of a file analysed on its own (``engine key FILE``, ``similar FILE``): the landmark
    spans sought as indexing seeks them (``spans`` when the caller has them), or cut from the query's whole decode
    when it holds one; the middle span decoded as indexing decodes it for the tempo. A window sought alone differs
    from one cut from a longer decode only where the resampler starts: the key probabilities agree to ~1e-4."""
    rate, window_samples = audio.sample_rate, audio.windows.shape[1]
    if audio.decoded is not None:
        return extra_key_windows(audio, None, None)
    first = middle_start(audio.duration_seconds)
    if audio.whole is not None:
        spans = {start: _cut(audio.whole, start, rate, window_samples) for start in track_span_starts(audio)}
        middle = _cut(audio.whole, first, rate, int(ANALYSIS_SECONDS * rate), pad=False)
        return extra_key_windows(audio, spans, TempoSpan(first, middle))
    spans = landmark_spans(path, audio) if spans is None else spans
    return extra_key_windows(audio, spans, track_tempo_span(path, audio))  # None: the landmark spans only


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


def _stacked(windows: list[np.ndarray], window_samples: int) -> np.ndarray:
    if not windows:
        return np.zeros((0, window_samples), dtype=np.float32)
    return np.stack(windows).astype(np.float32, copy=False)


def _apart(candidates: Iterable[float], analysed: list[float], distance: float) -> list[float]:
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
