"""Manifests, the decoded-audio cache and the labeled/unlabeled batch composer."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from training.data import (
    AudioCache, BatchComposer, LabeledShareError, LabelVocabulary, ManifestError, Track, make_tracks, read_manifest,
    read_views, split_labeled,
)


def test_manifest_resolves_relative_paths_and_keeps_extra_fields(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        json.dumps({"path": "a.wav", "labels": ["x"], "split": "train", "key": "A minor", "source": "s1"}) + "\n\n"
        + json.dumps({"path": "/abs/b.wav", "split": "test"}) + "\n"
    )
    entries = read_manifest(manifest)
    assert entries[0].path == tmp_path / "a.wav" and entries[0].extra == {"source": "s1"}
    assert entries[0].key_index == 21 and entries[1].key_index == -1 and entries[1].labels == []
    assert [e.split for e in read_manifest(manifest, "test")] == ["test"]
    manifest.write_text("{not json}\n")
    with pytest.raises(ManifestError, match="m.jsonl:1"):
        read_manifest(manifest)


def test_cache_decodes_once_and_records_problems(tmp_path, chord_manifest):
    entries = read_manifest(chord_manifest)[:3]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio at all" * 10)
    entries.append(type(entries[0])(path=broken))
    cache = AudioCache(tmp_path / "cache", 16000)
    problems = cache.build(entries, workers=2)
    assert list(problems) == [str(broken)]
    samples = cache.open(entries[0].path)
    assert samples.dtype == np.int16 and samples.shape[0] == pytest.approx(9 * 16000, abs=200)
    shards = sorted(cache.shards.iterdir())
    stamps = [path.stat().st_mtime_ns for path in shards]
    cache.build(entries[:3])
    assert sorted(cache.shards.iterdir()) == shards  # nothing decoded again
    assert [path.stat().st_mtime_ns for path in shards] == stamps
    assert len(cache.usable(entries)) == 3
    reopened = AudioCache(tmp_path / "cache", 16000)
    np.testing.assert_array_equal(reopened.open(entries[0].path), samples)


def _write_wav(path, samples: np.ndarray, sample_rate: int = 16000) -> None:
    import wave

    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(samples.astype("<i2").tobytes())


def _constant_tracks(folder, count: int, samples: int) -> list:
    """``count`` WAV tracks whose samples all equal the track's number, as manifest entries."""
    from training.data import ManifestEntry

    entries = []
    for index in range(count):
        path = folder / f"t{index:03d}.wav"
        _write_wav(path, np.full(samples, index, dtype=np.int16))
        entries.append(ManifestEntry(path=path))
    return entries


def test_more_tracks_than_open_files_allowed_are_cached_in_a_few_shards(tmp_path):
    """One open file and one memory map per track ran out of file descriptors at ulimit -n tracks."""
    import resource

    entries = _constant_tracks(tmp_path, 300, 800)
    cache = AudioCache(tmp_path / "cache", 16000)
    assert cache.build(entries, workers=2) == {}
    assert len(list(cache.shards.glob("*.pcm"))) == 2  # 300 tracks in 2 shards of at most 256 (one per worker)

    open_now = len(os.listdir("/proc/self/fd"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + 50, hard))  # far fewer than 300 tracks
    try:
        tracks = make_tracks(entries, AudioCache(tmp_path / "cache", 16000), LabelVocabulary([]), with_labels=False)
        values = [int(track.samples[400]) for track in tracks]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert values == list(range(300))


def test_a_cache_of_the_per_track_layout_is_copied_into_shards_without_decoding(tmp_path):
    from training.audio_cache import _cache_name
    from training.data import ManifestEntry

    path = tmp_path / "a.wav"
    _write_wav(path, np.zeros(1600, dtype=np.int16))
    folder = tmp_path / "cache" / "16000"
    folder.mkdir(parents=True)
    legacy = np.arange(500, dtype=np.int16)  # not what decoding a.wav gives: proves the .npy was used
    np.save(folder / _cache_name(path, 16000), legacy)
    cache = AudioCache(tmp_path / "cache", 16000)
    assert cache.build([ManifestEntry(path=path)]) == {}
    np.testing.assert_array_equal(cache.open(path), legacy)


def test_ranks_building_interleaved_parts_make_one_complete_cache(tmp_path):
    entries = _constant_tracks(tmp_path, 7, 400)
    first, second = AudioCache(tmp_path / "cache", 16000), AudioCache(tmp_path / "cache", 16000)
    first.build(entries, workers=1, part=(0, 2))
    assert len(first.usable(entries)) == 4 and not second.usable(entries)
    second.build(entries, workers=1, part=(1, 2))
    assert len(second.usable(entries)) == 7  # its own 3 and the 4 the other part published
    first.refresh()
    assert [int(first.open(entry.path)[0]) for entry in entries] == list(range(7))


