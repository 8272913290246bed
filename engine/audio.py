"""Audio decoding through PyAV (FFmpeg): every common format, mono, at the model's sample rate.

Windows are read by seeking, so analysing a 10-minute file costs a few short decodes rather than a
whole decode. A truncated file (its stated length is longer than what decodes) is an error, because
FFmpeg decodes the first part of such a file silently.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio_formats import AUDIO_EXTENSIONS  # noqa: F401 (re-exported)
from engine.lazy_modules import lazy_module
from engine.mp3_length import header_seconds
from engine.truncation import container_truncation

av = lazy_module("av")  # PyAV: loaded at the first decode (engine.lazy_modules says why)

MIN_DURATION_SECONDS = 1.0
AUDIO_DIGEST_BYTES = 16
# A file is truncated when less than this share of its stated duration decodes (and more than the slack is missing).
TRUNCATION_TOLERANCE_SECONDS = 1.0
TRUNCATION_MIN_SHARE = 0.98
GUESS_CHECK_SECONDS = 3.0  # how far before a guessed length audio is looked for
GUESSED_LENGTH_FORMATS = {"aac"}  # raw ADTS: no length anywhere in the stream, FFmpeg guesses from the bitrate
RESAMPLE_RUN_SECONDS = 8.0  # decoded audio resampled per call: long runs, bounded memory for whole files
SEEK_BACKOFF_SECONDS = 1.0  # how much earlier a seek that landed after the wanted start is tried again
# A decode in which more than this share of the packets is damaged is a damaged file, not one with a bad stretch a
# player skips (a few damaged packets of an MP3's ~38 a second are a click; most of them, noise or nothing).
MAX_DAMAGED_PACKET_SHARE = 0.25
# Stereo whose channels' sum is this far below their difference plays on two speakers but mixes to near silence: it
# is read as the difference of its channels. Weighed on every 128th decoded frame (every 8th until one holds sound):
# every 32nd cost 7 % of a whole decode.
CANCEL_DB = 20.0
CANCEL_CHECK_EVERY = 128
STEREO_TO_MONO = 0.5 ** 0.5  # FFmpeg's mono mix of two channels: (L + R) / sqrt(2); the difference alike
RESAMPLER_TAIL_SAMPLES = 256  # input decoded past a span's end, so the resampler's filter tail lies outside it
EDGE_MARGIN_SHARE = 0.05  # windows avoid the first and last 5 % (intros, fade-outs, silence)
# Tracks up to this long are decoded once, whole, and their windows cut from it: indexing takes the tempo of a
# track this short from its whole audio (tempo.ANALYSIS_SECONDS) and reuses the decode (``AudioWindows.decoded``).
# Seeking the windows and decoding the file again for the tempo cost 25 s clips about a quarter more CPU per file
# (BENCHMARKS.md, "Fixed cost per file"). Their windows, and so their landmarks, stay where seeking puts them.
WHOLE_DECODE_SECONDS = 30.0


class AudioDecodeError(Exception):
    """A file could not be decoded into usable audio. ``reason`` is short and user-facing."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class AudioInfo:
    """What the container states about its audio stream."""

    duration_seconds: float
    codec: str
    sample_rate: int
    channels: int
    bitrate: int | None


@dataclass
class AudioWindows:
    """Windows cut from a file: ``windows`` (count, window_samples) float32 at ``sample_rate``."""

    windows: np.ndarray
    sample_rate: int
    duration_seconds: float
    start_seconds: list[float]
    whole: np.ndarray | None = None  # the whole decoded file, when it is too short for spread windows (hashed whole)
    decoded: np.ndarray | None = None  # the whole decoded file whenever it was decoded whole (the tempo reuses it)


