"""Legitimate files collectors own that FFmpeg describes oddly: written to a pipe (no length stated), a Matroska
video whose picture outlasts its sound, audiobook and broadcast extensions, a file indexed by name whose extension
a folder walk does not list, BPM tags as people type them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import audio_factory
from engine.audio import probe, read_windows
from engine.keys import Key
from engine.library import Library
from engine.metadata import read_metadata, tag_bpm
from engine.tag_writer import write_bpm

RATE, WINDOW = 16000, 43200


def _piped(samples: np.ndarray, path: Path, container: str, codec: list[str]) -> Path:
    """Encode through a pipe, as a stream rip or `ffmpeg ... | cat` leaves it: no length in the header."""
    encoded = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "f32le", "-ar", "22050", "-ac", "1",
                              "-i", "pipe:0", *codec, "-f", container, "pipe:1"],
                             input=samples.astype("<f4").tobytes(), capture_output=True, check=True).stdout
    path.write_bytes(encoded)
    return path


@pytest.mark.parametrize("container, codec, suffix", [("flac", ["-c:a", "flac"], ".flac"),
                                                      ("matroska", ["-c:a", "libopus"], ".mka")])
def test_a_long_file_written_to_a_pipe_is_sought_like_any_other_not_held_whole(tmp_path, container, codec, suffix):
    music = audio_factory.chord_progression(Key(9, "minor"), 150.0, sample_rate=22050, seed=3)
    piped = _piped(music, tmp_path / f"piped{suffix}", container, codec)
    stated = tmp_path / f"stated{suffix}"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(piped), "-c", "copy", str(stated)],
                   check=True)
    assert probe(piped).duration_seconds == pytest.approx(150.0, abs=0.1)
    sought, reference = read_windows(piped, RATE, WINDOW, 6), read_windows(stated, RATE, WINDOW, 6)
    assert sought.whole is None and sought.decoded is None  # two and a half minutes were never held in memory
    assert sought.start_seconds == pytest.approx(reference.start_seconds, abs=0.01)
    if container == "flac":  # sample-exact seeking: the same samples
        assert np.abs(sought.windows - reference.windows).max() < 1e-4
    else:  # Opus: the remuxed copy's start differs by its pre-skip (~1 ms): the same music, a few samples apart
        assert np.sqrt((sought.windows ** 2).mean(axis=1)) == pytest.approx(
            np.sqrt((reference.windows ** 2).mean(axis=1)), rel=0.05)


def test_a_matroska_video_longer_than_its_sound_is_not_called_truncated(tmp_path):
    sound = audio_factory.write_audio(audio_factory.chord_progression(Key(2, "major"), 20.0, seed=5),
                                      tmp_path / "sound.wav")
    video = tmp_path / "clip.mkv"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=5:duration=30", "-i", str(sound), "-c:v", "libx264", "-preset",
                    "ultrafast", "-c:a", "flac", str(video)], check=True)
    assert probe(video).duration_seconds == pytest.approx(20.0, abs=0.1)  # the sound's length, not the picture's
    assert read_windows(video, RATE, WINDOW, 6).duration_seconds == pytest.approx(20.0, abs=0.1)


def test_audiobook_broadcast_and_apple_files_are_scanned_and_a_file_indexed_by_name_stays(tmp_path, model_dir):
    folder = tmp_path / "music"
    folder.mkdir()
    source = audio_factory.write_audio(audio_factory.chord_progression(Key(0, "major"), 8.0, seed=2), tmp_path / "s.wav")
    for name, codec in (("chapter.m4b", ["-c:a", "aac", "-f", "mp4"]), ("news.mp2", ["-c:a", "mp2"]),
                        ("apple.caf", ["-c:a", "alac", "-f", "caf"]), ("big.w64", ["-f", "w64"])):
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(source), *codec, str(folder / name)],
                       check=True)
    odd = folder / "take.flacx"  # an extension no folder walk lists: indexed by name, on purpose
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(source), "-c:a", "flac", "-f", "flac",
                    str(odd)], check=True)
    with Library(tmp_path / "lib.db", model_dir) as library:
        assert library.index([folder], workers=0).added == 4
        assert library.index([odd], workers=0).added == 1
        again = library.index(workers=0)
        assert (again.removed, again.added) == (0, 0) and library.track_count() == 5
        odd.unlink()
        assert library.index(workers=0).removed == 1  # gone for real: it goes


def test_bpm_tags_are_read_as_written_and_a_zero_tempo_tag_is_no_tempo_to_keep(tmp_path):
    assert [tag_bpm(text) for text in ("128 BPM", "127,5", " 96bpm ", "0", "1,234.5", "fast")] == \
        [128.0, 127.5, 96.0, None, None, None]
    song = audio_factory.write_audio(audio_factory.chord_progression(Key(7, "major"), 4.0, seed=1), tmp_path / "s.mp3")
    audio_factory.write_tags(song, bpm="0")
    assert read_metadata(str(song)).bpm is None
    result = write_bpm(song, 121.6)  # no --overwrite: "0" held no tempo
    assert result.written and read_metadata(str(song)).bpm == 122.0


def test_ape_tags_on_an_mp3_and_info_tags_in_a_wav_are_read(tmp_path):
    """Second tag blocks mutagen's reader of the format skips: APEv2 (foobar2000, old rips) on an MP3 without ID3,
    and a WAV's LIST/INFO chunk (DAWs, recorders, Windows), Latin-1 text included; ID3 still comes first."""
    from mutagen.apev2 import APEv2

    music = audio_factory.chord_progression(Key(9, "minor"), 3.0, seed=6)
    mp3 = tmp_path / "rip.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "f32le", "-ar", "22050", "-ac", "1", "-i",
                    "pipe:0", "-c:a", "libmp3lame", "-id3v2_version", "0", "-write_id3v1", "0", str(mp3)],
                   input=music.astype("<f4").tobytes(), check=True)
    ape = APEv2()
    ape["Title"], ape["Artist"], ape["BPM"], ape["Key"] = "Ape Title", "Ape Artist", "120", "Am"
    ape.save(mp3)
    found = read_metadata(str(mp3))
    assert (found.title, found.artist, found.bpm, found.key) == ("Ape Title", "Ape Artist", 120.0, "Am")
    audio_factory.write_tags(mp3, title="Id3 Title")  # ID3 is the product's own block: it wins where both say
    assert (read_metadata(str(mp3)).title, read_metadata(str(mp3)).artist) == ("Id3 Title", "Ape Artist")

    wav = audio_factory.write_audio(music, tmp_path / "take.wav")
    info = b"INFO" + b"INAM" + (8).to_bytes(4, "little") + b"Caf\xe9 1\0\0" + \
        b"IART" + (6).to_bytes(4, "little") + b"Studio" + b"IPRD" + (5).to_bytes(4, "little") + b"Demos\0"
    with open(wav, "ab") as handle:
        handle.write(b"LIST" + len(info).to_bytes(4, "little") + info)
    data = bytearray(wav.read_bytes())
    data[4:8] = (len(data) - 8).to_bytes(4, "little")  # the RIFF size covers the new chunk
    wav.write_bytes(bytes(data))
    found = read_metadata(str(wav))
    assert (found.title, found.artist, found.album) == ("Caf\u00e9 1", "Studio", "Demos")


def test_a_tempo_written_rounds_halves_up_as_dj_software_does(tmp_path):
    song = audio_factory.write_audio(audio_factory.chord_progression(Key(0, "major"), 3.0), tmp_path / "song.flac")
    written = []
    for bpm in (126.5, 127.5, 123.98, 99.49):
        result = write_bpm(song, bpm, overwrite=True)
        assert result.problem is None
        written.append(read_metadata(str(song)).bpm)
    assert written == [127.0, 128.0, 124.0, 99.0]  # Python's round() gave 126 for 126.5 (halves to even)


def test_a_path_a_player_may_break_into_two_lines_is_left_out_of_a_playlist():
    """NEL and the line and paragraph separators pass a byte check but split the line for a reader that honours
    Unicode line breaks; a path with one cannot be one M3U8 line."""
    from engine.playlist import fits_one_line

    class Track:
        def __init__(self, path: str) -> None:
            self.path = path

    assert fits_one_line(Track("/music/Ça va.mp3"))
    for breaker in ("\u2028", "\u2029", "\u0085"):
        assert not fits_one_line(Track(f"/music/Line{breaker}Sep.mp3"))