def test_views_are_adjacent_windows_with_extra_context():
    samples = np.arange(100, dtype=np.int16)
    views = read_views(samples, views=3, window_samples=20, view_samples=25, start=10) * 32767.0
    np.testing.assert_allclose(views[:, 0], [10, 30, 50])
    np.testing.assert_allclose(views[0], np.arange(10, 35))
    short = read_views(samples[:30], views=2, window_samples=20, view_samples=20, start=0) * 32767.0
    np.testing.assert_allclose(short[1], np.r_[np.arange(20, 30), np.zeros(10)])


def _tracks(count, labeled, classes=3):
    tracks = []
    for index in range(count):
        labels = np.zeros(classes, dtype=np.float32)
        if labeled:
            labels[index % classes] = 1.0
        tracks.append(Track(np.full(400, index, dtype=np.int16), labels, index % 24 if labeled else -1))
    return tracks


def test_composer_puts_labeled_share_first_and_resumes_exactly():
    composer = BatchComposer(_tracks(5, True), _tracks(7, False), 3, 8, 2, 50, 60, labeled_share=0.5, seed=1)
    batch = composer.next_batch()
    assert batch.audio.shape == (8, 2, 60) and batch.labels.shape == (8, 3)
    assert batch.labeled.tolist() == [True] * 4 + [False] * 4
    assert batch.labels[:4].sum(dim=1).tolist() == [1.0] * 4 and batch.labels[4:].abs().sum() == 0
    state = composer.state()
    expected = [composer.next_batch().audio for _ in range(3)]
    resumed = BatchComposer(_tracks(5, True), _tracks(7, False), 3, 8, 2, 50, 60, labeled_share=0.5, seed=99)
    resumed.load_state(json.loads(json.dumps(state)))
    for audio in expected:
        assert np.array_equal(resumed.next_batch().audio.numpy(), audio.numpy())


def test_ranks_split_one_global_batch_whose_labeled_share_is_the_whole_batch_s():
    """b_s = 0.25 of 8 clips on 4 ranks: 2 labeled clips in the global batch, not int(2 * 0.25) = 0 per rank."""
    single = BatchComposer(_tracks(5, True), _tracks(7, False), 3, 8, 2, 50, 60, labeled_share=0.25, seed=4)
    ranks = [BatchComposer(_tracks(5, True), _tracks(7, False), 3, 8, 2, 50, 60, labeled_share=0.25, seed=4,
                           rank=rank, world_size=4) for rank in range(4)]
    for _ in range(3):
        whole = single.next_batch()
        shares = [composer.next_batch() for composer in ranks]
        assert int(whole.labeled.sum()) == 2 == sum(int(share.labeled.sum()) for share in shares)
        for rank, share in enumerate(shares):
            assert share.audio.shape == (2, 2, 60)
            np.testing.assert_array_equal(share.audio.numpy(), whole.audio[rank::4].numpy())
            np.testing.assert_array_equal(share.labels.numpy(), whole.labels[rank::4].numpy())


def test_a_labeled_share_that_rounds_to_no_labeled_clip_is_refused():
    with pytest.raises(LabeledShareError, match="labeled_share 0.05 of data.batch_size 16 rounds to 0"):
        BatchComposer(_tracks(5, True), _tracks(7, False), 3, 16, 2, 50, 60, labeled_share=0.05, seed=1)
    assert BatchComposer(_tracks(5, True), _tracks(7, False), 3, 96, 2, 50, 60, labeled_share=0.05, seed=1).labeled_count == 4


def test_labeled_fraction_demotes_the_rest_and_vocabulary_encodes():
    entries = list(range(10))
    kept, demoted = split_labeled(entries, 0.3, seed=0)
    assert len(kept) == 3 and sorted(kept + demoted) == entries
    vocabulary = LabelVocabulary(["a", "b", "c"])
    assert vocabulary.encode(["c", "a", "zzz"]).tolist() == [1.0, 0.0, 1.0]


def test_cache_names_accept_file_names_that_are_not_utf8(tmp_path):
    import os

    from training.data import _cache_name

    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.wav")
    with open(raw, "wb") as handle:
        handle.write(b"RIFF")
    from pathlib import Path

    name = _cache_name(Path(os.fsdecode(raw)), 16000)
    assert name.endswith(".npy") and len(name) == 44
