"""Truncation checks that read a container's own bookkeeping, for formats whose stated length is not enough.

FFmpeg states the length of an Ogg (Vorbis, Opus, FLAC) file from its last page and of a WAV file from the
bytes present, so a cut-off copy of either looks like a complete short track. Their structure still tells:
- Ogg: a complete stream ends with a page flagged end-of-stream; a cut-off one ends inside a page or on a
  page without that flag.
- WAV: the ``data`` chunk states its size; a cut-off file holds fewer bytes than it states.
Each check returns a short reason when the file is truncated, else None; files these checks cannot parse
are left to the decoder.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

OGG_CAPTURE = b"OggS"
OGG_HEADER_BYTES = 27  # fixed part of a page header, before the segment table
OGG_MAX_PAGE_BYTES = OGG_HEADER_BYTES + 255 + 255 * 255
OGG_END_OF_STREAM = 0x04
WAV_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streamed WAVs (e.g. written to a pipe) leave the size unset
WAV_MAX_CHUNKS = 64
# A WAV counts as truncated when it misses more than this (like decoded vs. stated length in engine.audio).
WAV_TOLERANCE_SECONDS = 1.0


def container_truncation(path: Path | str, format_name: str) -> str | None:
    """The reason ``path`` is truncated, judged from the structure of its container (FFmpeg's demuxer name,
    e.g. "ogg" or "wav"); None when it is complete or its format has no such check."""
    names = set(format_name.split(","))
    try:
        if "ogg" in names:
            return ogg_truncation(path)
        if "wav" in names:
            return wav_truncation(path)
    except OSError:
        return None  # unreadable now: decoding reports that
    return None


def ogg_truncation(path: Path | str) -> str | None:
    """Truncated when the file ends inside a page or its last page does not end the stream."""
    size = os.path.getsize(path)
    start = max(0, size - 2 * OGG_MAX_PAGE_BYTES)  # holds the last complete page and a partial one after it
    with open(path, "rb") as file:
        file.seek(start)
        tail = file.read()
    position = tail.rfind(OGG_CAPTURE)
    while position >= 0:
        # The last complete page is the one that ends where the file ends or where another page begins; a
        # capture pattern that does neither lies inside a page's data.
        page_end = _ogg_page_end(tail, position)
        if page_end == len(tail):
            if not tail[position + 5] & OGG_END_OF_STREAM:
                return "truncated: the Ogg stream has no end-of-stream page"
            return None
        if page_end is not None and page_end < len(tail) and OGG_CAPTURE.startswith(tail[page_end : page_end + 4]):
            return "truncated: the Ogg stream ends inside a page"
        position = tail.rfind(OGG_CAPTURE, 0, position)
    return None


def _ogg_page_end(data: bytes, position: int) -> int | None:
    """Offset just past the page whose header starts at ``position`` (may lie past the end of ``data``); None
    when the bytes there are not a whole page header of stream structure version 0."""
    if len(data) < position + OGG_HEADER_BYTES or data[position + 4] != 0:
        return None
    segments = data[position + 26]
    table = data[position + OGG_HEADER_BYTES : position + OGG_HEADER_BYTES + segments]
    if len(table) < segments:
        return None
    return position + OGG_HEADER_BYTES + segments + sum(table)


def wav_truncation(path: Path | str) -> str | None:
    """Truncated when the ``data`` chunk states more bytes than the file holds (by over a second of audio)."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        header = file.read(12)
        if len(header) < 12 or header[8:12] != b"WAVE" or header[:4] not in (b"RIFF", b"RIFX"):
            return None  # RF64 / Wave64 and others: no 32-bit sizes to compare
        order = "<" if header[:4] == b"RIFF" else ">"
        bytes_per_second = None
        offset = 12
        for _ in range(WAV_MAX_CHUNKS):
            file.seek(offset)
            chunk = file.read(8)
            if len(chunk) < 8:
                return None
            chunk_id, chunk_size = chunk[:4], struct.unpack(order + "I", chunk[4:])[0]
            if chunk_id == b"fmt ":
                fmt = file.read(min(chunk_size, 16))
                if len(fmt) >= 12:
                    bytes_per_second = struct.unpack(order + "I", fmt[8:12])[0]
            elif chunk_id == b"data":
                if chunk_size in WAV_UNKNOWN_SIZES or not bytes_per_second:
                    return None
                held = size - (offset + 8)
                missing_seconds = (chunk_size - held) / bytes_per_second
                if missing_seconds > WAV_TOLERANCE_SECONDS:
                    return (f"truncated: the WAV data chunk states {chunk_size / bytes_per_second:.1f} s, "
                            f"the file holds {max(held, 0) / bytes_per_second:.1f} s")
                return None
            offset += 8 + chunk_size + (chunk_size & 1)  # chunks are padded to an even size
    return None
