"""The decode stage of indexing, run in worker processes: one file → windows, landmarks, tempo + metadata, or a reason.

This module must stay light (PyAV, mutagen, numpy; no torch) because every spawned worker imports it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass

import numpy as np

from engine.allocator import keep_freed_memory
from engine.audio import AudioDecodeError, probe, read_windows
from engine.key_audio import extra_key_windows
from engine.landmark_audio import landmark_spans, track_landmarks
from engine.landmarks import Landmarks
from engine.lazy_modules import lazy_module
from engine.metadata import TrackMetadata, read_metadata
from engine.tempo import TempoError, TempoEstimate
from engine.tempo_net import NetWeightsError
from engine.tempo_audio import file_tempo, track_tempo, track_tempo_span

av = lazy_module("av")
# A tag reader's length this far from the decoder's is a guess (mutagen, like FFmpeg, guesses an MP3 without a
# length header from its first frame); the decoder's, measured for such a file, is kept instead.
DURATION_SLACK_SECONDS = 2.0
PARENT_CHECK_SECONDS = 1.0  # how often a decode worker looks whether the index run that started it still exists


@dataclass(frozen=True)
class DecodeJob:
    """A file to (re-)analyse; ``track_id`` is set when it replaces an existing track row, and
    ``file_changed`` is False when only this model's analysis is missing (other models' stay valid)."""

    path: str
    size: int
    mtime_ns: int
    quick_hash: str
    track_id: int | None
    sample_rate: int
    window_samples: int
    max_windows: int
    file_changed: bool = True
    tempo_only: bool = False  # analysed and current but for its tempo: only the tempo is estimated again


@dataclass
class DecodeOutcome:
    """``windows`` (count, window_samples) float32, the further windows only the key reads (``key_audio``), the
    track's landmarks and tempo (None when its audio gives none) when decoding worked, else ``reason``."""

    job: DecodeJob
    windows: np.ndarray | None
    metadata: TrackMetadata | None
    duration_seconds: float
    reason: str | None = None
    landmarks: Landmarks | None = None
    tempo: TempoEstimate | None = None
    key_windows: np.ndarray | None = None


def decode_job(job: DecodeJob) -> DecodeOutcome:
    """Decode a file's windows and read its tags; any failure becomes a reason, never an exception."""
    if job.tempo_only:
        return tempo_refresh(job)
    try:
        audio = read_windows(job.path, job.sample_rate, job.window_samples, job.max_windows)
    except AudioDecodeError as error:
        return DecodeOutcome(job, None, None, 0.0, error.reason)
    except (av.error.FFmpegError, OSError, ValueError, MemoryError) as error:
        return _decoding_failed(job, error)
    spans = landmark_spans(job.path, audio) if audio.whole is None else None
    found_landmarks = track_landmarks(job.path, audio, spans)
    middle = track_tempo_span(job.path, audio)
    tempo = track_tempo(job.path, audio, middle) if middle is not None else None
    key_windows = extra_key_windows(audio, spans, middle)
    metadata = read_metadata(job.path)
    if metadata.codec is None or metadata.duration is None or metadata.bitrate is None:
        try:
            info = probe(job.path)
            metadata.codec = info.codec
            metadata.duration = metadata.duration or info.duration_seconds or audio.duration_seconds
            metadata.bitrate = metadata.bitrate or info.bitrate
            metadata.sample_rate = metadata.sample_rate or info.sample_rate
        except AudioDecodeError:
            metadata.duration = metadata.duration or audio.duration_seconds
    if audio.duration_seconds > 0 and abs((metadata.duration or 0.0) - audio.duration_seconds) > DURATION_SLACK_SECONDS:
        metadata.duration = audio.duration_seconds  # the tags' reader guessed (an MP3 without a length header)
    return DecodeOutcome(job, audio.windows, metadata, audio.duration_seconds, landmarks=found_landmarks,
                         tempo=tempo, key_windows=key_windows)


def tempo_refresh(job: DecodeJob) -> DecodeOutcome:
    """The tempo alone of an analysed track, from the span a whole analysis takes it from (the middle
    ``tempo.ANALYSIS_SECONDS``, at the job's sample rate). ``tempo`` is None when the audio gives none, as in a whole
    analysis; when the file cannot be read now (gone, unreadable, an I/O error) ``reason`` says so and the stored
    tempo is left as it is, to be estimated again next run. A damaged weights file raises, as in a whole analysis."""
    try:
        tempo: TempoEstimate | None = file_tempo(job.path, job.sample_rate)
    except TempoError:
        tempo = None
    except AudioDecodeError as error:
        return DecodeOutcome(job, None, None, 0.0, error.reason)
    except NetWeightsError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, MemoryError) as error:
        return _decoding_failed(job, error)
    return DecodeOutcome(job, None, None, 0.0, tempo=tempo)


def _decoding_failed(job: DecodeJob, error: BaseException) -> DecodeOutcome:
    """The outcome of a decoder or system error the audio layer did not name: its type and message, shortened."""
    return DecodeOutcome(job, None, None, 0.0, f"decoding failed ({type(error).__name__}: {error})"[:300])


def start_worker(parent: int | None = None) -> None:
    """Decode worker initializer: Ctrl-C goes to the whole process group, and only the main process handles it;
    decoded buffers are reused rather than faulted in again for every file (``engine.allocator``); the worker
    leaves when ``parent``, the process that started it, is gone (killed outright, it cannot shut its pool down).
    The pool passes its own id: read here, a parent killed while the worker was still importing was already
    init's, and the worker waited for init to end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_freed_memory()
    parent = os.getppid() if parent is None else parent

    def leave_when_orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=leave_when_orphaned, name="parent-watch", daemon=True).start()
