"""A generated library whose genre tags are learnable: each genre is a timbre family (``training.synthetic``).

Albums of one genre each, written in several formats and tagged with mutagen the way real collections are:
the genre spelled differently from album to album ("Hip-Hop", "hip hop", "HipHop"), a mood on some albums,
a rare genre that ``--min-tracks`` drops, and untagged albums (the unlabeled part, and what ``tag --suggest``
fills in). Every melody is in a random key, written as a key tag on most tracks (so key accuracy can be
measured before and after finetuning). Used by the from-library tests and ``benchmarks/bench_from_library.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import audio_factory
from engine.keys import Key, key_from_index
from training.synthetic import timbre_track

SAMPLE_RATE = 16000  # synthesis (the models' rate)
FILE_SAMPLE_RATE = 44100  # what the files store (Vorbis has no 128 kbit/s mode at 16 kHz)
# timbre family → the genre spellings its albums use in turn, and the mood tag (None: no mood tag)
GENRES = {
    "bright": (("Rock", "rock", "ROCK "), "Energetic"),
    "hollow": (("Jazz", "jazz"), None),
    "pure": (("Ambient", "ambient"), "Calm"),
    "nasal": (("Hip-Hop", "hip hop", "HipHop"), None),
}
FORMATS = ("flac", "mp3", "ogg", "m4a", "wav")
RARE_GENRE = "Polka"


KEY_TAGGED_SHARE = 0.75  # tracks whose true key is written as a key tag (INITIALKEY / TKEY), as DJ tools do


@dataclass(frozen=True)
class GeneratedTrack:
    path: Path
    family: str  # the timbre family, the truth behind the genre
    album: str
    genre: str | None  # as written in the file
    key: Key  # the key the melody is in
    key_tagged: bool


def generate_tagged_library(
    root: Path, albums_per_genre: int = 4, tracks_per_album: int = 3, untagged_albums: int = 2,
    seconds: float = 8.0, seed: int = 0, formats: tuple[str, ...] = FORMATS,
) -> list[GeneratedTrack]:
    """Write the library under ``root`` (one folder per album); returns every track with its truth."""
    rng = np.random.default_rng(seed)
    tracks: list[GeneratedTrack] = []
    albums: list[tuple[str, str, str | None, str | None]] = []  # (album, family, genre tag, mood tag)
    for family, (spellings, mood) in GENRES.items():
        for number in range(albums_per_genre):
            albums.append((f"{family.title()} Album {number + 1}", family, spellings[number % len(spellings)], mood))
    families = list(GENRES)
    for number in range(untagged_albums):
        albums.append((f"Untagged Album {number + 1}", families[number % len(families)], None, None))
    albums.append(("Polka Night", "bright", RARE_GENRE, None))
    for album_number, (album, family, genre, mood) in enumerate(albums):
        folder = root / album.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        count = 1 if genre == RARE_GENRE else tracks_per_album
        for track_number in range(count):
            extension = formats[(album_number + track_number) % len(formats)]
            path = folder / f"{track_number + 1:02d}.{extension}"
            key = key_from_index(int(rng.integers(24)))
            audio_factory.write_audio(timbre_track(family, seconds, SAMPLE_RATE, rng, key), path,
                                      sample_rate=SAMPLE_RATE, channels=1, output_rate=FILE_SAMPLE_RATE)
            tags = {"title": f"{album} {track_number + 1}", "artist": f"Artist {album_number}", "album": album,
                    "tracknumber": str(track_number + 1)}
            if genre:
                tags["genre"] = genre
            if mood:
                tags["mood"] = mood
            key_tagged = bool(rng.random() < KEY_TAGGED_SHARE)
            if key_tagged:
                tags["initialkey"] = key.name
            audio_factory.write_tags(path, **tags)
            tracks.append(GeneratedTrack(path, family, album, genre, key, key_tagged))
    return tracks


__all__ = ["GENRES", "GeneratedTrack", "generate_tagged_library"]
