"""The LIST/INFO chunk of a RIFF WAVE file (INAM, IART, ...): the tags that DAWs, recorders and Windows write into
WAV files. mutagen reads a WAV's ID3 chunk only, so a WAV tagged this way showed its file name and no artist."""

from __future__ import annotations

import struct

INFO_FIELDS = {b"INAM": "title", b"IART": "artist", b"IPRD": "album", b"IGNR": "genre", b"ICRD": "year",
               b"ITRK": "track_number", b"IPRT": "track_number"}
MAX_INFO_BYTES = 1 << 20  # a tag list larger than this is no tag list


def riff_info_fields(path: str) -> dict[str, str]:
    """{field: text} from the file's LIST/INFO chunks (an encoder may write one of its own before the data, an
    editor another after it); empty when it is no RIFF WAVE file or has none."""
    fields: dict[str, str] = {}
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
            if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                return {}
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return fields
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"LIST" and 4 <= size <= MAX_INFO_BYTES:
                    body = handle.read(size)
                    if body[:4] == b"INFO":
                        for field, text in _info_fields(body[4:]).items():
                            fields.setdefault(field, text)
                    handle.seek(size % 2, 1)
                else:
                    handle.seek(size + size % 2, 1)  # chunks are padded to an even length
    except OSError:
        return fields


def _info_fields(body: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    offset = 0
    while offset + 8 <= len(body):
        name, size = body[offset:offset + 4], struct.unpack("<I", body[offset + 4:offset + 8])[0]
        raw = body[offset + 8:offset + 8 + size].split(b"\0", 1)[0]
        offset += 8 + size + size % 2
        field = INFO_FIELDS.get(name)
        if field is None or field in fields or not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # the INFO chunk predates UTF-8: Windows wrote its code page
        fields[field] = text.strip()
    return fields
