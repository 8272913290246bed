"""A minimal Standard MIDI File writer and tempo reader for the tonal test generator.

The evaluation generator has its own MIDI code on purpose: it must share nothing with the training corpora
but the FluidSynth renderer, so a bug or bias in one cannot flatter the other. One format-0 track; time in
ticks of ``TICKS_PER_QUARTER``; the tempo is one set-tempo event in microseconds per quarter note.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TICKS_PER_QUARTER = 480
DRUM_CHANNEL = 9  # GM percussion: "channel 10" counted from 1
MICROSECONDS_PER_MINUTE = 60_000_000
_NOTE_ON, _NOTE_OFF, _PROGRAM_CHANGE, _CONTROL_CHANGE = 0x90, 0x80, 0xC0, 0xB0
_META, _SET_TEMPO, _TIME_SIGNATURE, _END_OF_TRACK = 0xFF, 0x51, 0x58, 0x2F
_VOLUME_CONTROLLER, _PAN_CONTROLLER = 7, 10


class MidiFormatError(ValueError):
    """Bytes that are not a MIDI file this module wrote (no header, no tempo)."""


@dataclass(frozen=True)
class Note:
    """One note: start and length in ticks, MIDI pitch 0..127, velocity 1..127, channel 0..15."""

    start: int
    length: int
    pitch: int
    velocity: int
    channel: int


@dataclass(frozen=True)
class ChannelSetup:
    """The GM program (0-based; ignored on the drum channel), volume and pan (0..127) of one channel."""

    channel: int
    program: int
    volume: int = 100
    pan: int = 64


def microseconds_per_quarter(bpm: float) -> int:
    """The set-tempo value closest to ``bpm``; ``MICROSECONDS_PER_MINUTE / value`` is the tempo the file plays."""
    return round(MICROSECONDS_PER_MINUTE / bpm)


def _variable_length(value: int) -> bytes:
    """MIDI's variable-length quantity: 7 bits a byte, most significant first, the high bit set on all but the last."""
    encoded = bytearray([value & 0x7F])
    while value > 0x7F:
        value >>= 7
        encoded.insert(0, 0x80 | (value & 0x7F))
    return bytes(encoded)


def midi_bytes(notes: list[Note], channels: list[ChannelSetup], tempo_microseconds: int,
               beats_per_bar: int) -> bytes:
    """A format-0 file: tempo, time signature (``beats_per_bar``/4), channel set-up, then the notes."""
    events: list[tuple[int, int, bytes]] = []  # (tick, order at that tick: offs before ons, event bytes)
    events.append((0, 0, bytes([_META, _SET_TEMPO, 3]) + tempo_microseconds.to_bytes(3, "big")))
    events.append((0, 0, bytes([_META, _TIME_SIGNATURE, 4, beats_per_bar, 2, 24, 8])))
    for setup in channels:
        if setup.channel != DRUM_CHANNEL:
            events.append((0, 1, bytes([_PROGRAM_CHANGE | setup.channel, setup.program])))
        events.append((0, 1, bytes([_CONTROL_CHANGE | setup.channel, _VOLUME_CONTROLLER, setup.volume])))
        events.append((0, 1, bytes([_CONTROL_CHANGE | setup.channel, _PAN_CONTROLLER, setup.pan])))
    for note in notes:
        events.append((note.start, 3, bytes([_NOTE_ON | note.channel, note.pitch, note.velocity])))
        events.append((note.start + note.length, 2, bytes([_NOTE_OFF | note.channel, note.pitch, 0])))
    events.sort(key=lambda event: (event[0], event[1]))
    track = bytearray()
    previous_tick = 0
    for tick, _, payload in events:
        track += _variable_length(tick - previous_tick) + payload
        previous_tick = tick
    track += _variable_length(0) + bytes([_META, _END_OF_TRACK, 0])
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def tempo_of(data: bytes) -> int:
    """The set-tempo value (microseconds per quarter) of a file ``midi_bytes`` wrote: its track's first event."""
    if not data.startswith(b"MThd") or data[14:18] != b"MTrk":
        raise MidiFormatError("not a Standard MIDI File with one track")
    first_event = data[22:29]  # after the 14-byte header, the 8-byte track header
    if first_event[:4] != bytes([0, _META, _SET_TEMPO, 3]):
        raise MidiFormatError("the track does not open with a set-tempo event")
    return int.from_bytes(first_event[4:7], "big")
