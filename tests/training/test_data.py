"""Manifests, the decoded-audio cache and the labeled/unlabeled batch composer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.data import (
    AudioCache, BatchComposer, LabelVocabulary, ManifestError, Track, read_manifest, read_views, split_labeled,
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
    stamp = cache.file_for(entries[0].path).stat().st_mtime_ns
    cache.build(entries[:3])
    assert cache.file_for(entries[0].path).stat().st_mtime_ns == stamp  # kept, not decoded again
    assert len(cache.usable(entries)) == 3


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