def _open(path: Path | str):
    try:
        container = av.open(os.fspath(path), metadata_errors="ignore")
    except av.error.FileNotFoundError:
        raise AudioDecodeError(path, "file not found") from None
    except av.error.PermissionError:
        raise AudioDecodeError(path, "permission denied") from None
    except av.error.InvalidDataError:
        raise AudioDecodeError(path, "empty file (0 bytes)" if _is_empty(path) else
                               "not an audio file or corrupt header") from None
    except (av.error.FFmpegError, OSError) as error:
        raise AudioDecodeError(path, f"cannot open ({_short(error)})") from None
    if not container.streams.audio:
        container.close()
        raise AudioDecodeError(path, "no audio stream (video-only or not media)")
    return container


def audio_stream(container):
    """The audio stream a player plays: the first one marked default, else the first one (a file with a silent
    or commentary stream before its music marks the music default)."""
    streams = container.streams.audio
    default = av.stream.Disposition.default
    return next((stream for stream in streams if stream.disposition & default), streams[0])


def _is_empty(path: Path | str) -> bool:
    try:
        return os.stat(path).st_size == 0
    except OSError:
        return False


def _short(error: BaseException) -> str:
    """One line for a problem's reason: FFmpeg's own words without its error number and the call that failed
    ("[Errno 1094995529] Invalid data found when processing input: 'avcodec_send_packet()'" is "damaged audio
    data: invalid data found")."""
    if isinstance(error, av.error.InvalidDataError):
        return "damaged audio data: invalid data found"
    text = error.strerror if isinstance(error, av.error.FFmpegError) and error.strerror else str(error)
    text = text.strip() or type(error).__name__
    return text.splitlines()[0][:200]


def _stated_duration(container, stream) -> float:
    """The length the container states. For an MP3 (``engine.mp3_length``): the length its own header states when
    FFmpeg guessed another, and without such a header, FFmpeg's guess checked (``_checked_guess``). Where the
    audio stream states none, its packets are added up (``_demuxed_seconds``): a streamed FLAC or Matroska file
    (written to a pipe) states no length at all, and a Matroska video's length is its video's."""
    if stream.duration is not None and stream.time_base is not None:
        stated = float(stream.duration * stream.time_base)
    elif container.duration is not None and all(other.type == "audio" for other in container.streams):
        stated = container.duration / av.time_base
    else:
        whole = (container.duration or 0) / av.time_base
        return _demuxed_seconds(container.name, whole) or whole
    formats = set(container.format.name.split(","))
    if stated > 0 and "mp3" in formats:
        own = header_seconds(container.name)
        if own is None:
            return _checked_guess(container.name, stated)
        if abs(own - stated) > TRUNCATION_TOLERANCE_SECONDS:
            return own  # FFmpeg ignored the file's header and guessed: the header's claim is what truncation tests
    if stated > 0 and formats & GUESSED_LENGTH_FORMATS:
        return _checked_guess(container.name, stated)
    return stated


def _demuxed_seconds(path: str, container_seconds: float = 0.0) -> float | None:
    """The end of the first audio stream's last packet, in a separate open; packets are demuxed, not decoded. Where
    the container states a length (a video's), only its last ``GUESS_CHECK_SECONDS`` are read when the sound goes on
    to there; else every packet from the start (~15 ms a minute). None when its packets carry no times or the file
    cannot be demuxed."""
    container = _open(path)
    try:
        stream = audio_stream(container)
        if stream.time_base is None:
            return None
        near_end = container_seconds - GUESS_CHECK_SECONDS
        reached = _last_packet_end(container, stream, near_end) if near_end > 0 else None
        if reached is None or reached <= near_end:  # the sound stops earlier, or no length is stated: every packet
            reached = _last_packet_end(container, stream, 0.0)
        return reached - _stream_origin(stream) if reached else None
    except av.error.FFmpegError:
        return None
    finally:
        container.close()


