"""Decoding: seek-based windows match a whole decode, and cut-off Ogg / Opus / WAV files count as truncated."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import audio_factory
from engine.audio import AudioDecodeError, decode_mono, probe, read_windows
from engine.keys import key_from_index
from engine.landmarks import Landmarks, landmarks
from engine.library import Library
from engine.truncation import ogg_truncation, wav_truncation

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 43200
TRACK_SECONDS = 40.0


@pytest.fixture(scope="module")
def full_tracks(tmp_path_factory) -> dict[str, Path]:
    """A complete 40 s track in each format whose container states the length of what is present."""
    folder = tmp_path_factory.mktemp("full")
    samples = audio_factory.chord_progression(key_from_index(4), TRACK_SECONDS, seed=5)
    return {extension: audio_factory.write_audio(samples, folder / f"full.{extension}")
            for extension in ("ogg", "opus", "wav", "mp3")}


@pytest.mark.parametrize("extension", ["ogg", "opus", "wav", "mp3"])
def test_seek_windows_match_the_same_span_of_a_whole_decode(full_tracks, extension):
    path = full_tracks[extension]
    windows = read_windows(path, SAMPLE_RATE, WINDOW_SAMPLES, 6)
    whole = decode_mono(path, SAMPLE_RATE)
    assert windows.windows.shape == (6, WINDOW_SAMPLES)
    for window, start in zip(windows.windows, windows.start_seconds):
        offset = int(round(start * SAMPLE_RATE))
        reference = whole[offset : offset + WINDOW_SAMPLES]
        assert np.corrcoef(window[1000:], reference[1000:])[0, 1] > 0.99


@pytest.mark.parametrize("extension", ["wma", "ogg", "opus", "mp3"])
@pytest.mark.parametrize("start", [0.5, 1.0, 2.0])
def test_a_span_near_the_start_of_a_short_file_is_the_right_audio(tmp_path, extension, start):
    """A seek into the first seconds may land late (Ogg pages, a 6 s WMA); the retry from before 0 s must rewind,
    not decode on from where the first try stopped (which gave short audio, or "End of file" for the WMA). The
    span must be full length and the same audio as a whole decode (up to the ~0.1 s that codec priming shifts)."""
    samples = audio_factory.chord_progression(key_from_index(7), 6.0, seed=2)
    path = audio_factory.write_audio(samples, tmp_path / f"short.{extension}")
    whole = decode_mono(path, SAMPLE_RATE)
    span = decode_mono(path, SAMPLE_RATE, start, 3.0)
    assert span.shape == (3 * SAMPLE_RATE,)
    offset = int(start * SAMPLE_RATE)
    start_at = offset + 2000  # skip what an MP3 decoder rebuilds after a seek (its bit reservoir), as windows do
    best = max(np.corrcoef(span[2000:10000], whole[start_at + lag : start_at + lag + 8000])[0, 1]
               for lag in range(-1800, 1801))
    assert best > 0.99


@pytest.mark.parametrize("extension", ["ogg", "opus", "wav"])
def test_complete_ogg_opus_and_wav_files_are_not_truncated(full_tracks, extension):
    assert read_windows(full_tracks[extension], SAMPLE_RATE, WINDOW_SAMPLES, 6).duration_seconds > 39


@pytest.mark.parametrize("extension", ["ogg", "opus", "wav"])
def test_truncated_ogg_opus_and_wav_files_raise_truncated(full_tracks, tmp_path, extension):
    cut = audio_factory.make_truncated(full_tracks[extension], tmp_path / f"cut.{extension}", keep_share=0.5)
    with pytest.raises(AudioDecodeError, match="truncated"):
        read_windows(cut, SAMPLE_RATE, WINDOW_SAMPLES, 6)


def test_ogg_cut_at_a_page_boundary_has_no_end_of_stream_page(full_tracks, tmp_path):
    data = full_tracks["ogg"].read_bytes()
    last_page = data.rfind(b"OggS", 0, len(data) // 2)  # some page in the middle: cut right before it
    cut = tmp_path / "cut-at-page.ogg"
    cut.write_bytes(data[:last_page])
    assert ogg_truncation(cut) == "truncated: the Ogg stream has no end-of-stream page"
    assert ogg_truncation(full_tracks["ogg"]) is None


@pytest.mark.parametrize("kept_bytes", [1, 2, 10, 30])
def test_ogg_cut_inside_a_page_header_is_truncated(full_tracks, tmp_path, kept_bytes):
    data = full_tracks["opus"].read_bytes()
    page = data.rfind(b"OggS", 0, len(data) // 2)
    cut = tmp_path / "cut-in-header.opus"
    cut.write_bytes(data[: page + kept_bytes])
    assert ogg_truncation(cut) == "truncated: the Ogg stream ends inside a page"


def test_wav_with_unknown_data_size_is_not_truncated(full_tracks, tmp_path):
    """Streamed WAVs (written to a pipe) leave the sizes at 0xFFFFFFFF; that is not a truncation."""
    data = bytearray(full_tracks["wav"].read_bytes())
    data_chunk = data.find(b"data")
    data[data_chunk + 4 : data_chunk + 8] = struct.pack("<I", 0xFFFFFFFF)
    streamed = tmp_path / "streamed.wav"
    streamed.write_bytes(bytes(data[: len(data) // 2]))
    assert wav_truncation(streamed) is None


def test_truncated_ogg_opus_and_wav_are_recorded_as_problems(full_tracks, model_dir, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    for extension in ("ogg", "opus", "wav"):
        audio_factory.make_truncated(full_tracks[extension], folder / f"cut.{extension}", keep_share=0.6)
    (folder / "complete.ogg").write_bytes(full_tracks["ogg"].read_bytes())
    with Library(tmp_path / "library.db", model_dir) as library:
        report = library.index([folder], workers=0)
        reasons = {Path(problem.path).name: problem.reason for problem in library.problems()}
    assert report.added == 1
    assert set(reasons) == {"cut.ogg", "cut.opus", "cut.wav"}
    assert all(reason.startswith("truncated") for reason in reasons.values())


def test_a_track_the_tempo_takes_whole_is_decoded_once_for_windows_tempo_and_landmarks(tmp_path, monkeypatch):
    """A 25 s track (long enough for spread windows, shorter than the tempo's 30 s span): one whole decode serves
    its windows, tempo and landmarks; the tempo is the one a decode of its own gives, and the landmarks are those
    of its spread windows (as when they were found by seeking), not of the whole track."""
    import rhythm_factory
    from engine import audio
    from engine.decoding import DecodeJob, decode_job
    from engine.tempo_audio import file_tempo

    path = audio_factory.write_audio(rhythm_factory.drum_groove(120.0, 25.0, seed=1), tmp_path / "groove.mp3")
    decoded_spans = []
    decode_span = audio._decode_span
    monkeypatch.setattr(audio, "_decode_span", lambda container, stream, rate, start, count:
                        decoded_spans.append((start, count)) or decode_span(container, stream, rate, start, count))
    info = path.stat()
    outcome = decode_job(DecodeJob(str(path), info.st_size, info.st_mtime_ns, "", None, SAMPLE_RATE, WINDOW_SAMPLES, 6))
    assert decoded_spans == [(0.0, None)]
    assert outcome.windows.shape == (6, WINDOW_SAMPLES)
    monkeypatch.setattr(audio, "_decode_span", decode_span)
    assert outcome.tempo == file_tempo(path, SAMPLE_RATE)
    windows = read_windows(path, SAMPLE_RATE, WINDOW_SAMPLES, 6)
    assert windows.whole is None and windows.decoded is not None
    of_windows = Landmarks.concatenate([landmarks(window, SAMPLE_RATE, start)
                                        for window, start in zip(windows.windows, windows.start_seconds)])
    np.testing.assert_array_equal(outcome.landmarks.hashes, of_windows.hashes)


def _quiet_start_groove() -> np.ndarray:
    """40 s: 4 s of digital silence (the lowest bitrate a variable-bitrate encoder has), then a 120 BPM groove."""
    import rhythm_factory

    rate = audio_factory.SAMPLE_RATE
    groove = rhythm_factory.drum_groove(120.0, 36.0, seed=2, sample_rate=rate)
    groove = groove + audio_factory.noise(36.0, seed=3, sample_rate=rate, amplitude=0.02)
    return np.concatenate([np.zeros(4 * rate, dtype=np.float32), groove]).astype(np.float32)


def _mp3(samples: np.ndarray, path: Path, *options: str, codec: str = "libmp3lame") -> Path:
    import subprocess

    source = audio_factory.write_audio(samples, path.with_suffix(".wav"))
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-c:a", codec,
                    *options, str(path)], check=True)
    return path


def _guessed_length(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base)


def test_an_mp3_without_a_length_header_is_measured_not_called_truncated(tmp_path):
    """FFmpeg guesses such a file's length (and a raw ADTS AAC file's) from its first frame's bitrate: a quiet start makes a 40 s file look
    minutes long. Its length is measured instead, so it is neither truncated nor missing its middle; the library
    stores the measured length (mutagen guesses too)."""
    from engine.decoding import DecodeJob, decode_job
    from engine.mp3_length import header_seconds
    from engine.tempo_audio import file_tempo

    variable = _mp3(_quiet_start_groove(), tmp_path / "variable.mp3", "-q:a", "0", "-write_xing", "0")
    constant = _mp3(_quiet_start_groove(), tmp_path / "constant.mp3", "-b:a", "128k", "-write_xing", "0")
    audio_factory.write_tags(variable, title="tagged")  # an ID3v2 tag before the first frame
    assert header_seconds(variable) is None and header_seconds(constant) is None
    adts = _mp3(_quiet_start_groove(), tmp_path / "raw.aac", "-f", "adts", codec="aac")  # no length anywhere
    assert _guessed_length(variable) > 300 and _guessed_length(adts) > 300
    for path in (variable, constant, adts):
        assert probe(path).duration_seconds == pytest.approx(40.0, abs=0.2)
        assert read_windows(path, 16_000, 43_200, 6).windows.shape == (6, 43_200)
        assert abs(file_tempo(path).bpm / 120.0 - 1.0) <= 0.01
    outcome = decode_job(DecodeJob(str(variable), 1, 1, "", None, 16_000, 43_200, 6))
    assert outcome.reason is None and outcome.metadata.duration == pytest.approx(40.0, abs=0.2)


def _with_ape_cover(path: Path) -> Path:
    from mutagen.apev2 import BINARY, APEv2, APEValue

    tags = APEv2()
    tags["Cover Art (Front)"] = APEValue(b"cover.jpg\x00" + bytes(range(256)) * 400, BINARY)  # 100 KB
    tags.save(str(path))
    return path


def _with_junk_before_the_first_frame(path: Path, target: Path, junk: int) -> Path:
    data = path.read_bytes()
    target.write_bytes(bytes(junk) + data)
    return target


def test_an_mp3_whose_length_header_ffmpeg_ignores_keeps_the_headers_length(tmp_path):
    """An APEv2 tag with a cover at the end, or junk before the first frame, makes FFmpeg ignore the file's
    frame-count header and guess (a 40 s file stated as minutes). The header's length is used instead: the complete
    file is no problem, and a cut-off copy is still truncated against it."""
    from engine.mp3_length import header_seconds

    headed = _mp3(_quiet_start_groove(), tmp_path / "headed.mp3", "-q:a", "0")
    assert header_seconds(headed) == pytest.approx(40.0, abs=0.2)
    covered = _with_ape_cover(_mp3(_quiet_start_groove(), tmp_path / "covered.mp3", "-q:a", "0"))
    junk = _with_junk_before_the_first_frame(headed, tmp_path / "junk.mp3", 6000)
    for path in (covered, junk):
        assert _guessed_length(path) > 100
        assert probe(path).duration_seconds == pytest.approx(40.0, abs=0.2)
        assert read_windows(path, 16_000, 43_200, 6).windows.shape == (6, 43_200)
    cut = audio_factory.make_truncated(junk, tmp_path / "cut.mp3", keep_share=0.7)
    with pytest.raises(AudioDecodeError, match="truncated"):
        read_windows(cut, 16_000, 43_200, 6)
    full = audio_factory.make_truncated(headed, tmp_path / "headed_cut.mp3", keep_share=0.7)
    with pytest.raises(AudioDecodeError, match="truncated"):
        read_windows(full, 16_000, 43_200, 6)


def test_an_empty_file_and_damaged_audio_data_are_named_plainly(tmp_path):
    """A problem's reason is read by people: "empty file", and FFmpeg's complaint without its error number and the
    call that failed ("[Errno 1094995529] Invalid data found when processing input: 'avcodec_send_packet()'")."""
    with pytest.raises(AudioDecodeError, match=r"empty file \(0 bytes\)"):
        probe(audio_factory.make_zero_byte(tmp_path / "empty.mp3"))
    whole = audio_factory.write_audio(audio_factory.tone(440.0, 10.0), tmp_path / "tone.flac")
    damaged = bytearray(whole.read_bytes())
    for offset in range(8000, len(damaged), 97):
        damaged[offset] ^= 0xFF
    (tmp_path / "damaged.flac").write_bytes(bytes(damaged))
    with pytest.raises(AudioDecodeError) as raised:
        decode_mono(tmp_path / "damaged.flac", 16000)
    assert "damaged audio data" in str(raised.value)
    assert "Errno" not in str(raised.value) and "avcodec" not in str(raised.value)
