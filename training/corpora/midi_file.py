"""A minimal Standard MIDI File writer: note events in, format-1 ``.mid`` bytes out.

Writing the file ourselves (rather than through music21) makes transposition, tempo, programs and
velocities plain arithmetic on a note list, which is what rendering thousands of variants needs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TICKS_PER_QUARTER = 480
DRUM_CHANNEL = 9  # General MIDI reserves channel 10 (index 9) for percussion
MELODIC_CHANNELS = tuple(channel for channel in range(16) if channel != DRUM_CHANNEL)


@dataclass(frozen=True)
class MidiNote:
    """One sounding note: times in quarter notes, ``pitch`` a MIDI number, ``track`` an index into the tracks."""

    onset_quarters: float
    duration_quarters: float
    pitch: int
    velocity: int
    track: int


@dataclass(frozen=True)
class MidiTrack:
    """One instrument: a General MIDI ``program`` (0..127) on its own channel, or the drum kit (``drums``:
    channel 10, where ``program`` picks the kit)."""

    program: int
    name: str = ""
    drums: bool = False


def _variable_length(value: int) -> bytes:
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(groups))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack(">I", len(payload)) + payload


def _events_to_track(events: list[tuple[int, int, bytes]]) -> bytes:
    """``events`` are (tick, order, message); order 0 sorts note-offs before note-ons at the same tick."""
    payload = bytearray()
    previous_tick = 0
    for tick, _, message in sorted(events, key=lambda event: (event[0], event[1])):
        payload += _variable_length(tick - previous_tick) + message
        previous_tick = tick
    payload += b"\x00\xff\x2f\x00"  # end of track
    return _chunk(b"MTrk", bytes(payload))


def _channels(tracks: list[MidiTrack]) -> list[int]:
    """Melodic tracks take the melodic channels in order; drum tracks share the drum channel."""
    melodic = [track for track in tracks if not track.drums]
    if len(melodic) > len(MELODIC_CHANNELS):
        raise ValueError(f"at most {len(MELODIC_CHANNELS)} instrument tracks, got {len(melodic)}")
    next_melodic = iter(MELODIC_CHANNELS)
    return [DRUM_CHANNEL if track.drums else next(next_melodic) for track in tracks]


def midi_file_bytes(notes: list[MidiNote], tracks: list[MidiTrack], quarter_bpm: float) -> bytes:
    """Format-1 MIDI: a tempo track, then one track per instrument (melodic ones skip the drum channel)."""
    channels = _channels(tracks)
    microseconds_per_quarter = round(60_000_000 / quarter_bpm)
    tempo_track = _events_to_track([(0, 0, b"\xff\x51\x03" + microseconds_per_quarter.to_bytes(3, "big"))])
    track_events: list[list[tuple[int, int, bytes]]] = []
    for index, track in enumerate(tracks):
        channel = channels[index]
        name = track.name.encode("ascii", "replace")[:127]
        track_events.append(
            [(0, 0, b"\xff\x03" + bytes([len(name)]) + name), (0, 1, bytes([0xC0 | channel, track.program]))]
        )
    for note in notes:
        if not 0 <= note.pitch <= 127:
            continue
        channel = channels[note.track]
        start = round(note.onset_quarters * TICKS_PER_QUARTER)
        end = max(start + 1, round((note.onset_quarters + note.duration_quarters) * TICKS_PER_QUARTER))
        velocity = min(127, max(1, note.velocity))
        track_events[note.track].append((start, 2, bytes([0x90 | channel, note.pitch, velocity])))
        track_events[note.track].append((end, 0, bytes([0x80 | channel, note.pitch, 0])))
    header = _chunk(b"MThd", struct.pack(">HHH", 1, len(tracks) + 1, TICKS_PER_QUARTER))
    return header + tempo_track + b"".join(_events_to_track(events) for events in track_events)