def _checked_guess(path: str, guessed: float) -> float:
    """A length FFmpeg guessed from the first frame's bitrate (an MP3 without a length header, raw ADTS AAC): the
    guess when audio ends there (a constant bitrate's guess is right), else the length the packets add up to,
    demuxed from the start (not decoded: ~15 ms a minute). A separate open, so the caller's container is where it
    was. Such a file states no length of its own, so a cut-off copy cannot be told from a short one."""
    container = _open(path)
    try:
        stream = audio_stream(container)
        reached = _last_packet_end(container, stream, max(0.0, guessed - GUESS_CHECK_SECONDS))
        if reached is None or abs(reached - guessed) <= TRUNCATION_TOLERANCE_SECONDS:
            return guessed
        # Audio ends before the guess, or goes on past it (a VBR MP3 without a Xing header, guessed from its first
        # frame's bitrate): the packets add up to its length, demuxed from the start (a time after a seek into such
        # a file is itself a guess).
        return _last_packet_end(container, stream, 0.0) or guessed
    except av.error.FFmpegError:
        return guessed  # decoding reports what is wrong with the file
    finally:
        container.close()


def probe(path: Path | str) -> AudioInfo:
    """Read the stated properties of the first audio stream without decoding."""
    container = _open(path)
    try:
        stream = audio_stream(container)
        codec = stream.codec_context.name if stream.codec_context else "unknown"
        bitrate = stream.bit_rate or container.bit_rate or None
        return AudioInfo(
            duration_seconds=_stated_duration(container, stream),
            codec=codec,
            sample_rate=int(stream.sample_rate or 0),
            channels=int(stream.channels or 0),
            bitrate=int(bitrate) if bitrate else None,
        )
    finally:
        container.close()


def _decode_span(container, stream, sample_rate: int, start_seconds: float, sample_count: int | None) -> np.ndarray:
    """Decode from ``start_seconds`` for ``sample_count`` samples (None = to the end), mono float32.

    Times count from the stream's first sample, as in a whole decode: an MP3's start padding, which FFmpeg
    drops, gives its stream a start time of about 50 ms, and a window found by seeking starts that much later
    in container time. A seek that lands after the start (Ogg pages) is retried from a second earlier.
    """
    target = _stream_origin(stream) + start_seconds
    audio, first_time = _decode_from(container, stream, sample_rate, target, target, sample_count)
    if start_seconds > 0 and first_time > target + 0.5 / sample_rate:
        audio, _ = _decode_from(container, stream, sample_rate, max(0.0, target - SEEK_BACKOFF_SECONDS), target,
                                sample_count, rewind=True)
    return audio


