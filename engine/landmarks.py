"""Landmark hashes of audio: an identity feature that says "this is the same recording", next to the
embedding that says "this sounds alike".

Spectral peaks are grouped with later peaks nearby (Wang, "An industrial-strength audio search algorithm",
ISMIR 2003). Each anchor peak and two of its nearest later peaks become one hash of (anchor frequency, the two
frequency steps, the two time gaps) stamped with the anchor's time. Triplets rather than Wang's pairs: music puts most
peaks in a few low bands, so pair hashes collide 150x more than uniform ones would, and a lookup in a 100k-track
library would sift ~2,900 entries per query hash; triplets cut that to ~50 (BENCHMARKS.md, "Same-recording matching").
Peaks of a 96 kbps re-encode, a resample or a little noise mostly stay where they were, and two recordings line up
when many of their hashes agree at one time offset. Every unit is in seconds or hertz, so audio at any sample rate
gives the same hashes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

LANDMARK_VERSION = 2  # bump when hashes change: stored landmarks of another version are recomputed
FRAME_SECONDS = 0.016  # hop between spectra; landmark times count these frames
FFT_SECONDS = 0.064  # analysis window: 15.6 Hz bins at any sample rate
LOW_HZ = 150.0  # the band that survives low bitrates, telephone lines and small speakers
HIGH_HZ = 4000.0
PEAK_NEIGHBOURHOOD_FRAMES = 7  # a peak is the largest value within ±7 frames (112 ms) ...
PEAK_NEIGHBOURHOOD_BINS = 9  # ... and ±9 bins (140 Hz)
PEAK_FLOOR_DB = 10.0  # ... and this far above the spectrum's median (silence and hiss give no peaks)
FLOOR_SAMPLE_STEP = 7  # the median is taken over every 7th value: the same floor at a seventh of the cost
FLOOR_MARGIN_DB = 0.01  # values this far below the floor are still turned into dB (``_peaks``)
PEAKS_PER_SECOND = 16  # the strongest peaks kept per second of audio
TARGET_MIN_FRAMES, TARGET_MAX_FRAMES = 2, 63  # a target lies 32 ms to 1 s after its anchor ...
TARGET_MAX_BINS = 31  # ... and at most 484 Hz above or below it
TARGETS_PER_ANCHOR = 4  # the nearest four: every two of them make a triplet, six hashes per anchor
_FREQUENCY_BITS, _STEP_BITS, _GAP_BITS = 8, 6, 6  # 8 + 2 x 6 + 2 x 6 = 32 bits


@dataclass(frozen=True)
class Landmarks:
    """``hashes`` (N,) uint32 and ``frames`` (N,) int32: each hash with its anchor's time in frames of
    ``FRAME_SECONDS`` from the start of the track."""

    hashes: np.ndarray
    frames: np.ndarray

    @staticmethod
    def empty() -> "Landmarks":
        return Landmarks(np.zeros(0, np.uint32), np.zeros(0, np.int32))

    def __len__(self) -> int:
        return int(self.hashes.size)

    @staticmethod
    def concatenate(parts: list["Landmarks"]) -> "Landmarks":
        if not parts:
            return Landmarks.empty()
        return Landmarks(np.concatenate([p.hashes for p in parts]).astype(np.uint32),
                         np.concatenate([p.frames for p in parts]).astype(np.int32))


def landmarks(samples: np.ndarray, sample_rate: int, start_seconds: float = 0.0) -> Landmarks:
    """Landmark hashes of mono ``samples`` (n,) float at ``sample_rate`` that begin ``start_seconds`` into
    their track (so hashes of several spans of one track share a time axis)."""
    magnitude = _band_magnitude(samples, sample_rate)
    if magnitude.shape[0] < 2 * PEAK_NEIGHBOURHOOD_FRAMES:
        return Landmarks.empty()
    peak_frames, peak_bins = _peaks(magnitude)
    hashes, anchor_frames = _triplet_hashes(peak_frames, peak_bins)
    first_frame = int(round(start_seconds / FRAME_SECONDS))
    return Landmarks(hashes, (anchor_frames + first_frame).astype(np.int32))


def _band_magnitude(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, bins) float64 spectral magnitude of the ``LOW_HZ``–``HIGH_HZ`` band (in dB: ``_decibels``)."""
    fft_size = int(round(FFT_SECONDS * sample_rate))
    hop = FRAME_SECONDS * sample_rate
    if samples.size < fft_size:
        return np.zeros((0, 0), np.float64)
    frame_count = int((samples.size - fft_size) // hop) + 1
    samples = samples.astype(np.float64)  # exact; the window product below was float64 already, now without casts
    if float(hop).is_integer():  # 16 kHz and the other common rates: a strided view, no copy
        frames = np.lib.stride_tricks.sliding_window_view(samples, fft_size)[:: int(hop)][:frame_count]
    else:
        starts = np.round(np.arange(frame_count) * hop).astype(np.int64)
        frames = samples[starts[:, None] + np.arange(fft_size)[None, :]]
    spectrum = np.fft.rfft(frames * _hann(fft_size), axis=1)
    low = int(np.ceil(LOW_HZ * FFT_SECONDS))
    high = min(int(HIGH_HZ * FFT_SECONDS), spectrum.shape[1] - 1)
    return np.abs(spectrum[:, low : high + 1])


def _decibels(magnitude: np.ndarray) -> np.ndarray:
    """Magnitudes in dB, float32: the values peaks are picked, compared and ranked by."""
    return (20 * np.log10(magnitude + 1e-6)).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _hann(size: int) -> np.ndarray:
    return np.hanning(size)


def _running_max(values: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Maximum over ±``radius`` along ``axis`` (the edges see only what is inside), by doubling: the max over
    ``width`` values comes from two overlapping maxima over ``width // 2``-ish, so it costs log2(radius) passes."""
    length = values.shape[axis]
    reach = 2 * radius + 1  # window width
    result, width = values.copy(), 1
    while width < reach:
        step = min(width, reach - width)  # combine windows of ``width`` starting ``step`` apart
        if step >= length:
            break
        ahead = [slice(None)] * values.ndim
        behind = [slice(None)] * values.ndim
        ahead[axis], behind[axis] = slice(step, None), slice(None, length - step)
        widened = result.copy()
        np.maximum(widened[tuple(behind)], result[tuple(ahead)], out=widened[tuple(behind)])
        result, width = widened, width + step
    # ``result[i]`` is the max over [i, i + reach): centre it
    centred = np.full_like(values, -np.inf)
    source = [slice(None)] * values.ndim
    target = [slice(None)] * values.ndim
    source[axis], target[axis] = slice(0, max(0, length - radius)), slice(radius, None)
    centred[tuple(target)] = result[tuple(source)]
    head = [slice(None)] * values.ndim
    for index in range(min(radius, length)):  # the first windows reach past the start: only what is inside
        head[axis] = index
        lead = [slice(None)] * values.ndim
        lead[axis] = slice(0, min(length, index + radius + 1))
        centred[tuple(head)] = values[tuple(lead)].max(axis=axis)
    return centred


def _peaks(magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames, bins) of local maxima of the dB spectrum above the floor, at most ``PEAKS_PER_SECOND`` per second,
    time-sorted, from the band's ``magnitude`` (frames, bins).

    Only values above the floor can be peaks, and the maximum of a peak's neighbourhood is one of them, so only
    those (~30 %) are turned into dB; the others count as -inf. The logarithm of every value was a fifth of the
    landmarks' time (BENCHMARKS.md, "Fixed cost per file"); the peaks are the same, bit for bit."""
    floor = np.median(_decibels(magnitude.ravel()[::FLOOR_SAMPLE_STEP])) + PEAK_FLOOR_DB
    spectrum_db = np.full(magnitude.shape, -np.inf, dtype=np.float32)
    loud = magnitude >= _magnitude_below(floor)
    spectrum_db[loud] = _decibels(magnitude[loud])
    neighbourhood = _running_max(_running_max(spectrum_db, PEAK_NEIGHBOURHOOD_FRAMES, 0), PEAK_NEIGHBOURHOOD_BINS, 1)
    frames, bins = np.nonzero((spectrum_db == neighbourhood) & (spectrum_db > floor))
    budget = max(1, int(round(PEAKS_PER_SECOND * spectrum_db.shape[0] * FRAME_SECONDS)))
    if frames.size > budget:
        strongest = np.argsort(spectrum_db[frames, bins])[::-1][:budget]
        frames, bins = frames[strongest], bins[strongest]
    order = np.lexsort((bins, frames))
    return frames[order], bins[order]


def _magnitude_below(decibels: float) -> float:
    """A magnitude a little below the one ``_decibels`` maps to ``decibels``: every magnitude whose dB value is
    above ``decibels`` is at least this (the margin, ``FLOOR_MARGIN_DB``, dwarfs float rounding)."""
    return 10.0 ** ((float(decibels) - FLOOR_MARGIN_DB) / 20) - 1e-6


def _triplet_hashes(peak_frames: np.ndarray, peak_bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each peak with every two of its first ``TARGETS_PER_ANCHOR`` later peaks in the target zone →
    (hashes, anchor frames)."""
    targets = _nearest_targets(peak_frames, peak_bins)
    hashes, anchor_frames = [], []
    for first in range(TARGETS_PER_ANCHOR):
        for second in range(first + 1, TARGETS_PER_ANCHOR):
            anchors = np.nonzero(targets[:, second] >= 0)[0]  # ``second`` filled implies ``first`` is
            hashes.append(_pack(peak_frames, peak_bins, anchors, targets[anchors, first], targets[anchors, second]))
            anchor_frames.append(peak_frames[anchors])
    return np.concatenate(hashes).astype(np.uint32), np.concatenate(anchor_frames).astype(np.int32)


def _nearest_targets(peak_frames: np.ndarray, peak_bins: np.ndarray) -> np.ndarray:
    """(peaks, ``TARGETS_PER_ANCHOR``) indices of each time-sorted peak's first later peaks in its target zone, in
    time order (-1: none). All later peaks within ``TARGET_MAX_FRAMES`` are looked at in one (peaks, reach) array,
    not offset by offset in a Python loop (2.9 -> 1.35 ms of a 25 s clip's ~16 ms of landmarks)."""
    count = peak_frames.size
    targets = np.full((count, TARGETS_PER_ANCHOR), -1, dtype=np.int64)
    if count < 2:
        return targets
    last_in_reach = np.searchsorted(peak_frames, peak_frames + TARGET_MAX_FRAMES, side="right") - 1
    reach = int((last_in_reach - np.arange(count)).max())
    if reach < 1:
        return targets
    later = np.arange(count)[:, None] + np.arange(1, reach + 1)[None, :]  # (anchor, offset) → peak index
    exists = later < count
    later = np.minimum(later, count - 1)
    gaps = peak_frames[later] - peak_frames[:, None]
    in_zone = exists & (gaps >= TARGET_MIN_FRAMES) & (gaps <= TARGET_MAX_FRAMES)
    in_zone &= np.abs(peak_bins[later] - peak_bins[:, None]) <= TARGET_MAX_BINS
    rank = np.cumsum(in_zone, axis=1) - 1  # which target of its anchor each in-zone peak is
    chosen = in_zone & (rank < TARGETS_PER_ANCHOR)
    anchors, offsets = np.nonzero(chosen)
    targets[anchors, rank[anchors, offsets]] = later[anchors, offsets]
    return targets


def _pack(peak_frames: np.ndarray, peak_bins: np.ndarray, anchors: np.ndarray, first: np.ndarray,
          second: np.ndarray) -> np.ndarray:
    """32-bit hashes of triplets: anchor bin, two frequency steps (offset to be positive), two time gaps."""
    step_offset = 1 << (_STEP_BITS - 1)
    anchor_bin = peak_bins[anchors].astype(np.uint32) & ((1 << _FREQUENCY_BITS) - 1)
    step_one = (peak_bins[first] - peak_bins[anchors] + step_offset).astype(np.uint32)
    step_two = (peak_bins[second] - peak_bins[anchors] + step_offset).astype(np.uint32)
    gap_one = (peak_frames[first] - peak_frames[anchors]).astype(np.uint32)
    gap_two = (peak_frames[second] - peak_frames[anchors]).astype(np.uint32)
    hashed = anchor_bin
    for field, bits in ((step_one, _STEP_BITS), (step_two, _STEP_BITS), (gap_one, _GAP_BITS), (gap_two, _GAP_BITS)):
        hashed = (hashed << bits) | field
    return hashed


def span_starts(duration_seconds: float, span_seconds: float, window_starts: list[float],
                excerpt_seconds: float, margin_seconds: float) -> list[float]:
    """Starts of the spans to hash: the analysis windows plus as few extra spans as make any excerpt of
    ``excerpt_seconds`` (less ``margin_seconds`` of slack) hold one span whole. Sorted; each ends in the track."""
    gap = excerpt_seconds - span_seconds - margin_seconds
    last_allowed = max(0.0, duration_seconds - span_seconds)
    if gap <= 0:
        raise ValueError("excerpt_seconds must exceed span_seconds + margin_seconds")
    starts: list[float] = []
    due = gap  # the latest start that still covers every excerpt beginning after the previous span
    for window in sorted(window_starts):
        while window > due and due < last_allowed:
            starts.append(due)
            due += gap
        starts.append(window)
        due = window + gap
    end_needed = duration_seconds - excerpt_seconds + margin_seconds  # the last excerpt start to cover
    while not starts or (starts[-1] < end_needed and starts[-1] < last_allowed):
        starts.append(min(due, last_allowed))
        due = starts[-1] + gap
    return starts
