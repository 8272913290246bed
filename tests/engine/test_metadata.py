"""Tags and stream facts are read from every tag family (ID3, Vorbis comments, MP4 atoms, ASF)."""

from __future__ import annotations

import pytest

import audio_factory
from engine.keys import Key
from engine.metadata import read_metadata

TAGS = {"title": "Blue Train", "artist": "Coltrane", "album": "Blue Train", "genre": "jazz", "date": "1957",
        "tracknumber": "1", "bpm": "120", "initialkey": "Am"}


@pytest.fixture(scope="module")
def two_seconds():
    return audio_factory.chord_progression(Key(9, "minor"), 2.0, seed=3)


@pytest.mark.parametrize("extension", sorted(audio_factory.FORMATS))
def test_tags_and_stream_facts_are_read_in_every_format(extension, two_seconds, tmp_path):
    path = audio_factory.write_audio(two_seconds, tmp_path / f"song.{extension}")
    audio_factory.write_tags(path, **TAGS)
    metadata = read_metadata(str(path))
    assert (metadata.title, metadata.artist, metadata.album, metadata.genre) == ("Blue Train", "Coltrane",
                                                                                 "Blue Train", "jazz")
    assert (metadata.year, metadata.track_number, metadata.bpm, metadata.key) == (1957, 1, 120.0, "Am")
    assert metadata.duration == pytest.approx(2.0, abs=0.2)
    assert metadata.bitrate and metadata.bitrate > 0


def test_unreadable_tags_give_empty_metadata(tmp_path):
    garbage = audio_factory.make_random_bytes(tmp_path / "noise.mp3")
    assert read_metadata(str(garbage)).title is None


@pytest.mark.parametrize("written, read", [("128.5", 128.5), ("inf", None), ("1e400", None), ("999999", None),
                                           ("nan", None), ("-5", None), ("0", None), ("abc", None)])
def test_a_bpm_tag_no_music_has_is_no_tempo(two_seconds, tmp_path, written, read):
    """An infinite or absurd BPM tag would match every tempo filter as a half or double of anything."""
    path = audio_factory.write_audio(two_seconds, tmp_path / "song.flac")
    audio_factory.write_tags(path, bpm=written)
    assert read_metadata(str(path)).bpm == read
