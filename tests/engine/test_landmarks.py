"""Landmark hashes: the same passage gives the same hashes at any sample rate and offset, and the spans that
indexing hashes leave no 30 s excerpt without one whole span."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio

import audio_factory
from engine.landmarks import FRAME_SECONDS, Landmarks, landmarks, span_starts

RATE = 16000


def _aligned_share(reference: Landmarks, query: Landmarks, offset_frames: int) -> float:
    """Share of the query's hashes found in the reference at ``offset_frames`` (± one frame)."""
    stored = set(zip(reference.hashes.tolist(), reference.frames.tolist()))
    found = sum(any((h, f + offset_frames + d) in stored for d in (-1, 0, 1))
                for h, f in zip(query.hashes.tolist(), query.frames.tolist()))
    return found / max(1, len(query))


def test_a_passage_gives_the_hashes_of_its_track_at_its_offset():
    track = audio_factory.random_melody(40.0, seed=1, sample_rate=RATE)
    whole = landmarks(track, RATE)
    start_seconds = 12.3
    excerpt = track[int(start_seconds * RATE): int((start_seconds + 10) * RATE)]
    share = _aligned_share(whole, landmarks(excerpt, RATE), round(start_seconds / FRAME_SECONDS))
    assert len(whole) > 20 * 40  # dense enough to match a few seconds
    assert share > 0.5


def test_hashes_do_not_depend_on_the_sample_rate():
    track = audio_factory.random_melody(20.0, seed=2, sample_rate=RATE)
    resampled = torchaudio.functional.resample(torch.from_numpy(track), RATE, 22050).numpy()
    assert _aligned_share(landmarks(track, RATE), landmarks(resampled, 22050), 0) > 0.5


def test_another_track_shares_almost_no_aligned_hashes():
    first = landmarks(audio_factory.random_melody(30.0, seed=3, sample_rate=RATE), RATE)
    second = landmarks(audio_factory.random_melody(30.0, seed=4, sample_rate=RATE), RATE)
    assert max(_aligned_share(first, second, offset) for offset in range(-200, 200, 7)) < 0.05


def test_a_span_starting_later_in_the_track_stamps_its_hashes_with_track_time():
    track = audio_factory.random_melody(10.0, seed=5, sample_rate=RATE)
    early, late = landmarks(track, RATE), landmarks(track, RATE, start_seconds=100.0)
    assert np.array_equal(early.hashes, late.hashes)
    assert np.array_equal(late.frames - early.frames, np.full(len(early), round(100.0 / FRAME_SECONDS)))


def test_silence_and_tiny_inputs_give_no_hashes():
    assert len(landmarks(np.zeros(RATE * 5, np.float32), RATE)) == 0
    assert len(landmarks(np.zeros(100, np.float32), RATE)) == 0


@pytest.mark.parametrize("duration", [31.0, 64.0, 240.0, 601.5, 3600.0])
def test_every_30s_excerpt_holds_one_whole_span(duration):
    span, excerpt, slack = 2.7, 30.0, 1.5
    windows = list(np.linspace(0.05 * duration, 0.95 * duration - span, 6))
    starts = span_starts(duration, span, windows, excerpt, slack)
    assert starts == sorted(starts) and set(windows) <= set(starts)
    assert all(0 <= start and start + span <= duration + 1e-9 for start in starts)
    for excerpt_start in np.arange(0.0, duration - excerpt, 0.25):
        inside = [s for s in starts if s >= excerpt_start and s + span <= excerpt_start + excerpt - slack]
        assert inside, f"no span inside the excerpt at {excerpt_start:.2f} s"
    extra = len(starts) - len(windows)
    assert extra <= duration / (excerpt - span - slack) + 1  # no more spans than coverage needs


def test_a_weak_alignment_beside_a_strong_one_is_not_a_match():
    from engine.landmark_index import _best_alignments

    strong = [(1, 500)] * 300 + [(1, 501)] * 20  # track 1: 320 hashes at offsets 500-501
    weak = [(2, 90)] * 12  # track 2: 12 hashes at one offset, over the minimum but under a tenth of the best
    lone = [(3, 40)] * 12
    tracks, offsets = map(np.array, zip(*(strong + weak)))
    assert [m.track_id for m in _best_alignments(tracks, offsets, None, 10)] == [1]
    assert _best_alignments(tracks, offsets, 1, 10) == []  # the query's own track still sets the bar
    tracks, offsets = map(np.array, zip(*lone))
    assert [(m.track_id, m.aligned_hashes) for m in _best_alignments(tracks, offsets, None, 10)] == [(3, 12)]


def test_an_excerpt_matches_its_track_at_its_offset_whatever_the_order_of_its_hashes():
    """The lookup sorts the query's hashes to walk the index forwards; each hash must keep its own frame."""
    from engine.landmark_index import aligned_matches
    from engine.landmark_merge import sorted_rows

    generator = np.random.default_rng(5)
    tracks = {number: Landmarks(generator.integers(0, 50_000, 700).astype(np.uint32),
                                np.sort(generator.integers(0, 9_000, 700)).astype(np.int32)) for number in (1, 2, 3)}
    rows = sorted_rows(tracks.items())
    kept = np.arange(200, 400)  # an excerpt of track 2 that starts 1,000 frames later than the track's own time
    excerpt = Landmarks(tracks[2].hashes[kept], tracks[2].frames[kept] - 1_000)
    shuffled = generator.permutation(len(kept))
    for query in (excerpt, Landmarks(excerpt.hashes[shuffled], excerpt.frames[shuffled])):
        matches = aligned_matches(rows, query)
        assert [match.track_id for match in matches] == [2] and matches[0].aligned_hashes >= len(kept)
