"""A tag write changes the field it writes and nothing else the file holds: ID3v2.3 frames mutagen would translate,
the ID3v1 tag, values another tag block carries, a tempo tag in words, and another tagger's edit made meanwhile;
where saving would change other tags, the write is refused and the file left as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct

import pytest
from mutagen.apev2 import APEv2
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TBPM

import audio_factory
from engine import tag_writer
from engine.keys import Key
from engine.tag_writer import write_bpm, write_key

A_MINOR, B_MINOR = Key(9, "minor"), Key(11, "minor")
ID3V1 = (b"TAG" + b"V1 title".ljust(30, b"\0") + b"V1 artist".ljust(30, b"\0") + b"V1 album".ljust(30, b"\0")
         + b"1987" + b"comment".ljust(28, b"\0") + b"\0\x05" + bytes([17]))


def _syncsafe(number: int) -> bytes:
    return bytes([(number >> 21) & 127, (number >> 14) & 127, (number >> 7) & 127, number & 127])


def _frame(frame_id: bytes, data: bytes) -> bytes:
    return frame_id + struct.pack(">IH", len(data), 0) + data


def _with_id3v23(source: str, target: str, frames: list[bytes], id3v1: bytes | None = ID3V1) -> str:
    """``source``'s MPEG audio with an ID3v2.3 tag of ``frames`` written byte by byte (not by mutagen), and
    ``id3v1`` at the end."""
    shutil.copyfile(source, target)
    ID3().delete(target)  # the audio alone
    with open(target, "rb") as handle:
        audio = handle.read()
    body = b"".join(frames) + b"\0" * 64
    with open(target, "wb") as handle:
        handle.write(b"ID3\x03\x00\x00" + _syncsafe(len(body)) + body + audio + (id3v1 or b""))
    return target


V23_FRAMES = [_frame(b"TIT2", b"\0Title"), _frame(b"RVAD", b"\x03\x10\x01\x00\x01\x00\x00\x00\x00\x00"),
              _frame(b"TSIZ", b"\x00123"), _frame(b"TYER", b"\x001999"), _frame(b"TCON", b"\x00(17)Rock & Roll"),
              _frame(b"TXXX", b"\0REPLAYGAIN_TRACK_GAIN\0-7.1 dB")]


@pytest.fixture(scope="module")
def mp3(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("keeps-other-tags")
    return str(audio_factory.write_audio(audio_factory.chord_progression(A_MINOR, 3.0, seed=5), folder / "song.mp3"))


def _sha(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _frames(path: str) -> dict[str, str]:
    tags = ID3(path, translate=False, load_v1=False)
    return {key: repr(frame) for key, frame in tags.items()}


def test_a_key_written_into_an_id3v23_tag_leaves_its_other_frames_and_the_id3v1_tag_as_they_were(mp3, tmp_path):
    path = _with_id3v23(mp3, str(tmp_path / "v23.mp3"), V23_FRAMES)
    before = _frames(path)

    result = write_key(path, B_MINOR)

    assert result.changed, result.problem
    after = _frames(path)
    assert ID3(path).version[:2] == (2, 3)
    assert after.pop("TKEY").endswith("text=['Bm'])")
    assert after == before  # RVAD, TSIZ, TYER and the ReplayGain frame, and TCON's "(17)…" as written
    with open(path, "rb") as handle:
        assert handle.read()[-len(ID3V1):] == ID3V1  # not rebuilt from the ID3v2 frames


def test_a_write_that_would_merge_repeated_id3v23_frames_is_refused_and_the_file_left_alone(mp3, tmp_path):
    repeated = [_frame(b"TXXX", b"\0REPLAYGAIN_TRACK_GAIN\0-9.9 dB"), _frame(b"TKEY", b"\0Am"),
                _frame(b"TKEY", b"\x008A")]
    path = _with_id3v23(mp3, str(tmp_path / "repeated.mp3"), V23_FRAMES + repeated)
    before = _sha(path)

    result = write_bpm(path, 120.0)

    assert not result.changed and "other tags" in result.problem and "TKEY" in result.problem
    assert _sha(path) == before


def test_a_key_or_tempo_the_library_reads_from_an_apev2_tag_is_kept_without_overwrite(mp3, tmp_path):
    path = str(tmp_path / "ape.mp3")
    shutil.copyfile(mp3, path)
    ID3().delete(path)
    ape = APEv2()
    ape["Key"], ape["BPM"] = "Dm", "140"
    ape.save(path)
    before = _sha(path)

    key, bpm = write_key(path, B_MINOR), write_bpm(path, 120.0)

    assert (key.changed, key.kept) == (False, {"key": ["Dm"]})
    assert (bpm.changed, bpm.kept) == (False, {"bpm": ["140"]})
    assert _sha(path) == before
    assert write_key(path, B_MINOR, overwrite=True).changed


@pytest.mark.parametrize(("existing", "kept"), [("fast", True), ("1200", True), ("0", False)])
def test_a_tempo_tag_in_words_is_kept_and_only_a_zero_tempo_counts_as_none(mp3, tmp_path, existing, kept):
    path = str(tmp_path / "tempo.mp3")
    shutil.copyfile(mp3, path)
    tags = ID3()
    tags.add(TBPM(encoding=3, text=[existing]))
    tags.save(path)

    result = write_bpm(path, 120.0)

    assert result.changed is not kept
    assert ID3(path)["TBPM"].text == ([existing] if kept else ["120"])


def test_another_taggers_edit_that_keeps_the_size_and_the_modification_time_is_not_overwritten(tmp_path,
                                                                                                monkeypatch):
    """Taggers with "preserve modification time" edit in place (FLAC padding absorbs the tag: same size) and put the
    old mtime back; only the change time tells."""
    path = str(audio_factory.write_audio(audio_factory.chord_progression(A_MINOR, 3.0, seed=5), tmp_path / "s.flac"))
    real_verify = tag_writer._verify

    def verify_while_a_tagger_saves_in_place(copy, *checks):
        state = os.stat(path)
        tags = FLAC(path)
        tags["COMMENT"] = "edited meanwhile"
        tags.save()
        os.utime(path, ns=(state.st_atime_ns, state.st_mtime_ns))
        assert os.stat(path).st_size == state.st_size
        real_verify(copy, *checks)

    monkeypatch.setattr(tag_writer, "_verify", verify_while_a_tagger_saves_in_place)
    result = write_key(path, B_MINOR)

    assert not result.changed and "changed while writing" in result.problem
    assert FLAC(path)["COMMENT"] == ["edited meanwhile"] and "INITIALKEY" not in FLAC(path)


def test_a_wav_streamed_with_no_size_is_refused_in_words_and_left_alone(tmp_path):
    """FFmpeg and recorders writing to a pipe put 2^32 - 1 in the RIFF and data sizes; the new tags cannot be
    added to such a header (mutagen's struct error was the message)."""
    path = str(audio_factory.write_audio(audio_factory.chord_progression(A_MINOR, 3.0, seed=5), tmp_path / "s.wav"))
    with open(path, "rb") as handle:
        header = bytearray(handle.read())
    data = header.find(b"data")
    header[4:8] = header[data + 4:data + 8] = b"\xff\xff\xff\xff"
    with open(path, "wb") as handle:
        handle.write(header)
    before = _sha(path)

    result = write_key(path, B_MINOR)

    assert not result.changed and "written as a stream" in result.problem
    assert _sha(path) == before


def test_a_wavs_first_id3_chunk_carries_its_info_title_and_artist(tmp_path):
    """A WAV tagged in LIST/INFO (DAWs, recorders, Windows) got an ID3 chunk holding the key alone: a reader that
    takes the ID3 chunk alone when there is one lost the title and artist. The INFO chunk stays as it was."""
    import subprocess

    import mutagen

    from engine.metadata import read_metadata
    from engine.riff_info import riff_info_fields
    from engine.tag_writer import write_key

    source = audio_factory.write_audio(audio_factory.chord_progression(Key(9, "minor"), 3.0), tmp_path / "s.wav")
    path = tmp_path / "info.wav"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-metadata", "title=Info Title",
                    "-metadata", "artist=Info Artist", "-metadata", "date=12/05/2003", "-c:a", "pcm_s16le", str(path)],
                   check=True)
    info_before, year_before = riff_info_fields(str(path)), read_metadata(str(path)).year
    assert write_key(path, Key(9, "minor")).written
    tags = mutagen.File(str(path)).tags
    assert str(tags["TIT2"]) == "Info Title" and str(tags["TPE1"]) == "Info Artist" and str(tags["TKEY"]) == "Am"
    assert riff_info_fields(str(path)) == info_before
    metadata = read_metadata(str(path))
    assert (metadata.title, metadata.artist, metadata.key) == ("Info Title", "Info Artist", "Am")
    assert year_before == metadata.year == 2003 and "TDRC" not in tags  # not an ID3 date: INFO's is read, as before
