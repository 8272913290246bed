"""Make test audio: tones, chord progressions in a key, noise; encode to every format; tag; break files.

Reusable by any test suite (engine, training, app). Encoding goes through the ``ffmpeg`` command
(Debian package ``ffmpeg``); tags are written with mutagen. Everything is seeded, so a given call
always makes the same audio.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.keys import Key

SAMPLE_RATE = 22050
A4_HZ = 440.0
A4_MIDI = 69
# ffmpeg arguments per file extension: (audio codec arguments, container format or None)
FORMATS: dict[str, list[str]] = {
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame"],
    "ogg": ["-c:a", "libvorbis"],
    "opus": ["-c:a", "libopus"],
    "m4a": ["-c:a", "aac", "-aac_coder", "fast"],
    "aiff": ["-c:a", "pcm_s16be"],
    "wma": ["-c:a", "wmav2"],
}
LOSSY_DEFAULT_BITRATE = {"mp3": "192k", "ogg": "128k", "opus": "96k", "m4a": "160k", "wma": "128k"}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
PROGRESSION_DEGREES = (0, 3, 4, 0, 5, 3, 4, 0)  # I IV V I vi IV V I (scale degrees, 0-based)


@dataclass(frozen=True)
class Voice:
    """Timbre and rhythm of a synthetic track: harmonic amplitudes, note length, noise level."""

    harmonics: tuple[float, ...]
    chord_seconds: float
    pulse_hz: float
    noise_level: float


def random_voice(seed: int) -> Voice:
    rng = np.random.default_rng(seed)
    count = int(rng.integers(2, 9))
    harmonics = tuple(float(x) for x in rng.uniform(0.05, 1.0, count) / np.arange(1, count + 1) ** rng.uniform(0.3, 1.5))
    return Voice(harmonics, float(rng.uniform(0.6, 2.0)), float(rng.uniform(0.0, 6.0)), float(rng.uniform(0.0, 0.08)))


def midi_to_hz(note: float) -> float:
    return A4_HZ * 2.0 ** ((note - A4_MIDI) / 12.0)


def tone(frequency: float, seconds: float, sample_rate: int = SAMPLE_RATE, amplitude: float = 0.5) -> np.ndarray:
    """A pure sine, float32 mono."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def noise(seconds: float, seed: int = 0, sample_rate: int = SAMPLE_RATE, amplitude: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amplitude * rng.standard_normal(int(seconds * sample_rate))).astype(np.float32)


