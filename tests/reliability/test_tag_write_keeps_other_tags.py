"""Writing a key keeps everything else a file carries: its title, artist and embedded cover come back byte for
byte and the decoded audio is unchanged, in every format that holds a cover (issue 13: "tag writing never lost
a tag or cover"). Tags and covers are put in and read back with mutagen, per format, independently of the
engine's own tag code."""

from __future__ import annotations

import base64
import os

import mutagen
import pytest
from mutagen.flac import Picture
from mutagen.id3 import APIC, TIT2, TPE1
from mutagen.mp4 import MP4Cover

import audio_factory
from engine.audio import decoded_audio_digest
from engine.keys import Key
from engine.tag_writer import write_key

COVER = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # PNG magic and 2 KB of every byte value
TITLE, ARTIST = "Títle ☂ 1", "Ärtist"
ID3_FORMATS, VORBIS_FORMATS = ("mp3", "wav", "aiff"), ("ogg", "opus")
COVER_FORMATS = (*ID3_FORMATS, "flac", *VORBIS_FORMATS, "m4a")
SECONDS = 3.0


def _picture() -> Picture:
    picture = Picture()
    picture.type, picture.mime, picture.desc, picture.data = 3, "image/png", "front", COVER
    return picture


def _add_title_artist_cover(path: str, extension: str) -> None:
    audio = mutagen.File(path)
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    if extension in ID3_FORMATS:
        tags.add(TIT2(encoding=3, text=[TITLE]))
        tags.add(TPE1(encoding=3, text=[ARTIST]))
        tags.add(APIC(encoding=3, mime="image/png", type=3, desc="front", data=COVER))
    elif extension == "flac":
        tags["title"], tags["artist"] = [TITLE], [ARTIST]
        audio.add_picture(_picture())
    elif extension in VORBIS_FORMATS:
        tags["title"], tags["artist"] = [TITLE], [ARTIST]
        tags["metadata_block_picture"] = [base64.b64encode(_picture().write()).decode("ascii")]
    else:
        tags["\xa9nam"], tags["\xa9ART"] = [TITLE], [ARTIST]
        tags["covr"] = [MP4Cover(COVER, imageformat=MP4Cover.FORMAT_PNG)]
    audio.save()


def _title_artist_covers(path: str, extension: str) -> tuple[list[str], list[str], list[bytes]]:
    audio = mutagen.File(path)
    tags = audio.tags
    if extension in ID3_FORMATS:
        return (list(map(str, tags["TIT2"].text)), list(map(str, tags["TPE1"].text)),
                [frame.data for frame in tags.getall("APIC")])
    if extension == "flac":
        return tags["title"], tags["artist"], [picture.data for picture in audio.pictures]
    if extension in VORBIS_FORMATS:
        covers = [Picture(base64.b64decode(text)).data for text in tags.get("metadata_block_picture", [])]
        return tags["title"], tags["artist"], covers
    return tags["\xa9nam"], tags["\xa9ART"], [bytes(cover) for cover in tags.get("covr", [])]


@pytest.mark.parametrize("extension", COVER_FORMATS)
def test_writing_a_key_keeps_title_artist_cover_and_audio(extension, tmp_path):
    samples = audio_factory.chord_progression(Key(2, "major"), SECONDS, seed=5)
    path = os.fspath(audio_factory.write_audio(samples, tmp_path / f"song.{extension}"))
    _add_title_artist_cover(path, extension)
    before = _title_artist_covers(path, extension)
    assert before == ([TITLE], [ARTIST], [COVER])  # what the file holds before the write
    audio_before = decoded_audio_digest(path)

    result = write_key(path, Key(2, "major"), "standard")

    assert result.problem is None and result.changed
    assert _title_artist_covers(path, extension) == before
    assert decoded_audio_digest(path) == audio_before