def _stream_origin(stream) -> float:
    """Container time (s) of the stream's first sample; 0 when it is unknown or negative (codec priming)."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return max(0.0, float(stream.start_time * stream.time_base))


def _decode_from(
    container, stream, sample_rate: int, seek_seconds: float, start_seconds: float, sample_count: int | None,
    rewind: bool = False, difference: bool = False,
) -> tuple[np.ndarray, float]:
    """Seek to ``seek_seconds`` (container time; none at 0 unless ``rewind``: a container already read must go
    back to its start), decode, and cut the audio from ``start_seconds``; returns it with the time of the first
    decoded sample.

    Decoded frames are gathered in an ``AudioFifo`` and resampled in long runs: calling the resampler (and
    ``to_ndarray``) once per codec frame cost more than decoding (docs/lab-notes/2026-12-03-speed-history.md,
    "Indexing speed"), and the output is the same. From the first damaged packet on, packets are decoded one by one
    and a damaged one is skipped (a few milliseconds of sound, as a player skips it) instead of ending the decode
    there: a damaged stretch in the middle of an MP3 made the whole file look truncated. Stereo whose channels
    cancel (one of them inverted, a wiring or mastering fault that plays fine on two speakers) is decoded again as
    their difference (``difference``): its mono mix is near silence, which has no key, tempo or neighbours.
    """
    if seek_seconds > 0 or rewind:
        container.seek(int(seek_seconds / stream.time_base), stream=stream, backward=True, any_frame=False)
    gathered = _ResampledRun(sample_rate, difference)
    first_time: float | None = None  # time (s) of the first decoded sample
    needed = math.inf  # input samples that cover the span (and the resampler's tail), from the first frame on
    damage: av.error.FFmpegError | None = None
    packets = damaged = 0
    try:
        try:  # PyAV's own loop while the stream is sound: a Python loop per packet costs ~7 % of a whole decode
            for frame in container.decode(stream):
                packets += 1
                if first_time is None:
                    first_time, needed = _span_start(frame, start_seconds, sample_count, sample_rate)
                gathered.add(frame)
                if gathered.input_samples >= needed:
                    break
        except av.error.FFmpegError as error:  # a damaged packet: the rest packet by packet, from where it failed
            damage, damaged = error, 1
            for packet in container.demux(stream):
                packets += 1
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as error:  # skipped, as players skip it
                    damage, damaged = error, damaged + 1
                    continue
                for frame in frames:
                    if first_time is None:
                        first_time, needed = _span_start(frame, start_seconds, sample_count, sample_rate)
                    gathered.add(frame)
                if gathered.input_samples >= needed:
                    break
    except av.error.FFmpegError as error:
        damage = error  # the container itself is damaged here: keep what decoded; truncation checks judge the rest
    if damage is not None and (gathered.input_samples == 0 or damaged > MAX_DAMAGED_PACKET_SHARE * packets):
        raise AudioDecodeError(container.name, f"decoding failed ({_short(damage)})") from None
    audio = gathered.finish()
    if gathered.channels_cancel():
        return _decode_from(container, stream, sample_rate, seek_seconds, start_seconds, sample_count, True, True)
    first_time = first_time or 0.0
    skip = max(0, int(round((start_seconds - first_time) * sample_rate)))
    audio = audio[skip:]
    return (audio[:sample_count] if sample_count is not None else audio), first_time


def _span_start(frame, start_seconds: float, sample_count: int | None, sample_rate: int) -> tuple[float, float]:
    """(time of the first decoded sample, input samples from it on that cover the span and the resampler's tail;
    infinite for a decode to the end)."""
    first_time = float(frame.time) if frame.time is not None else 0.0
    if sample_count is None:
        return first_time, math.inf
    lead_seconds = max(0.0, start_seconds - first_time)
    return first_time, (lead_seconds + sample_count / sample_rate) * frame.sample_rate + RESAMPLER_TAIL_SAMPLES


class _ResampledRun:
    """Decoded frames → one mono float32 array at ``sample_rate``; frames wait in a FIFO and go through the
    resampler in runs of up to ``RESAMPLE_RUN_SECONDS`` (or when the stream's format changes). ``difference``: the
    difference of a stereo stream's two channels instead of their mix (scaled as FFmpeg scales the mix).

    Every ``CANCEL_CHECK_EVERY``-th frame of a two-channel stream adds to the energies of the channels' sum and
    difference (each channel's mean taken off, so unsigned formats compare too), which ``channels_cancel`` weighs."""

    def __init__(self, sample_rate: int, difference: bool = False) -> None:
        self.sample_rate = sample_rate
        self.difference = difference
        self.input_samples = 0
        self._fifo: av.AudioFifo | None = None
        self._fifo_format: tuple | None = None
        self._resampler: av.AudioResampler | None = None
        self._chunks: list[np.ndarray] = []
        self._frames = self._next_weighed = 0
        self._weighs = False
        self._sum_energy = self._difference_energy = 0.0

    def add(self, frame) -> None:
        frame_format = (frame.format.name, frame.layout.name, frame.sample_rate)
        if frame_format != self._fifo_format:
            self._drain(flush=True)
            self._fifo, self._fifo_format = av.AudioFifo(), frame_format
            layout = "stereo" if self.difference else "mono"
            self._resampler = av.AudioResampler(format="flt", layout=layout, rate=self.sample_rate)
            self._weighs = not self.difference and len(frame.layout.channels) == 2
        if self._weighs and self._frames >= self._next_weighed:
            self._weigh_channels(frame)  # every 8th frame until one held sound (a window may start in silence)
            heard = self._sum_energy + self._difference_energy > 0.0
            self._next_weighed = self._frames + (CANCEL_CHECK_EVERY if heard else 8)
        self._frames += 1
        frame.pts = None  # the FIFO checks timestamps for gaps; seeks and damaged frames make harmless ones
        self._fifo.write(frame)
        self.input_samples += frame.samples
        if self._fifo.samples >= RESAMPLE_RUN_SECONDS * frame.sample_rate:
            self._drain(flush=False)

    def finish(self) -> np.ndarray:
        """The decoded audio; samples that are not finite numbers (NaN or infinity in a float file, which a faulty
        plug-in can write) are silence, as a player's output makes them: one NaN turned a track's whole analysis
        into NaN, and through the library's mean every search of a standardising model."""
        self._drain(flush=True)
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.float32)
        with np.errstate(invalid="ignore", over="ignore"):
            total = audio.sum()  # a NaN or infinity makes the sum one (a sum too large for float32 too)
        if not np.isfinite(total):
            np.nan_to_num(audio, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return audio

    def channels_cancel(self) -> bool:
        """Whether the two channels heard so far are each other's inverse: their sum at least ``CANCEL_DB`` below
        their difference (in-phase or ordinary stereo has the sum well above it)."""
        return self._difference_energy > 0.0 and self._sum_energy < 10.0 ** (-CANCEL_DB / 10.0) * self._difference_energy

    def _weigh_channels(self, frame) -> None:
        samples = frame.to_ndarray().astype(np.float64)
        left, right = (samples[0], samples[1]) if frame.format.is_planar else (samples[0, 0::2], samples[0, 1::2])
        left, right = left - left.mean(), right - right.mean()
        self._sum_energy += float(np.dot(left + right, left + right))
        self._difference_energy += float(np.dot(left - right, left - right))

    def _drain(self, flush: bool) -> None:
        if self._fifo is None:
            return
        frames = self._resampler.resample(self._fifo.read()) if self._fifo.samples else []
        if flush:
            frames = [*frames, *self._resampler.resample(None)]
        for frame in frames:
            samples = frame.to_ndarray().reshape(-1)
            self._chunks.append(STEREO_TO_MONO * (samples[0::2] - samples[1::2]) if self.difference else samples)


def decode_mono(
    path: Path | str, sample_rate: int, start_seconds: float = 0.0, duration_seconds: float | None = None
) -> np.ndarray:
    """Decode a span (default: the whole file) to mono float32 at ``sample_rate``."""
    container = _open(path)
    try:
        stream = audio_stream(container)
        count = None if duration_seconds is None else int(round(duration_seconds * sample_rate))
        audio = _decode_span(container, stream, sample_rate, start_seconds, count)
    finally:
        container.close()
    if audio.size == 0:
        raise AudioDecodeError(path, "no audio decoded")
    return audio


def decoded_audio_digest(path: Path | str) -> str:
    """Hash of every decoded sample of the first audio stream, in its own format and layout (no resampling).

    Two files with the same digest play the same: tag writing checks it before replacing a user's file.
    Raises ``AudioDecodeError`` when the file does not decode from start to end.
    """
    container = _open(path)
    digest = hashlib.blake2b(digest_size=AUDIO_DIGEST_BYTES)
    sample_count = 0
    try:
        stream = audio_stream(container)
        for frame in container.decode(stream):
            digest.update(f"{frame.format.name} {frame.layout.name} {frame.sample_rate} {frame.samples};".encode())
            digest.update(frame.to_ndarray().tobytes())
            sample_count += frame.samples
    except av.error.FFmpegError as error:
        raise AudioDecodeError(path, f"decoding failed ({_short(error)})") from None
    finally:
        container.close()
    if sample_count == 0:
        raise AudioDecodeError(path, "no audio decoded")
    return digest.hexdigest()


def window_starts(duration_seconds: float, window_seconds: float, max_windows: int) -> list[float]:
    """Evenly spread window starts over the body of a track (skipping edge margins when there is room)."""
    if duration_seconds <= window_seconds or max_windows <= 1:
        return [max(0.0, (duration_seconds - window_seconds) / 2)]
    margin = EDGE_MARGIN_SHARE * duration_seconds
    if duration_seconds - 2 * margin < window_seconds * max_windows:
        margin = 0.0
    first, last = margin, duration_seconds - margin - window_seconds
    count = int(min(max_windows, max(1, math.floor((last - first) / window_seconds) + 1)))
    if count == 1:
        return [first + (last - first) / 2]
    step = (last - first) / (count - 1)
    return [first + index * step for index in range(count)]


def too_short_to_spread(duration_seconds: float, window_seconds: float, max_windows: int) -> bool:
    """Whether a track this long is too short for spread windows: ``read_windows`` decodes it whole, cuts its
    windows from that decode and keeps it whole for its landmarks."""
    return duration_seconds < window_seconds * max(2, max_windows) * 1.5


def read_windows(
    path: Path | str, sample_rate: int, window_samples: int, max_windows: int, check_truncation: bool = True,
    whole_up_to_seconds: float = 0.0,
) -> AudioWindows:
    """Cut up to ``max_windows`` windows from a file by seeking; short tracks (up to ``WHOLE_DECODE_SECONDS``) are
    decoded whole and the windows cut from that decode (padded), which they keep in ``decoded``, and in ``whole``
    too when they are too short for spread windows.

    ``whole_up_to_seconds``: a file stated to be no longer than this is kept whole in ``whole`` (a query file is
    hashed whole: ``landmark_audio.QUERY_WHOLE_SECONDS``); one that is sought is also decoded whole, first, in the
    same open. Its windows are still sought: windows cut from a whole decode differ from sought ones (the
    resampler starts elsewhere), and a copy of a library track must land on the library's windows.

    Raises ``AudioDecodeError`` for unreadable, silent-empty, too short (< 1 s) or truncated files.
    """
    window_seconds = window_samples / sample_rate
    container = _open(path)
    try:
        stream = audio_stream(container)
        stated = _stated_duration(container, stream)
        seekable = stated > 0 and stream.time_base is not None
        too_short = not seekable or too_short_to_spread(stated, window_seconds, max_windows)
        kept_whole = 0 < stated <= whole_up_to_seconds
        if too_short or stated <= WHOLE_DECODE_SECONDS:
            audio = _decode_span(container, stream, sample_rate, 0.0, None)
            windows = _windows_from_whole(path, audio, sample_rate, window_samples, max_windows, stated, check_truncation,
                                          analysed_whole=too_short or kept_whole)
        else:
            whole = _decode_span(container, stream, sample_rate, 0.0, None) if kept_whole else None
            if whole is not None and whole.size == 0:
                raise AudioDecodeError(path, "no audio decoded")
            if check_truncation:
                _check_tail(path, container, stream, sample_rate, stated)
            windows = _windows_by_seeking(path, container, stream, sample_rate, window_samples, max_windows, stated)
            windows.whole = whole
        format_name = container.format.name
    finally:
        container.close()
    if check_truncation:
        reason = container_truncation(path, format_name)  # Ogg and WAV state the length of what is there
        if reason is not None:
            raise AudioDecodeError(path, reason)
    return windows


def _windows_by_seeking(path, container, stream, sample_rate, window_samples, max_windows, stated) -> AudioWindows:
    starts = window_starts(stated, window_samples / sample_rate, max_windows)
    windows = []
    for start in starts:
        audio = _decode_span(container, stream, sample_rate, start, window_samples)
        if audio.size < window_samples:
            end = start + window_samples / sample_rate
            raise AudioDecodeError(path, f"truncated: audio ends before {end:.1f} s of {stated:.1f} s")
        windows.append(audio)
    return AudioWindows(np.stack(windows), sample_rate, stated, starts)


def _check_tail(path, container, stream, sample_rate: int, stated: float) -> None:
    """Seek close to the stated end: a truncated file has no audio there. Packets are only demuxed, not
    decoded (a tenth of the decode work of a track); decoding is the fallback when packets carry no times."""
    probe_seconds = min(2.0, stated / 4)
    start = max(0.0, stated - probe_seconds - TRUNCATION_TOLERANCE_SECONDS)
    reached = _last_packet_end(container, stream, start)
    if reached is None:
        try:
            tail = _decode_span(container, stream, sample_rate, start, None)
        except AudioDecodeError:
            raise AudioDecodeError(path, f"truncated: no decodable audio near the stated end ({stated:.1f} s)") from None
        reached = start + tail.size / sample_rate
    if reached < stated - TRUNCATION_TOLERANCE_SECONDS - probe_seconds / 2:
        raise AudioDecodeError(path, f"truncated: decodes to {reached:.1f} s of a stated {stated:.1f} s")


def _last_packet_end(container, stream, start_seconds: float) -> float | None:
    """End time (s) of the last packet after seeking to ``start_seconds``; ``start_seconds`` when there is
    none; None when packets carry no timestamps."""
    ends: list[float] = []
    untimed = False
    try:
        container.seek(int(start_seconds / stream.time_base), stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            if not packet.size:
                continue
            if packet.pts is None:
                untimed = True
            else:
                ends.append(float((packet.pts + (packet.duration or 0)) * stream.time_base))
    except av.error.FFmpegError:
        return start_seconds
    if ends:
        return max(ends)
    return None if untimed else start_seconds


def _windows_from_whole(path, audio, sample_rate, window_samples, max_windows, stated, check_truncation,
                        analysed_whole: bool = True) -> AudioWindows:
    """Windows cut from a whole decode; ``analysed_whole``: the track is too short for spread windows, so it is
    also hashed whole (``AudioWindows.whole``)."""
    decoded_seconds = audio.size / sample_rate
    if audio.size == 0:
        raise AudioDecodeError(path, "no audio decoded (empty or header-only)")
    if decoded_seconds < MIN_DURATION_SECONDS:
        raise AudioDecodeError(path, f"too short ({decoded_seconds:.2f} s; at least {MIN_DURATION_SECONDS:.0f} s needed)")
    if check_truncation and stated > 0:
        missing = stated - decoded_seconds
        if missing > TRUNCATION_TOLERANCE_SECONDS and decoded_seconds < TRUNCATION_MIN_SHARE * stated:
            raise AudioDecodeError(path, f"truncated: decodes to {decoded_seconds:.1f} s of a stated {stated:.1f} s")
    windows, starts = cut_windows(audio, sample_rate, window_samples, max_windows)
    return AudioWindows(windows, sample_rate, decoded_seconds, starts, audio if analysed_whole else None, audio)


def cut_windows(audio: np.ndarray, sample_rate: int, window_samples: int, max_windows: int) -> tuple[np.ndarray, list[float]]:
    """(windows (count, window_samples) float32, their starts in seconds) cut from decoded mono ``audio`` where
    ``window_starts`` places them; a window running past the end is zero-padded."""
    starts = window_starts(audio.size / sample_rate, window_samples / sample_rate, max_windows)
    windows = []
    for start in starts:
        offset = int(round(start * sample_rate))
        piece = audio[offset : offset + window_samples]
        if piece.size < window_samples:
            piece = np.pad(piece, (0, window_samples - piece.size))
        windows.append(piece)
    return np.stack(windows).astype(np.float32, copy=False), starts


def read_spans(path: Path | str, sample_rate: int, start_seconds: list[float], span_samples: int) -> list[np.ndarray]:
    """Decode spans of ``span_samples`` at each start by seeking (one open); a span may come back shorter
    where the audio ends. Raises ``AudioDecodeError`` when the file cannot be opened or decoded."""
    container = _open(path)
    try:
        stream = audio_stream(container)
        return [_decode_span(container, stream, sample_rate, start, span_samples) for start in start_seconds]
    except av.error.FFmpegError as error:
        raise AudioDecodeError(path, _short(error)) from None
    finally:
        container.close()
