"""Files that play but are not clean: samples that are not numbers, a damaged stretch inside an MP3, a VBR MP3
whose length FFmpeg guesses short, a file whose music is its second audio stream. Each is analysed as a player
plays it: nothing of it made into NaN, none of it called truncated, all of it read."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import audio_factory
from engine.audio import audio_stream, decode_mono, probe, read_windows
from engine.keys import Key
from engine.library import Library

RATE, WINDOW = 16000, 43200


def _float_wav(samples: np.ndarray, path: Path, rate: int = 22050) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(rate), "-ac", "1",
                    "-i", "pipe:0", "-c:a", "pcm_f32le", str(path)],
                   input=samples.astype("<f4").tobytes(), check=True)
    return path


def _spoiled(source: Path, target: Path, values: dict[int, float]) -> Path:
    """A copy of a float WAV with the samples at the given positions set to the given values."""
    data = source.read_bytes()
    start = data.find(b"data") + 8
    samples = np.frombuffer(data[start:], dtype="<f4").copy()
    for position, value in values.items():
        samples[position] = value
    target.write_bytes(data[:start] + samples.tobytes())
    return target


def test_samples_that_are_not_numbers_are_silence_and_the_track_keeps_its_key_and_neighbours(tmp_path, model_dir):
    music = audio_factory.chord_progression(Key(2, "major"), 20.0, sample_rate=22050, seed=4)
    folder = tmp_path / "music"
    folder.mkdir()
    clean = _float_wav(music, folder / "clean.wav")
    spoiled = _spoiled(clean, folder / "spoiled.wav", {220_500: np.nan, 230_000: np.inf, 240_000: -np.inf})
    decoded = decode_mono(spoiled, RATE)
    assert np.isfinite(decoded).all()
    assert np.isfinite(read_windows(spoiled, RATE, WINDOW, 6).windows).all()
    with Library(tmp_path / "lib.db", model_dir) as library:
        report = library.index([folder], workers=0)
        assert (report.added, report.problems) == (2, 0)
        by_name = {Path(track.path).name: track for track in library.tracks()}
        clean_analysis, spoiled_analysis = (library.analyze_file(by_name[name].path) for name in ("clean.wav", "spoiled.wav"))
        assert np.isfinite(spoiled_analysis.embedding).all()
        assert spoiled_analysis.key.to_key() == clean_analysis.key.to_key()
        assert 0.0 <= spoiled_analysis.key.confidence <= 1.0
        assert all(np.isfinite(list(spoiled_analysis.tags.values())))
        results = library.similar(by_name["spoiled.wav"].id, k=1)
        assert [Path(result.track.path).name for result in results] == ["clean.wav"]


def _damaged(source: Path, target: Path, offset_share: float, size: int) -> Path:
    """A copy of ``source`` with ``size`` bytes zeroed at ``offset_share`` of its length (a bad sector, a bit-rot)."""
    data = bytearray(source.read_bytes())
    start = int(len(data) * offset_share)
    data[start : start + size] = bytes(size)
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("seconds", [28.0, 75.0])  # decoded whole; windows sought
def test_a_damaged_stretch_inside_an_mp3_is_skipped_as_players_skip_it_not_called_truncation(tmp_path, seconds):
    music = audio_factory.chord_progression(Key(7, "minor"), seconds, sample_rate=22050, seed=2)
    clean = audio_factory.write_audio(music, tmp_path / "clean.mp3", sample_rate=22050, bitrate="128k")
    damaged = _damaged(clean, tmp_path / "damaged.mp3", 0.4, 1500)
    clean_seconds = decode_mono(clean, RATE).size / RATE
    assert decode_mono(damaged, RATE).size / RATE == pytest.approx(clean_seconds, abs=0.5)
    windows = read_windows(damaged, RATE, WINDOW, 6)
    assert windows.duration_seconds == pytest.approx(seconds, abs=0.5)
    assert len(windows.windows) == 6


def test_a_vbr_mp3_without_a_length_header_is_read_to_its_end_not_to_ffmpegs_guess(tmp_path):
    music = np.concatenate([audio_factory.noise(0.5, seed=1, sample_rate=22050, amplitude=0.9),
                            audio_factory.chord_progression(Key(0, "major"), 120.0, sample_rate=22050, seed=5) * 0.3])
    source = audio_factory.write_audio(music, tmp_path / "source.wav", sample_rate=22050, channels=1)
    path = tmp_path / "vbr.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-c:a", "libmp3lame",
                    "-q:a", "9", "-write_xing", "0", str(path)], check=True)
    decoded_seconds = decode_mono(path, RATE).size / RATE
    assert decoded_seconds == pytest.approx(120.5, abs=0.2)
    stated = probe(path).duration_seconds
    assert stated == pytest.approx(decoded_seconds, abs=0.5)  # FFmpeg's own guess (from the first frame) is shorter
    windows = read_windows(path, RATE, WINDOW, 6)
    assert windows.start_seconds[-1] > 100.0  # the last window lies near the real end


def test_the_audio_stream_marked_default_is_the_one_read(tmp_path):
    music = audio_factory.write_audio(audio_factory.chord_progression(Key(9, "minor"), 12.0, seed=1),
                                      tmp_path / "music.wav")
    path = tmp_path / "two-streams.mka"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono",
                    "-i", str(music), "-map", "0:a", "-map", "1:a", "-t", "12", "-c:a", "flac",
                    "-disposition:a:0", "0", "-disposition:a:1", "default", str(path)], check=True)
    import av

    with av.open(str(path)) as container:
        assert audio_stream(container).index == 1
    assert np.sqrt(np.mean(decode_mono(path, RATE) ** 2)) > 0.05  # the music, not the silent first stream


@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_stereo_whose_channels_cancel_is_read_as_their_difference_not_as_silence(tmp_path, suffix):
    """One channel inverted (a wiring or mastering fault) plays on two speakers but its mono mix is silence; it is
    read as the difference of its channels, which is the music. Ordinary stereo keeps its mix."""
    music = audio_factory.chord_progression(Key(2, "major"), 20.0, sample_rate=22050, seed=6)
    source = audio_factory.write_audio(music, tmp_path / "source.wav", sample_rate=22050, channels=1)
    paths = {}
    for name, right in (("plain", "c0"), ("inverted", "-1*c0")):
        paths[name] = tmp_path / f"{name}{suffix}"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-af",
                        f"pan=stereo|c0=c0|c1={right}", str(paths[name])], check=True)
    plain, inverted = decode_mono(paths["plain"], RATE), decode_mono(paths["inverted"], RATE)
    assert np.sqrt(np.mean(inverted ** 2)) == pytest.approx(np.sqrt(np.mean(plain ** 2)), rel=0.05)
    assert np.corrcoef(plain[: inverted.size], inverted[: plain.size])[0, 1] > 0.99
    windows = read_windows(paths["inverted"], RATE, WINDOW, 6).windows
    assert np.sqrt(np.mean(windows ** 2, axis=1)).min() > 0.01