def chord_progression(key: Key, seconds: float, seed: int = 0, sample_rate: int = SAMPLE_RATE,
                      tuning_cents: float = 0.0) -> np.ndarray:
    """Triads of a I-IV-V-I-vi-IV-V-I progression in ``key`` with a bass note, a seeded timbre and rhythm, every
    note ``tuning_cents`` away from equal temperament at A = 440 Hz."""
    voice = random_voice(seed)
    scale = MAJOR_SCALE if key.mode == "major" else MINOR_SCALE
    tonic_midi = 48 + key.pitch_class + tuning_cents / 100  # around C3
    total = int(seconds * sample_rate)
    chord_samples = max(1, int(voice.chord_seconds * sample_rate))
    t = np.arange(chord_samples) / sample_rate
    envelope = np.exp(-t * 1.5) * (0.6 + 0.4 * np.cos(2 * np.pi * voice.pulse_hz * t) ** 2)
    output = np.zeros(total, dtype=np.float64)
    segments: dict[int, np.ndarray] = {}  # one rendering per chord degree, reused every time it recurs
    for start in range(0, total, chord_samples):
        degree = PROGRESSION_DEGREES[(start // chord_samples) % len(PROGRESSION_DEGREES)]
        if degree not in segments:
            segments[degree] = _render_chord(tonic_midi, scale, degree, voice, t, sample_rate) * envelope
        length = min(chord_samples, total - start)
        output[start : start + length] = segments[degree][:length]
    output += voice.noise_level * np.random.default_rng(seed).standard_normal(total)
    peak = np.max(np.abs(output)) or 1.0
    return (0.8 * output / peak).astype(np.float32)


def random_melody(seconds: float, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Notes of random pitch (two octaves around A4) and length (0.1-0.5 s) with a seeded timbre and no
    repeats: a track whose every passage is its own, for tests of same-recording matching."""
    rng = np.random.default_rng(seed)
    voice = random_voice(seed)
    total = int(seconds * sample_rate)
    output = np.zeros(total, dtype=np.float64)
    start = 0
    while start < total:
        length = min(int(rng.uniform(0.1, 0.5) * sample_rate), total - start)
        t = np.arange(length) / sample_rate
        frequency = midi_to_hz(float(rng.integers(57, 82)))
        note = sum(amplitude * np.sin(2 * np.pi * frequency * number * t)
                   for number, amplitude in enumerate(voice.harmonics, start=1) if frequency * number < sample_rate / 2)
        output[start : start + length] = note * np.exp(-t * 4.0)
        start += length
    output += voice.noise_level * rng.standard_normal(total)
    peak = np.max(np.abs(output)) or 1.0
    return (0.8 * output / peak).astype(np.float32)


def _render_chord(tonic_midi: float, scale: tuple[int, ...], degree: int, voice: Voice, t: np.ndarray,
                  sample_rate: int) -> np.ndarray:
    """A triad on scale ``degree`` plus its bass an octave down, with the voice's harmonics, over times ``t``."""
    notes = [tonic_midi + scale[(degree + step) % 7] + 12 * ((degree + step) // 7) for step in (0, 2, 4)]
    notes.append(notes[0] - 12)
    segment = np.zeros(len(t))
    for note in notes:
        frequency = midi_to_hz(note)
        for number, amplitude in enumerate(voice.harmonics, start=1):
            if frequency * number < sample_rate / 2:
                segment += amplitude * np.sin(2 * np.pi * frequency * number * t)
    return segment


def write_audio(samples: np.ndarray, path: Path | str, sample_rate: int = SAMPLE_RATE, bitrate: str | None = None,
                channels: int = 2, output_rate: int | None = None) -> Path:
    """Encode mono float samples into the format named by ``path``'s extension (via ffmpeg), stored at
    ``output_rate`` (default: ``sample_rate``; Opus is always 48 kHz)."""
    path = Path(path)
    extension = path.suffix.lstrip(".").lower()
    codec = FORMATS[extension]
    rate = 48000 if extension == "opus" else (output_rate or sample_rate)
    bitrate = bitrate or LOSSY_DEFAULT_BITRATE.get(extension)
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "f32le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0",
               "-ac", str(channels), "-ar", str(rate), *codec]
    if bitrate:
        command += ["-b:a", bitrate]
    command.append(os.fspath(path))
    subprocess.run(command, input=np.ascontiguousarray(samples, dtype="<f4").tobytes(), check=True)
    return path


def reencode(source: Path | str, target: Path | str, bitrate: str | None = None, seconds: float | None = None) -> Path:
    """Transcode an existing file to the format of ``target`` (e.g. an MP3 → a 96 kbit/s Ogg copy)."""
    target = Path(target)
    extension = target.suffix.lstrip(".").lower()
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", os.fspath(source),
               *FORMATS[extension]]
    if bitrate or LOSSY_DEFAULT_BITRATE.get(extension):
        command += ["-b:a", bitrate or LOSSY_DEFAULT_BITRATE[extension]]
    if seconds is not None:
        command += ["-t", str(seconds)]
    command.append(os.fspath(target))
    subprocess.run(command, check=True)
    return target


def write_tags(path: Path | str, **tags: str) -> None:
    """Write common tags (title, artist, album, albumartist, genre, date, tracknumber, bpm, initialkey, mood,
    grouping) with mutagen."""
    import mutagen
    from mutagen.asf import ASF
    from mutagen.id3 import GRP1, ID3, TALB, TBPM, TCON, TDRC, TIT2, TKEY, TMOO, TPE1, TPE2, TRCK

    path = Path(path)
    extension = path.suffix.lower()
    if extension in (".mp3", ".wav", ".aiff"):
        frames = {"title": TIT2, "artist": TPE1, "album": TALB, "albumartist": TPE2, "genre": TCON, "date": TDRC,
                  "tracknumber": TRCK, "bpm": TBPM, "initialkey": TKEY, "mood": TMOO, "grouping": GRP1}
        audio = mutagen.File(path)
        if audio.tags is None:
            audio.add_tags()
        id3: ID3 = audio.tags
        for name, value in tags.items():
            id3.add(frames[name](encoding=3, text=[value]))
        audio.save()
    elif extension == ".wma":
        names = {"title": "Title", "artist": "Author", "album": "WM/AlbumTitle", "albumartist": "WM/AlbumArtist",
                 "genre": "WM/Genre", "date": "WM/Year", "tracknumber": "WM/TrackNumber", "bpm": "WM/BeatsPerMinute",
                 "initialkey": "WM/InitialKey", "mood": "WM/Mood", "grouping": "WM/ContentGroupDescription"}
        audio = ASF(path)
        for name, value in tags.items():
            audio[names[name]] = [value]
        audio.save()
    elif extension == ".m4a":
        from mutagen.mp4 import MP4, MP4FreeForm

        atoms = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "albumartist": "aART", "genre": "\xa9gen",
                 "date": "\xa9day", "grouping": "\xa9grp"}
        freeform = {"initialkey": "----:com.apple.iTunes:initialkey", "mood": "----:com.apple.iTunes:MOOD"}
        audio = MP4(path)
        for name, value in tags.items():
            if name in freeform:
                audio[freeform[name]] = [MP4FreeForm(value.encode())]
            elif name == "tracknumber":
                audio["trkn"] = [(int(value), 0)]
            elif name == "bpm":
                audio["tmpo"] = [int(float(value))]
            else:
                audio[atoms[name]] = [value]
        audio.save()
    else:  # flac, ogg, opus: Vorbis comments
        audio = mutagen.File(path)
        for name, value in tags.items():
            audio[name] = [value]
        audio.save()


# -- broken files ---------------------------------------------------------------------------------------
def make_zero_byte(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def make_random_bytes(path: Path, size: int = 50_000, seed: int = 0) -> Path:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def make_text_as_audio(path: Path) -> Path:
    path.write_text("This is not music, just a text file with an audio extension.\n" * 50, encoding="utf-8")
    return path


def make_truncated(source: Path, path: Path, keep_share: float = 0.4) -> Path:
    """The first ``keep_share`` of a valid file's bytes: the container still states the full length."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_share)])
    return path


def make_header_only_wav(path: Path, stated_seconds: float = 30.0, sample_rate: int = 44100) -> Path:
    """A 44-byte WAV header that states ``stated_seconds`` of audio and holds none."""
    data_bytes = int(stated_seconds * sample_rate) * 4
    header = b"RIFF" + (36 + data_bytes).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    header += (1).to_bytes(2, "little") + (2).to_bytes(2, "little") + sample_rate.to_bytes(4, "little")
    header += (sample_rate * 4).to_bytes(4, "little") + (4).to_bytes(2, "little") + (16).to_bytes(2, "little")
    header += b"data" + data_bytes.to_bytes(4, "little")
    path.write_bytes(header)
    return path


def make_video_only(path: Path, seconds: float = 2.0) -> Path:
    """An MP4 with one video stream and no audio."""
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc=duration={seconds}:size=64x48:rate=10", "-c:v", "mpeg4", "-an", os.fspath(path)],
                   check=True)
    return path


def make_unreadable(source: Path, path: Path) -> Path:
    """A copy with mode 000 (note: root can still read it)."""
    shutil.copyfile(source, path)
    path.chmod(0)
    return path


def make_dangling_symlink(path: Path) -> Path:
    path.symlink_to("this-target-does-not-exist.mp3")
    return path


def non_utf8_name(folder: Path, stem: bytes = b"caf\xe9-latin1", extension: str = ".mp3") -> str:
    """A path whose file name is not valid UTF-8, as ``str`` with surrogate escapes."""
    return os.fsdecode(os.fsencode(str(folder)) + b"/" + stem + extension.encode())
