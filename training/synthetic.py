"""Synthesised tracks with a known label: tiny labeled corpora for tests, benchmarks and smoke runs.

Chord tracks play a cadence (I–IV–V–I in major, i–iv–v–i in minor) of harmonic-rich chords over a bass line,
with a random voicing, tempo and background noise, and are written as 16-bit WAV. Timbre tracks play a random
melody (in a key, over a tonic drone, when one is given) whose notes share one harmonic profile (a timbre
family); pitch, tempo, loudness and noise vary at random, so the family is learnable but is not what
dominates an untrained embedding.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from engine.keys import Key
from training.data import ManifestEntry, write_manifest

MAJOR_TRIAD = (0, 4, 7)
MINOR_TRIAD = (0, 3, 7)
CADENCE_DEGREES = (0, 5, 7, 0)  # I IV V I (semitones above the tonic)
HARMONICS = 6


def _note(frequency: float, seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = sum(np.sin(2 * np.pi * frequency * h * time + rng.uniform(0, 2 * np.pi)) / h**1.3 for h in range(1, HARMONICS + 1))
    envelope = np.minimum(1.0, time / 0.02) * np.exp(-1.5 * time)
    return tone * envelope


def chord_track(key: Key, seconds: float, sample_rate: int, rng: np.random.Generator, snr_db: float = 20.0) -> np.ndarray:
    """Mono float32 audio in ``key``: chords of ``rng``-chosen length cycling the cadence, plus noise."""
    chord_seconds = rng.uniform(0.6, 1.2)
    octave = rng.choice([3, 4])
    triad = MAJOR_TRIAD if key.mode == "major" else MINOR_TRIAD
    chunks, total = [], int(seconds * sample_rate)
    index = 0
    while sum(chunk.size for chunk in chunks) < total:
        degree = CADENCE_DEGREES[index % len(CADENCE_DEGREES)]
        # IV and V are major in the major key; iv minor and v minor in natural minor.
        root = key.pitch_class + degree
        midi_root = 12 * (octave + 1) + root
        chord = sum(_note(440.0 * 2 ** ((midi_root + step - 69) / 12), chord_seconds, sample_rate, rng) for step in triad)
        bass = _note(440.0 * 2 ** ((12 * 2 + root % 12 + 12 - 69) / 12), chord_seconds, sample_rate, rng)
        chunks.append(chord + 0.8 * bass)
        index += 1
    audio = np.concatenate(chunks)[:total]
    audio = audio / (np.abs(audio).max() + 1e-9) * 0.5
    noise = rng.standard_normal(total) * np.sqrt(np.mean(audio**2)) / 10 ** (snr_db / 20)
    return (audio + noise).astype(np.float32)


# Harmonic amplitude of harmonic number h (1-based) per timbre family.
TIMBRE_FAMILIES = {
    "bright": lambda h: 1.0 / h,  # sawtooth-like: every harmonic
    "hollow": lambda h: (1.0 / h) if h % 2 else 0.0,  # clarinet/square-like: odd harmonics only
    "pure": lambda h: 1.0 if h == 1 else (0.08 if h == 2 else 0.0),  # nearly a sine
    "nasal": lambda h: 0.3 if h == 1 else (1.0 / (1 + abs(h - 5)) if h <= 10 else 0.0),  # energy around h = 5
}
TIMBRE_HARMONICS = 12


SCALE_STEPS = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
DEGREE_WEIGHTS = np.array([3, 1, 2, 1, 2, 1, 1]) / 11  # tonic, third and fifth most often: the key is audible
DRONE_LEVEL = 0.3  # a low tonic under a melody in a key, as a bass line would give


def _tone(profile: list[float], frequency: float, time: np.ndarray, sample_rate: int) -> np.ndarray:
    return sum(a * np.sin(2 * np.pi * frequency * h * time) for h, a in enumerate(profile, 1) if a and frequency * h < sample_rate / 2)


def timbre_track(
    family: str, seconds: float, sample_rate: int, rng: np.random.Generator, key: Key | None = None,
) -> np.ndarray:
    """Mono float32: a melody (notes of 0.15-0.6 s around a random register in MIDI 45-81) in one
    ``TIMBRE_FAMILIES`` timbre, plus noise. With ``key``: scale notes (tonic, third and fifth most often) over a
    tonic drone; without: any pitch."""
    profile = [TIMBRE_FAMILIES[family](h) for h in range(1, TIMBRE_HARMONICS + 1)]
    total = int(seconds * sample_rate)
    note_samples = int(rng.uniform(0.15, 0.6) * sample_rate)
    centre = rng.uniform(50, 76)
    audio = np.zeros(total)
    for start in range(0, total, note_samples):
        length = min(note_samples, total - start)
        time = np.arange(length) / sample_rate
        target = float(np.clip(centre + rng.normal(0, 5), 45, 81))
        pitch = target
        if key is not None:
            pitch_class = (key.pitch_class + SCALE_STEPS[key.mode][rng.choice(7, p=DEGREE_WEIGHTS)]) % 12
            pitch = round(target) + (pitch_class - round(target)) % 12
            pitch -= 12 if pitch - target > 6 else 0
        note = _tone(profile, 440.0 * 2 ** ((pitch - 69) / 12), time, sample_rate)
        audio[start : start + length] = note * np.minimum(1.0, time / 0.01) * np.exp(-rng.uniform(0.5, 4.0) * time)
    audio /= np.abs(audio).max() + 1e-9
    if key is not None:
        drone_midi = 36 + key.pitch_class  # C2..B2
        audio += DRONE_LEVEL * _tone(profile, 440.0 * 2 ** ((drone_midi - 69) / 12), np.arange(total) / sample_rate, sample_rate)
    audio = audio / (np.abs(audio).max() + 1e-9) * rng.uniform(0.2, 0.8)
    noise = rng.standard_normal(total) * np.sqrt(np.mean(audio**2)) / 10 ** (rng.uniform(10, 30) / 20)
    return (audio + noise).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())


def write_chord_corpus(
    folder: Path | str,
    keys: list[Key],
    tracks_per_key: int,
    seconds: float = 12.0,
    sample_rate: int = 16000,
    seed: int = 0,
    test_share: float = 0.25,
) -> Path:
    """Write WAVs + ``manifest.jsonl`` (labels = [key name], key, split train/test); returns the manifest path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    entries = []
    for key in keys:
        for number in range(tracks_per_key):
            path = folder / f"{key.tonic}_{key.mode}_{number:03d}.wav"
            write_wav(path, chord_track(key, seconds, sample_rate, rng), sample_rate)
            split = "test" if number < round(test_share * tracks_per_key) else "train"
            entries.append(ManifestEntry(path=path.resolve(), labels=[key.name], split=split, key=key.name))
    manifest = folder / "manifest.jsonl"
    write_manifest(manifest, entries)
    return manifest


__all__ = ["TIMBRE_FAMILIES", "chord_track", "timbre_track", "write_chord_corpus", "write_wav"]
