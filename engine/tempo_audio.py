"""Which audio of a file gets a tempo: the middle ``tempo.ANALYSIS_SECONDS`` of it, decoded as one span.

The model's windows are 2.7 s apart-spread snippets, too short to hold many beats, so indexing decodes one
contiguous span from the middle of each track (a whole short track is already decoded: it is used as is).
A library track and ``engine bpm`` on the same file analyse the same span at the same sample rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio import AudioDecodeError, AudioWindows, decode_mono, probe, read_spans
from engine.tempo import ANALYSIS_SECONDS, TempoError, TempoEstimate, estimate_tempo

TEMPO_SAMPLE_RATE = 16_000  # ``engine bpm`` outside a library decodes at the default model's rate, as indexing does


@dataclass(frozen=True)
class TempoSpan:
    """The audio a track's tempo is taken from: mono float32 ``samples`` that begin ``start_seconds`` into it."""

    start_seconds: float
    samples: np.ndarray


def track_tempo(path: Path | str, audio: AudioWindows, span: TempoSpan | None = None) -> TempoEstimate | None:
    """Tempo of a library track whose ``audio`` windows decoded (from ``span`` when the caller has decoded it:
    ``tempo_span``); None when its audio gives none (too short, silent, or its middle span fails to decode: the
    track is still indexed, without a tempo)."""
    try:
        span = tempo_span(path, audio) if span is None else span
        return estimate_tempo(span.samples, audio.sample_rate)
    except (AudioDecodeError, TempoError):
        return None


def track_tempo_span(path: Path | str, audio: AudioWindows) -> TempoSpan | None:
    """``tempo_span`` of a library track, or None when its middle span fails to decode (the track is still indexed,
    without a tempo)."""
    try:
        return tempo_span(path, audio)
    except AudioDecodeError:
        return None


def decoded_tempo(path: Path | str, audio: AudioWindows) -> TempoEstimate:
    """Tempo of a file whose windows decoded, at their sample rate (``tempo_span``). Raises ``AudioDecodeError``
    or ``TempoError``."""
    return estimate_tempo(tempo_span(path, audio).samples, audio.sample_rate)


def tempo_span(path: Path | str, audio: AudioWindows) -> TempoSpan:
    """The whole decode when the file has one (up to ``ANALYSIS_SECONDS`` the file was decoded whole for its
    windows), else its middle span, decoded now at the windows' sample rate. Raises ``AudioDecodeError``."""
    if audio.decoded is not None:
        return TempoSpan(0.0, audio.decoded)
    rate = audio.sample_rate
    return TempoSpan(middle_start(audio.duration_seconds), middle_span(path, audio.duration_seconds, rate))


def file_tempo(path: Path | str, sample_rate: int = TEMPO_SAMPLE_RATE) -> TempoEstimate:
    """Tempo of any audio file, from the same span indexing uses. Raises ``AudioDecodeError`` (undecodable)
    or ``TempoError`` (no tempo in it)."""
    duration = probe(path).duration_seconds or 0.0
    return estimate_tempo(middle_span(path, duration, sample_rate), sample_rate)


def middle_span(path: Path | str, duration_seconds: float, sample_rate: int) -> np.ndarray:
    """Mono float32 audio of the middle ``ANALYSIS_SECONDS`` (the whole file when shorter or of unknown length)."""
    if duration_seconds <= ANALYSIS_SECONDS:
        return decode_mono(path, sample_rate)
    span = read_spans(path, sample_rate, [middle_start(duration_seconds)], int(ANALYSIS_SECONDS * sample_rate))[0]
    if span.size == 0:
        raise AudioDecodeError(path, "no audio decoded in the middle of the file")
    return span


def middle_start(duration_seconds: float) -> float:
    """Where ``middle_span`` begins in a track of ``duration_seconds``."""
    return max(0.0, (duration_seconds - ANALYSIS_SECONDS) / 2)
