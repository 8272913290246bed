"""Write tags (key, tempo, genre, mood, grouping) into a user's audio file, only on request and only safely.

Every write goes through a copy (``engine.safe_replace``): the tags are written into the copy, read back
with mutagen and with our own reader, and the copy's decoded audio must hash the same as the original's
before it replaces the file. Any failure leaves the original untouched and comes back as ``problem``,
never as an exception: a bad file in a batch must not stop the others.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine.file_problem import FileProblem
from engine.keys import Key, key_tag_text
from engine.metadata import MULTI_VALUE_SEPARATOR, TrackMetadata, read_metadata
from engine.safe_replace import FileState, check_replaceable, replace_through_copy
from engine.tag_fields import WRITABLE_FIELDS, field_values, open_tags, save_tags, set_field, touched_keys
from engine.tag_snapshot import changed_keys, tag_snapshot

ExistingPolicy = Literal["keep", "replace", "add"]
EXISTING_POLICIES = ("keep", "replace", "add")  # keep what is there / replace it / add new values to it


class TagWriteError(FileProblem):
    """The tags could not be written or did not verify."""


@dataclass(frozen=True)
class TagWriteResult:
    """What one write did. ``written``: field → values now in the file (changed by this call); ``kept``:
    field → values already there and left alone; ``problem``: why nothing was written (file untouched).
    ``before`` / ``after``: the file's identity around the write (equal when nothing changed)."""

    path: str
    written: dict[str, list[str]] = field(default_factory=dict)
    kept: dict[str, list[str]] = field(default_factory=dict)
    problem: str | None = None
    before: FileState | None = None
    after: FileState | None = None

    @property
    def changed(self) -> bool:
        return bool(self.written) and self.problem is None


def write_key(path: Path | str, key: Key, notation: str = "standard", overwrite: bool = False) -> TagWriteResult:
    """Write ``key`` in ``notation`` ("standard" "Am", "camelot" "8A", "openkey" "1m") as the file's key tag
    (TKEY / INITIALKEY / the MP4 initialkey atom); an existing key tag is kept unless ``overwrite``."""
    try:
        text = key_tag_text(key, notation)
    except ValueError as error:
        return TagWriteResult(os.fspath(path), problem=str(error))
    return write_tags(path, {"key": [text]}, "replace" if overwrite else "keep")


def write_bpm(path: Path | str, bpm: float, overwrite: bool = False) -> TagWriteResult:
    """Write ``bpm`` rounded to a whole number, halves up as DJ software rounds (ID3 TBPM holds an integer, MP4
    ``tmpo`` too) as the file's tempo tag (TBPM / BPM / ``tmpo``); an existing tempo tag is kept unless
    ``overwrite``."""
    return write_tags(path, {"bpm": [str(int(math.floor(bpm + 0.5)))]}, "replace" if overwrite else "keep")


def write_tags(
    path: Path | str, values_by_field: dict[str, list[str]], on_existing: ExistingPolicy = "keep"
) -> TagWriteResult:
    """Write text fields (``WRITABLE_FIELDS``: key, genre, mood, grouping, bpm; each a list of values) safely.

    ``on_existing`` decides for a field that already has values: "keep" them, "replace" them, or "add" the
    new values not yet there (case-insensitive). Never raises for a file problem; see ``TagWriteResult``.
    """
    from engine.audio import AudioDecodeError, decoded_audio_digest  # here: reading commands never load PyAV

    path = os.fspath(path)
    try:
        wanted = _cleaned(path, values_by_field, on_existing)
        before = check_replaceable(os.path.realpath(path))
        audio, family = open_tags(path)
        library_reads = read_metadata(path)
        planned, kept = {}, {}
        for name, values in wanted.items():
            existing = _existing_values(field_values(audio, family, name), library_reads, name)
            final = _final_values(existing, values, on_existing)
            if final == existing:
                kept[name] = existing
            else:
                planned[name] = final
        if not planned:
            return TagWriteResult(path, {}, kept, None, before, before)
        original_digest = decoded_audio_digest(path)
        untouched = {key for name in planned for key in touched_keys(family, name)}
        others = tag_snapshot(audio.tags, untouched)
        after = replace_through_copy(path, lambda copy: _apply(copy, planned),
                                     lambda copy: _verify(copy, planned, original_digest, (untouched, others)),
                                     expected=before)
        return TagWriteResult(path, planned, kept, None, before, after)
    except (FileProblem, AudioDecodeError) as error:
        return TagWriteResult(path, problem=error.reason)
    except Exception as error:  # a user's file and a batch of others: report, never crash (original untouched)
        return TagWriteResult(path, problem=f"unexpected error ({type(error).__name__}: {error})")


