"""An MP3's own statement of its length, which FFmpeg does not always use.

An MP3 carries its frame count in a header inside its first frame (LAME's ``Info`` for a constant bitrate, ``Xing``
or Fraunhofer's ``VBRI`` for a variable one). FFmpeg reads it only when the frame follows the ID3v2 tag directly and
the file is not much longer than the header says; otherwise (junk before the first frame, an APEv2 tag with a cover
at the end, two files joined) and when there is none, it guesses the length from the first frame's bitrate and the
file's size: right for a constant bitrate, off by minutes for a variable one whose first frames are quiet (a 45 s file
stated as 230 s), which would make a whole file look truncated and its middle lie past its end.
``header_seconds`` reads the header itself; ``engine.audio`` compares it with FFmpeg's length.
"""

from __future__ import annotations

from pathlib import Path

ID3V2_HEADER_BYTES = 10
SEARCH_BYTES = 65_536  # after the ID3v2 tags: the first frame, and junk before it that FFmpeg would skip
LENGTH_TAGS = (b"Xing", b"Info")
VBRI_TAG = b"VBRI"
VBRI_OFFSET = 36  # from the frame's first byte
XING_FRAMES_FLAG = 0x1
SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits


def id3v2_size(header: bytes) -> int:
    """Bytes an ID3v2 tag takes at the start of a file (0 when ``header``, the file's first 10 bytes, is none)."""
    if len(header) < ID3V2_HEADER_BYTES or header[:3] != b"ID3" or any(byte & 0x80 for byte in header[6:10]):
        return 0
    size = (header[6] << 21) | (header[7] << 14) | (header[8] << 7) | header[9]  # "syncsafe": 7 bits a byte
    footer = ID3V2_HEADER_BYTES if header[5] & 0x10 else 0
    return ID3V2_HEADER_BYTES + size + footer


def header_seconds(path: Path | str) -> float | None:
    """The length the MP3 at ``path`` states in a frame-count header (after any ID3v2 tags, up to
    ``SEARCH_BYTES`` in); None when it has none, or one without a frame count, or cannot be read."""
    try:
        with open(path, "rb") as file:
            offset = 0
            while True:  # tags may be repeated (a tagger that prepends a second one)
                file.seek(offset)
                size = id3v2_size(file.read(ID3V2_HEADER_BYTES))
                if size == 0:
                    break
                offset += size
            file.seek(offset)
            data = file.read(SEARCH_BYTES)
    except OSError:
        return None
    for tag in (*LENGTH_TAGS, VBRI_TAG):
        position = data.find(tag)
        while position >= 0:
            seconds = _stated_by(data, position, tag)
            if seconds is not None:
                return seconds
            position = data.find(tag, position + 1)
    return None


def _stated_by(data: bytes, position: int, tag: bytes) -> float | None:
    """The length a header ``tag`` at ``position`` states, when a valid frame header holds it there."""
    if tag == VBRI_TAG:
        frame = _frame(data, position - VBRI_OFFSET)
        count_at = position + 14  # version, delay, quality (2 bytes each), then the byte count (4)
        if frame is None or count_at + 4 > len(data):
            return None
        frames = int.from_bytes(data[count_at: count_at + 4], "big")
        return frames * frame[0] / frame[1] if frames else None
    for side_info in (32, 17, 9):  # Layer III side information: MPEG-1 stereo / mono or MPEG-2 stereo, MPEG-2 mono
        frame = _frame(data, position - 4 - side_info)
        if frame is None or frame[2] != side_info or position + 12 > len(data):
            continue
        flags = int.from_bytes(data[position + 4: position + 8], "big")
        frames = int.from_bytes(data[position + 8: position + 12], "big") if flags & XING_FRAMES_FLAG else 0
        return frames * frame[0] / frame[1] if frames else None
    return None


def is_frame_sync(data: bytes, start: int = 0) -> bool:
    """Whether the 11 sync bits an MPEG audio frame begins with start at ``start``."""
    return 0 <= start and start + 1 < len(data) and data[start] == 0xFF and data[start + 1] & 0xE0 == 0xE0


def _frame(data: bytes, start: int) -> tuple[int, int, int] | None:
    """(samples per frame, sample rate, Layer III side-information bytes) of a valid MPEG audio frame header at
    ``start``; None when there is none."""
    if start + 4 > len(data) or not is_frame_sync(data, start):
        return None
    version, layer = (data[start + 1] >> 3) & 3, (data[start + 1] >> 1) & 3
    bitrate_index, rate_index = data[start + 2] >> 4, (data[start + 2] >> 2) & 3
    if version == 1 or layer == 0 or bitrate_index == 15 or rate_index == 3:
        return None
    mono = data[start + 3] >> 6 == 3
    mpeg1 = version == 3
    samples = 384 if layer == 3 else 1152 if layer == 2 or mpeg1 else 576
    side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    return samples, SAMPLE_RATES[version][rate_index], side_info
