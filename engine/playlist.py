"""Radio-style playlists: a walk through nearest neighbours, and the M3U8 file that holds the result.

The walk goes from each track to its most similar unused neighbour whose artist differs from the
current track's, so a playlist drifts smoothly, never repeats, and never plays one artist twice in a row.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.atomic_write import write_bytes_atomically
from engine.audio_formats import AUDIO_EXTENSIONS
from engine.mp3_length import is_frame_sync
from engine.results import TrackRow

NEIGHBOUR_POOL = 32  # neighbours looked at per step before widening the search
POOL_GROWTH = 4
# Unicode control characters (Cc: NUL-US, DEL and C1, NEL included) and line / paragraph separators (Zl, Zp):
# a player may start a new playlist line at any of them.
LINE_BREAKING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
FIRST_PRINTABLE_BYTE, DELETE_BYTE = 0x20, 0x7F
NOT_CHARACTERS = frozenset("\ufffe\uffff")  # noncharacters XML 1.0 forbids (surrogates, category Cs, too)
REPLACED_CATEGORIES = LINE_BREAKING_CATEGORIES | {"Cs"}  # what ``control_free`` makes a space, with NOT_CHARACTERS
SQLITE_HEADER = b"SQLite format 3\x00"

Neighbours = Callable[[int, int], list[int]]  # (track_id, k) → track ids, best first, excluding track_id


def same_artist(first: str | None, second: str | None) -> bool:
    """Unknown artists never count as the same artist."""
    return bool(first) and bool(second) and first.casefold().strip() == second.casefold().strip()


def radio_walk(seed_id: int, count: int, neighbours: Neighbours, artist_of: Callable[[int], str | None]) -> list[int]:
    """Up to ``count`` track ids starting with ``seed_id``; shorter when the library runs out."""
    order = [seed_id]
    used = {seed_id}
    current = seed_id
    while len(order) < count:
        chosen = _next_track(current, used, neighbours, artist_of)
        if chosen is None:
            break
        order.append(chosen)
        used.add(chosen)
        current = chosen
    return order


def _next_track(current: int, used: set[int], neighbours: Neighbours, artist_of) -> int | None:
    pool = NEIGHBOUR_POOL
    current_artist = artist_of(current)
    while True:
        candidates = neighbours(current, pool)
        for candidate in candidates:
            if candidate not in used and not same_artist(artist_of(candidate), current_artist):
                return candidate
        if len(candidates) < pool:
            return None  # every track was looked at
        pool *= POOL_GROWTH


class PlaylistWriteError(Exception):
    """The playlist file was not written (the target is protected or exists); the message is one line."""


def control_free(text: str) -> str:
    """``text`` with every control or line-breaking character made a space (one ``#EXTINF`` line stays one line),
    and every character XML 1.0 forbids too (U+FFFE, U+FFFF, an unpaired surrogate: one such title, read from a
    UTF-16 tag with a second byte-order mark, made a whole rekordbox XML unreadable)."""
    return "".join(" " if character in NOT_CHARACTERS or unicodedata.category(character) in REPLACED_CATEGORIES
                   else character for character in text)


def fits_one_line(track: TrackRow) -> bool:
    """Whether the track's absolute path can be written as one M3U8 line: no control byte, and read as UTF-8 no
    character a player may break a line at (NEL, the line and paragraph separators)."""
    encoded = os.fsencode(os.path.abspath(track.path))
    if any(byte < FIRST_PRINTABLE_BYTE or byte == DELETE_BYTE for byte in encoded):
        return False
    text = encoded.decode("utf-8", errors="replace")
    return not any(unicodedata.category(character) in LINE_BREAKING_CATEGORIES for character in text)


def check_target(path: Path, overwrite: bool, protected: Sequence[Path] = ()) -> None:
    """Refuse a target that must not be replaced: an existing file without ``overwrite``, and never a file of
    ``protected`` (the library database), any SQLite database, an audio file or anything but a regular file."""
    if path.suffix.lower() in AUDIO_EXTENSIONS:
        raise PlaylistWriteError(f"refusing to give a playlist an audio file's name: {path}")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path) and not overwrite:  # a link to nothing is still a name the user has
            raise PlaylistWriteError(f"{path} exists (a link to a missing file); pass --overwrite to replace it") \
                from None
        if not os.path.isdir(path.parent):  # else the failure names the temporary file the write goes through
            raise PlaylistWriteError(f"cannot write {path}: the folder {path.parent} does not exist") from None
        return
    except OSError as error:
        raise PlaylistWriteError(f"cannot write {path}: {error.strerror or error}") from None
    if any(_same_file(path, other) for other in protected):
        raise PlaylistWriteError(f"refusing to overwrite the library database: {path}")
    if not stat.S_ISREG(info.st_mode):
        raise PlaylistWriteError(f"not a regular file: {path}")
    if not overwrite:
        raise PlaylistWriteError(f"{path} exists; pass --overwrite to replace it")
    with open(path, "rb") as handle:
        head = handle.read(max(len(SQLITE_HEADER), 12))
    if head.startswith(SQLITE_HEADER):
        raise PlaylistWriteError(f"refusing to overwrite a database file: {path}")
    if looks_like_audio(head):
        raise PlaylistWriteError(f"refusing to overwrite what holds audio, whatever its name: {path}")


def looks_like_audio(head: bytes) -> bool:
    """Whether a file's first bytes are those of an audio container or stream (ID3-tagged or bare MPEG audio,
    FLAC, Ogg, WAV / AIFF, MP4 / M4A, ASF)."""
    return (head.startswith((b"ID3", b"fLaC", b"OggS", b"RIFF", b"FORM", b"\x30\x26\xb2\x75"))
            or head[4:8] == b"ftyp" or is_frame_sync(head))


def write_m3u8(tracks: Sequence[TrackRow], path: Path | str, overwrite: bool = False,
               protected: Sequence[Path] = ()) -> Path:
    """Extended M3U in UTF-8 with absolute paths; non-UTF-8 file names are written as their raw bytes.

    Written through a temporary file and a rename (a full disk leaves the old file or none, never a part).
    Tracks whose path cannot be one line are left out (``fits_one_line``); ``check_target`` says which
    targets are refused with ``PlaylistWriteError``.
    """
    path = Path(path)
    check_target(path, overwrite, protected)
    lines = [b"#EXTM3U"]
    for track in tracks:
        if not fits_one_line(track):
            continue
        seconds = int(round(track.duration)) if track.duration else -1
        label = " - ".join(part for part in (track.artist, track.title) if part) or Path(track.display_path).stem
        lines.append(f"#EXTINF:{seconds},{control_free(label)}".encode("utf-8", errors="replace"))
        lines.append(os.fsencode(os.path.abspath(track.path)))
    return write_bytes_atomically(path, b"\n".join(lines) + b"\n")


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False
