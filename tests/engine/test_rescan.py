"""What a re-run of ``index`` does with a file whose bytes or modification time changed in place.

The product's rule: a file is unchanged when its size and mtime are what the library recorded, the way
rsync, make and other players decide it, so a rescan costs one stat per file. Hence:
- an edit that keeps the size (a WAV whose samples change) but moves the mtime is re-analysed, even when
  the three-block quick hash cannot see it;
- a touch (new mtime, same bytes) is re-analysed too: only reading the whole file could tell it from an
  edit. It keeps its track id, and its analysis comes out the same;
- an edit whose mtime is put back (``touch -r``, a tag editor that "preserves the file time") is not
  seen; the old analysis stays until the mtime moves again.
"""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

import audio_factory
from engine.keys import Key
from engine.library import Library
from engine.scan import HASH_BLOCK_BYTES, quick_hash

TRACK_SECONDS = 8.0  # long enough that bytes after the first hashed block lie before the middle one
EDIT_START = HASH_BLOCK_BYTES + 4096  # frame-aligned (4-byte stereo 16-bit frames), after the header
EDIT_BYTES = 32 * 1024
ONE_SECOND_NS = 1_000_000_000


@pytest.fixture
def rescanned(model_dir, tmp_path):
    """A folder of three WAVs indexed once; yields (library, the WAV the tests change, its track id)."""
    folder = tmp_path / "music"
    folder.mkdir()
    paths = [audio_factory.write_audio(audio_factory.chord_progression(Key(number * 5 % 12, "major"), TRACK_SECONDS,
                                                                       seed=40 + number), folder / f"take{number}.wav")
             for number in range(3)]
    with Library(tmp_path / "lib.db", model_dir) as library:
        first = library.index([folder], workers=0)
        assert first.added == 3
        yield library, paths[0], library.store.track_id_for_path(str(paths[0]))


def stored_embedding(library: Library, track_id: int) -> np.ndarray:
    with sqlite3.connect(library.db_path) as connection:
        (blob,) = connection.execute("SELECT embedding FROM analyses WHERE track_id = ?", (track_id,)).fetchone()
    return np.frombuffer(blob, dtype=np.float32)


def replace_samples_in_place(path, tmp_path) -> None:
    """Overwrite some of the WAV's sample bytes (between the hashed blocks) with another chord's: same size."""
    other = audio_factory.write_audio(audio_factory.chord_progression(Key(6, "minor"), TRACK_SECONDS, seed=99),
                                      tmp_path / "other.wav")
    replacement = other.read_bytes()[EDIT_START:EDIT_START + EDIT_BYTES]
    with open(path, "r+b") as handle:
        handle.seek(EDIT_START)
        handle.write(replacement)


def move_mtime(path, delta_ns: int) -> int:
    info = os.stat(path)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + delta_ns))
    return info.st_mtime_ns


def test_a_same_size_edit_with_a_new_mtime_is_reanalysed(rescanned, tmp_path):
    library, path, track_id = rescanned
    size, digest, before = os.path.getsize(path), quick_hash(str(path), os.path.getsize(path)), stored_embedding(library, track_id)
    replace_samples_in_place(path, tmp_path)
    move_mtime(path, ONE_SECOND_NS)
    assert os.path.getsize(path) == size and quick_hash(str(path), size) == digest  # only the mtime tells
    report = library.index(workers=0)
    assert (report.updated, report.analysed, report.unchanged, report.added) == (1, 1, 2, 0)
    assert library.store.track_id_for_path(str(path)) == track_id
    after = stored_embedding(library, track_id)
    np.testing.assert_allclose(after, library.analyze_file(path).embedding, atol=1e-5)
    assert not np.allclose(after, before, atol=1e-4)
    assert library.index(workers=0).unchanged == 3


def test_a_touch_without_a_change_is_reanalysed_to_the_same_result(rescanned):
    library, path, track_id = rescanned
    before = stored_embedding(library, track_id)
    move_mtime(path, ONE_SECOND_NS)
    report = library.index(workers=0)
    assert (report.updated, report.analysed, report.unchanged, report.added, report.removed) == (1, 1, 2, 0, 0)
    assert library.store.track_id_for_path(str(path)) == track_id
    np.testing.assert_allclose(stored_embedding(library, track_id), before, atol=1e-6)
    assert library.index(workers=0).unchanged == 3


def test_an_edit_with_its_mtime_restored_is_not_seen_until_the_mtime_moves(rescanned, tmp_path):
    library, path, track_id = rescanned
    before = stored_embedding(library, track_id)
    original_mtime = os.stat(path).st_mtime_ns
    replace_samples_in_place(path, tmp_path)
    os.utime(path, ns=(os.stat(path).st_atime_ns, original_mtime))
    report = library.index(workers=0)
    assert (report.unchanged, report.analysed) == (3, 0)
    np.testing.assert_array_equal(stored_embedding(library, track_id), before)
    move_mtime(path, ONE_SECOND_NS)
    report = library.index(workers=0)
    assert (report.updated, report.analysed) == (1, 1)
    np.testing.assert_allclose(stored_embedding(library, track_id), library.analyze_file(path).embedding, atol=1e-5)