def _cleaned(path: str, values_by_field: dict[str, list[str]], on_existing: str) -> dict[str, list[str]]:
    if on_existing not in EXISTING_POLICIES:
        raise TagWriteError(path, f"unknown policy for existing tags {on_existing!r}")
    wanted = {}
    for name, values in values_by_field.items():
        if name not in WRITABLE_FIELDS:
            raise TagWriteError(path, f"cannot write field {name!r} (writable: {', '.join(WRITABLE_FIELDS)})")
        cleaned = [text.strip() for text in ([values] if isinstance(values, str) else values) if text and text.strip()]
        if cleaned:
            wanted[name] = cleaned
    if not wanted:
        raise TagWriteError(path, "no tag values to write")
    return wanted


def _existing_values(in_family: list[str], library_reads: TrackMetadata, name: str) -> list[str]:
    """What the file holds for field ``name``: its values in the tag block written to, else the value the library
    reads from another block (APEv2 on an MP3, a WAV's LIST/INFO), which a write must keep as it keeps its own.
    A tempo of "0" is what some players write for "not known": no tempo to keep (the library reads none)."""
    if name == "bpm":
        in_family = [text for text in in_family if not _zero_tempo(text)]
    if in_family:
        return in_family
    elsewhere = getattr(library_reads, name)
    if elsewhere is None or elsewhere == "":
        return []
    return [f"{elsewhere:g}" if isinstance(elsewhere, float) else str(elsewhere)]


def _zero_tempo(text: str) -> bool:
    try:
        return float(text.replace(",", ".")) == 0.0
    except ValueError:
        return False


def _final_values(existing: list[str], values: list[str], on_existing: str) -> list[str]:
    if not existing or on_existing == "replace":
        return values
    if on_existing == "keep":
        return existing
    final, present = list(existing), {text.casefold() for text in existing}
    for text in values:
        if text.casefold() not in present:
            final.append(text)
            present.add(text.casefold())
    return final


def _apply(copy: str, planned: dict[str, list[str]]) -> None:
    audio, family = open_tags(copy)
    for name, values in planned.items():
        set_field(audio, family, name, values)
    try:
        save_tags(audio, family)
    except struct.error:  # a size field the new tags would put out of range: a WAV streamed with "no size" (2^32 - 1)
        raise TagWriteError(copy, "its header's size fields cannot take the new tags (a file written as a stream?); "
                                  "file not changed") from None


def _verify(copy: str, planned: dict[str, list[str]], original_digest: str,
            others: tuple[set[str], dict[str, object]]) -> None:
    """Raise ``TagWriteError`` unless mutagen and our reader see the new values, every other tag (``others``: the
    keys written, and the ``tag_snapshot`` of the rest before) reads as before, and the audio is unchanged."""
    from engine.audio import decoded_audio_digest

    audio, family = open_tags(copy)
    untouched, before = others
    changed = changed_keys(before, tag_snapshot(audio.tags, untouched))
    if changed:
        listed = ", ".join(changed[:5]) + (" …" if len(changed) > 5 else "")
        raise TagWriteError(copy, f"saving would also change other tags ({listed}); file not changed")
    metadata = read_metadata(copy)
    for name, values in planned.items():
        expected = family.stored_values(values)
        found = field_values(audio, family, name)
        if found != expected:
            raise TagWriteError(copy, f"{name} reads back as {found!r}, not {expected!r}; file not changed")
        if not _reads_as(getattr(metadata, name), expected):
            raise TagWriteError(copy, f"the library reads {name} back as {getattr(metadata, name)!r}; file not changed")
    if decoded_audio_digest(copy) != original_digest:
        raise TagWriteError(copy, "the decoded audio would change; file not changed")

def _reads_as(read_back: str | float | None, written: list[str]) -> bool:
    """The library's reader returns the tempo as a number and every other field as text: all its values joined
    with ``MULTI_VALUE_SEPARATOR`` where the format's reader keeps several, else the first."""
    if isinstance(read_back, float):
        return read_back == float(written[0])
    return read_back in (MULTI_VALUE_SEPARATOR.join(text for text in written if text), written[0])
