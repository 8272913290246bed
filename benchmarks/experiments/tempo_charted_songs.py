"""Tempo on real recordings whose tempo is known: 30 s excerpts of the Frets on Fire songs, truth from their charts.

Each song folder of the ``fretsonfire-songs-*`` Debian packages holds the stems of a human-performed recording
(``song.ogg``, ``guitar.ogg``, ``rhythm.ogg`` if any; the full mix is their sum) and the game's note chart
(``notes.mid``), whose tempo map the game plays the chart against, so it is aligned to the recording (``song.ini``
may shift it by ``delay`` ms). The full mix is cut into ``EXCERPT_SECONDS`` excerpts every ``EXCERPT_STEP_SECONDS``;
an excerpt is kept where the chart's tempo holds within ``TEMPO_CONSTANCY`` over it and the chart has notes from
its start to its end, and its truth is the chart's mean tempo there. Every method of ``engine eval``
(``training.evaluation.tempo_eval.tempo_methods``: the engine, the onset-autocorrelation baseline, Essentia's
RhythmExtractor2013) estimates every excerpt at its own rate. Evaluation only; nothing is fitted. Run from the
repository root:

    python -m benchmarks.experiments.tempo_charted_songs --songs-root /work/data/debian/extracted \
        --out-dir /work/data/tempo_charted_songs
"""

from __future__ import annotations

import argparse
import configparser
import json
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio import decode_mono
from engine.tempo import ANALYSIS_SECONDS, FRAMES_PER_SECOND, onset_strength
from engine.tempo_audio import TEMPO_SAMPLE_RATE
from training.evaluation.tempo_eval import TOLERANCE, method_estimates, tempo_accuracy, tempo_methods
from training.evaluation.tonal_midi import MICROSECONDS_PER_MINUTE

SONGS_SUBPATH = "usr/share/games/fretsonfire/data/songs"  # inside each extracted fretsonfire-songs-* package
STEM_FILES = ("song.ogg", "guitar.ogg", "rhythm.ogg")  # summed into the full mix; absent ones are skipped
EXCERPT_SECONDS = ANALYSIS_SECONDS  # what the estimator analyses of a longer signal
EXCERPT_STEP_SECONDS = 15.0
TEMPO_CONSTANCY = 0.01  # an excerpt's chart tempi all within 1 % of each other, else it has no single truth
DEFAULT_MICROSECONDS_PER_QUARTER = 500_000  # the SMF default (120 BPM) before the first Set Tempo event
# how a miss's estimate / truth is named when within TOLERANCE of one of these
NAMED_RATIOS = {"×1/4": 1 / 4, "×1/3": 1 / 3, "×1/2": 1 / 2, "×2/3": 2 / 3, "×3/4": 3 / 4, "×4/3": 4 / 3,
                "×3/2": 3 / 2, "×2": 2.0, "×3": 3.0, "×4": 4.0}
LEVEL_CONVENTION_SHARE = 0.8  # a song is flagged when every method reads one non-1 ratio on this share of it
ALIGNMENT_STEP_SECONDS = 0.01  # the chart's beat grid is shifted by up to half a beat, in these steps, on the onsets

_META, _SYSEX, _SYSEX_ESCAPE, _SET_TEMPO, _NOTE_ON = 0xFF, 0xF0, 0xF7, 0x51, 0x90


class ChartFormatError(ValueError):
    """A ``notes.mid`` this reader cannot take (not a Standard MIDI File, or SMPTE time division)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class Chart:
    """What the experiment needs of a note chart: ticks per quarter note, the Set Tempo events as (tick,
    microseconds per quarter) in tick order, and the ticks of the first and last note-on (any track)."""

    ticks_per_quarter: int
    tempo_events: list[tuple[int, int]]
    first_note_tick: int
    last_note_tick: int


@dataclass(frozen=True)
class TempoSegment:
    """A stretch of constant tempo in audio seconds (the chart's time plus the song's delay)."""

    start_seconds: float
    end_seconds: float  # inf for the last segment
    bpm: float


@dataclass(frozen=True)
class ChartedSong:
    """One song: its folder, its stems, its tempo map in audio seconds and the audio span its notes cover."""

    name: str
    folder: Path
    stems: list[Path]
    segments: list[TempoSegment]
    notes_span_seconds: tuple[float, float]
    delay_seconds: float


# --- the chart: a minimal Standard MIDI File reader (header division, Set Tempo, note-on ticks) ---------------

def _variable_length(data: bytes, position: int) -> tuple[int, int]:
    """(value, position after it) of MIDI's variable-length quantity at ``position``."""
    value = 0
    while True:
        byte = data[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, position


def _track_events(track: bytes) -> list[tuple[int, int, bytes]]:
    """(absolute tick, status byte, payload) of every event of one track chunk; running status resolved; for a meta
    event the payload is its type byte then its data."""
    events: list[tuple[int, int, bytes]] = []
    position, tick, running_status = 0, 0, 0
    while position < len(track):
        delta, position = _variable_length(track, position)
        tick += delta
        status = track[position]
        if status & 0x80:
            position += 1
        else:
            status = running_status  # running status: the data byte belongs to the previous channel status
        if status == _META:
            meta_type = track[position]
            length, position = _variable_length(track, position + 1)
            events.append((tick, status, bytes([meta_type]) + track[position : position + length]))
        elif status in (_SYSEX, _SYSEX_ESCAPE):
            length, position = _variable_length(track, position)
            events.append((tick, status, track[position : position + length]))
        else:
            running_status = status
            length = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
            events.append((tick, status, track[position : position + length]))
        position += length
    return events


def _chunks(data: bytes, path: Path) -> list[tuple[bytes, bytes]]:
    """(chunk type, chunk body) of every chunk of a Standard MIDI File."""
    chunks, position = [], 0
    while position + 8 <= len(data):
        kind, length = data[position : position + 4], struct.unpack(">I", data[position + 4 : position + 8])[0]
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 8 + length
    if not chunks or chunks[0][0] != b"MThd":
        raise ChartFormatError(path, "no MThd header: not a Standard MIDI File")
    return chunks


def read_chart(path: Path) -> Chart:
    """The chart's division, Set Tempo events (FF 51 03) across all tracks, and its note span. Raises
    ``ChartFormatError``."""
    chunks = _chunks(path.read_bytes(), path)
    division = struct.unpack(">H", chunks[0][1][4:6])[0]
    if division & 0x8000:
        raise ChartFormatError(path, "SMPTE time division: no ticks per quarter note")
    tempo_events, note_ticks = [], []
    for kind, body in chunks[1:]:
        if kind != b"MTrk":
            continue
        for tick, status, payload in _track_events(body):
            if status == _META and payload[0] == _SET_TEMPO and len(payload) == 4:
                tempo_events.append((tick, int.from_bytes(payload[1:4], "big")))
            elif status & 0xF0 == _NOTE_ON and len(payload) == 2 and payload[1] > 0:
                note_ticks.append(tick)
    if not note_ticks:
        raise ChartFormatError(path, "no notes")
    return Chart(division, sorted(tempo_events), min(note_ticks), max(note_ticks))


def tempo_segments(chart: Chart, delay_seconds: float) -> list[TempoSegment]:
    """The chart's tempo map as segments in audio seconds: chart time 0 falls ``delay_seconds`` into the audio."""
    events = list(chart.tempo_events)
    if not events or events[0][0] > 0:
        events.insert(0, (0, DEFAULT_MICROSECONDS_PER_QUARTER))
    segments, seconds = [], delay_seconds
    for (tick, microseconds), following in zip(events, [*events[1:], None]):
        length = np.inf if following is None else (following[0] - tick) * microseconds / chart.ticks_per_quarter / 1e6
        if length > 0:
            segments.append(TempoSegment(seconds, seconds + length, MICROSECONDS_PER_MINUTE / microseconds))
        seconds += length
    return segments


def tick_seconds(chart: Chart, segments: list[TempoSegment], tick: int) -> float:
    """Audio seconds of a chart tick, through ``segments`` (which ``tempo_segments`` made of ``chart``)."""
    ticks_done = 0.0
    for segment in segments:
        ticks_in_segment = (segment.end_seconds - segment.start_seconds) * segment.bpm / 60 * chart.ticks_per_quarter
        if tick <= ticks_done + ticks_in_segment:
            return segment.start_seconds + (tick - ticks_done) / chart.ticks_per_quarter * 60 / segment.bpm
        ticks_done += ticks_in_segment
    raise ValueError(f"tick {tick} beyond the tempo map")


def song_delay_seconds(song_ini: Path) -> float:
    """The ``delay`` (ms) of a song's ``song.ini`` in seconds; 0 when absent. The game shifts the chart by it."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(song_ini, encoding="utf-8")
    return float(parser.get("song", "delay", fallback="0") or 0) / 1000.0


def charted_songs(songs_root: Path) -> list[ChartedSong]:
    """Every song folder with a ``notes.mid`` under the extracted ``fretsonfire-songs-*`` packages."""
    songs = []
    for chart_path in sorted(songs_root.glob(f"fretsonfire-songs-*/{SONGS_SUBPATH}/*/*/notes.mid")):
        folder = chart_path.parent
        delay = song_delay_seconds(folder / "song.ini")
        chart = read_chart(chart_path)
        segments = tempo_segments(chart, delay)
        span = (tick_seconds(chart, segments, chart.first_note_tick),
                tick_seconds(chart, segments, chart.last_note_tick))
        stems = [folder / name for name in STEM_FILES if (folder / name).exists()]
        songs.append(ChartedSong(f"{folder.parent.name}/{folder.name}", folder, stems, segments, span, delay))
    return songs


# --- excerpts and their truth ---------------------------------------------------------------------------------

def excerpt_truth_bpm(segments: list[TempoSegment], start: float, end: float) -> float | None:
    """The chart's mean tempo over [start, end) (beats in it / its minutes); None when its tempi differ by more
    than ``TEMPO_CONSTANCY``."""
    overlapping = [s for s in segments if s.start_seconds < end and s.end_seconds > start]
    if not overlapping or start < segments[0].start_seconds:
        return None
    tempi = [s.bpm for s in overlapping]
    if max(tempi) / min(tempi) - 1.0 > TEMPO_CONSTANCY:
        return None
    beats = sum((min(s.end_seconds, end) - max(s.start_seconds, start)) * s.bpm / 60 for s in overlapping)
    return beats / (end - start) * 60


def excerpt_starts(duration_seconds: float) -> list[float]:
    """Starts of every whole ``EXCERPT_SECONDS`` excerpt, ``EXCERPT_STEP_SECONDS`` apart, from 0."""
    count = int(np.floor((duration_seconds - EXCERPT_SECONDS) / EXCERPT_STEP_SECONDS)) + 1
    return [index * EXCERPT_STEP_SECONDS for index in range(max(count, 0))]


def full_mix(stems: list[Path], sample_rate: int) -> np.ndarray:
    """The sum of the stems (mono float32 at ``sample_rate``), the shorter ones padded with silence."""
    decoded = [decode_mono(stem, sample_rate) for stem in stems]
    mix = np.zeros(max(audio.size for audio in decoded), dtype=np.float32)
    for audio in decoded:
        mix[: audio.size] += audio
    return mix


# --- the alignment check: does the chart's beat grid fall on the recording's onsets? ---------------------------

def beat_grid_seconds(segments: list[TempoSegment], start: float, end: float) -> np.ndarray:
    """The chart's quarter-note beat times (audio seconds) within [start, end]."""
    beats, phase = [], 0.0  # phase: beats elapsed since the first segment's start
    for segment in segments:
        period = 60.0 / segment.bpm
        first = np.ceil(phase - 1e-9) - phase  # fraction of a beat to the next whole beat
        time = segment.start_seconds + first * period
        while time < min(segment.end_seconds, end):
            if time >= start:
                beats.append(time)
            time += period
        if np.isinf(segment.end_seconds):
            break
        phase += (segment.end_seconds - segment.start_seconds) / period
    return np.array(beats)


def best_grid_shift(envelope: np.ndarray, beats: np.ndarray, shifts: np.ndarray) -> tuple[float, float, float]:
    """(shift in s, mean onset strength over the envelope's mean at that shift, the same at no shift) of the beat
    grid ``beats`` (s) moved by each of ``shifts`` (s) against the onset ``envelope`` (frames,)."""
    strengths = []
    for shift in shifts:
        frames = np.round((beats + shift) * FRAMES_PER_SECOND).astype(np.int64)
        frames = frames[(frames >= 0) & (frames < envelope.size)]
        strengths.append(float(envelope[frames].mean()) if frames.size else 0.0)
    best, mean = int(np.argmax(strengths)), float(envelope.mean())
    no_shift = int(np.argmin(np.abs(shifts)))
    return float(shifts[best]), strengths[best] / mean, strengths[no_shift] / mean


def beat_alignment(mix_at_tempo_rate: np.ndarray, song: ChartedSong) -> dict[str, float]:
    """Whether the chart's beats sit on the mix's onsets over the charted span: the grid's best shift and its
    contrast (about 1: the grid finds nothing), and the best shift in each half of the span (the same shift in
    both halves means the chart's tempo holds the recording's period over the whole song, not only its phase)."""
    envelope = onset_strength(mix_at_tempo_rate, TEMPO_SAMPLE_RATE)
    first, last = song.notes_span_seconds
    middle = (first + last) / 2
    half_beat = 0.5 * 60.0 / min(segment.bpm for segment in song.segments)
    shifts = np.arange(-np.floor(half_beat / ALIGNMENT_STEP_SECONDS), np.floor(half_beat / ALIGNMENT_STEP_SECONDS) + 1
                       ) * ALIGNMENT_STEP_SECONDS
    shift, contrast, contrast_at_zero = best_grid_shift(envelope, beat_grid_seconds(song.segments, first, last), shifts)
    first_half_shift = best_grid_shift(envelope, beat_grid_seconds(song.segments, first, middle), shifts)[0]
    second_half_shift = best_grid_shift(envelope, beat_grid_seconds(song.segments, middle, last), shifts)[0]
    return {"best_shift_seconds": round(shift, 3), "contrast_at_best": round(contrast, 2),
            "contrast_at_zero": round(contrast_at_zero, 2), "first_half_shift_seconds": round(first_half_shift, 3),
            "second_half_shift_seconds": round(second_half_shift, 3)}


# --- estimating and scoring -----------------------------------------------------------------------------------

def song_excerpts(song: ChartedSong, methods: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Per-excerpt results of every method on one song's full mix, and the song's beat alignment."""
    mixes = {rate: full_mix(song.stems, rate) for rate in {rate for _, rate in methods.values()} | {TEMPO_SAMPLE_RATE}}
    duration = mixes[TEMPO_SAMPLE_RATE].size / TEMPO_SAMPLE_RATE
    first_note, last_note = song.notes_span_seconds
    rows = []
    for start in excerpt_starts(duration):
        end = start + EXCERPT_SECONDS
        truth = excerpt_truth_bpm(song.segments, start, end)
        if truth is None or start < first_note or end > last_note:
            continue
        excerpt_by_rate = {rate: mix[int(start * rate) : int(start * rate) + int(EXCERPT_SECONDS * rate)]
                           for rate, mix in mixes.items()}
        estimates = method_estimates(methods, excerpt_by_rate)
        rows.append({"song": song.name, "start_seconds": start, "truth_bpm": round(truth, 3),
                     "methods": {name: excerpt_outcome(estimate, truth) for name, estimate in estimates.items()}})
    return rows, beat_alignment(mixes[TEMPO_SAMPLE_RATE], song)


def excerpt_outcome(estimate: float | None, truth: float) -> dict[str, Any]:
    """One method on one excerpt: its estimate, Acc1, Acc2 and estimate / truth."""
    acc1, acc2 = tempo_accuracy(estimate, truth)
    ratio = None if estimate is None else round(estimate / truth, 4)
    return {"bpm": estimate, "acc1": acc1, "acc2": acc2, "ratio": ratio}


def ratio_name(ratio: float | None) -> str:
    """A miss's estimate / truth named as a metrical ratio when within ``TOLERANCE`` of one, else to 2 decimals."""
    if ratio is None:
        return "none"
    for name, value in NAMED_RATIOS.items():
        if abs(ratio / value - 1.0) <= TOLERANCE:
            return name
    return f"×{ratio:.2f}"


def method_summary(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Acc1, Acc2 (shares) and the misses' ratios (name → count) of one method over some excerpts."""
    misses = Counter(ratio_name(o["ratio"]) for o in outcomes if not o["acc1"])
    return {"excerpts": len(outcomes), "acc1": float(np.mean([o["acc1"] for o in outcomes])),
            "acc2": float(np.mean([o["acc2"] for o in outcomes])), "miss_ratios": dict(misses.most_common())}


def level_convention_flag(rows: list[dict[str, Any]], method_names: list[str]) -> str | None:
    """The ratio every method reads on at least ``LEVEL_CONVENTION_SHARE`` of a song's excerpts, when it is not
    ×1: a hint that the chart counts its beat at another metrical level than listeners (or estimators) do."""
    shared = None
    for name in method_names:
        counts = Counter(ratio_name(row["methods"][name]["ratio"]) if not row["methods"][name]["acc1"] else "×1"
                         for row in rows)
        ratio, count = counts.most_common(1)[0]
        if ratio == "×1" or count < LEVEL_CONVENTION_SHARE * len(rows) or shared not in (None, ratio):
            return None
        shared = ratio
    return shared


def summaries(rows: list[dict[str, Any]], method_names: list[str]) -> dict[str, Any]:
    """Per song and overall, per method: Acc1 / Acc2 / miss ratios; overall both pooled over excerpts and as the
    mean of the songs' shares (songs weigh alike: excerpts of one song are not independent)."""
    songs = sorted({row["song"] for row in rows})
    per_song = {song: {name: method_summary([r["methods"][name] for r in rows if r["song"] == song])
                       for name in method_names} for song in songs}
    pooled = {name: method_summary([r["methods"][name] for r in rows]) for name in method_names}
    song_mean = {name: {key: float(np.mean([per_song[s][name][key] for s in songs])) for key in ("acc1", "acc2")}
                 for name in method_names}
    flags = {song: flag for song in songs
             if (flag := level_convention_flag([r for r in rows if r["song"] == song], method_names))}
    return {"per_song": per_song, "pooled": pooled, "song_mean": song_mean, "level_convention_flags": flags}


# --- the report ---------------------------------------------------------------------------------------------

def _percent(share: float) -> str:
    return f"{100 * share:.0f}"


def _misses(summary: dict[str, Any]) -> str:
    return ", ".join(f"{name} {count}" for name, count in summary["miss_ratios"].items()) or "–"


def markdown_report(report: dict[str, Any], command: str) -> str:
    """The per-song and overall table (Acc1 / Acc2 %, misses by estimate/truth), alignment and flags."""
    names = report["methods"]
    lines = [f"# Tempo on charted real recordings ({len(report['songs'])} songs, {len(report['excerpts'])} excerpts "
             f"of {EXCERPT_SECONDS:.0f} s every {EXCERPT_STEP_SECONDS:.0f} s; within {100 * TOLERANCE:.0f} %)", "",
             f"`{command}`", "",
             "| song | excerpts | chart BPM | " + " | ".join(f"{n} Acc1 / Acc2 % (misses)" for n in names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    summary = report["summary"]
    for song, by_method in summary["per_song"].items():
        tempi = sorted({round(r["truth_bpm"], 1) for r in report["excerpts"] if r["song"] == song})
        tempo_text = f"{tempi[0]:g}" if len(tempi) == 1 else f"{tempi[0]:g}–{tempi[-1]:g}"
        cells = [f"{_percent(s['acc1'])} / {_percent(s['acc2'])} ({_misses(s)})" for s in by_method.values()]
        excerpt_count = next(iter(by_method.values()))["excerpts"]
        lines.append(f"| {song} | {excerpt_count} | {tempo_text} | " + " | ".join(cells) + " |")
    pooled = [summary["pooled"][n] for n in names]
    lines.append(f"| **all excerpts** | {len(report['excerpts'])} | | "
                 + " | ".join(f"**{_percent(s['acc1'])} / {_percent(s['acc2'])}** ({_misses(s)})" for s in pooled)
                 + " |")
    lines.append(f"| **mean of songs** | {len(summary['per_song'])} | | " + " | ".join(
        f"**{_percent(summary['song_mean'][n]['acc1'])} / {_percent(summary['song_mean'][n]['acc2'])}**"
        for n in names) + " |")
    lines += ["", "Chart beat grid against the mix's onsets (best shift of the grid; mean onset strength on the beats "
              "over the envelope's mean at that shift and at 0):", "",
              "| song | delay s | best shift s | contrast at best | contrast at 0 | best shift, 1st / 2nd half s |",
              "|---|---|---|---|---|---|"]
    for song, entry in report["songs"].items():
        alignment = entry["alignment"]
        lines.append(f"| {song} | {entry['delay_seconds']:g} | {alignment['best_shift_seconds']:+.2f} | "
                     f"{alignment['contrast_at_best']} | {alignment['contrast_at_zero']} | "
                     f"{alignment['first_half_shift_seconds']:+.2f} / {alignment['second_half_shift_seconds']:+.2f} |")
    flags = summary["level_convention_flags"]
    lines += ["", "Songs every method reads at one other level on ≥ "
              f"{100 * LEVEL_CONVENTION_SHARE:.0f} % of excerpts: "
              + (", ".join(f"{song} ({ratio})" for song, ratio in flags.items()) or "none"), ""]
    return "\n".join(lines)


def song_record(song: ChartedSong, rows: list[dict[str, Any]], alignment: dict[str, float]) -> dict[str, Any]:
    """What the JSON keeps of one song besides its excerpts."""
    return {"folder": str(song.folder), "stems": [stem.name for stem in song.stems],
            "delay_seconds": song.delay_seconds, "excerpts_kept": len(rows),
            "tempo_map": [[round(s.start_seconds, 3), round(s.end_seconds, 3) if np.isfinite(s.end_seconds) else None,
                           round(s.bpm, 3)] for s in song.segments],
            "notes_span_seconds": [round(t, 3) for t in song.notes_span_seconds], "alignment": alignment}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs-root", type=Path, required=True,
                        help="folder holding the extracted fretsonfire-songs-* packages")
    parser.add_argument("--out-dir", type=Path, required=True, help="where the JSON and the Markdown table go")
    parser.add_argument("--no-essentia", action="store_true", help="leave Essentia's RhythmExtractor2013 out")
    arguments = parser.parse_args()
    methods = tempo_methods(essentia=not arguments.no_essentia)
    songs = charted_songs(arguments.songs_root)
    rows: list[dict[str, Any]] = []
    song_records = {}
    for song in songs:
        song_rows, alignment = song_excerpts(song, methods)
        rows += song_rows
        song_records[song.name] = song_record(song, song_rows, alignment)
        print(f"{song.name}: {len(song_rows)} excerpts, alignment {alignment}", flush=True)
    command = ("python -m benchmarks.experiments.tempo_charted_songs --songs-root "
               f"{arguments.songs_root} --out-dir {arguments.out_dir}"
               + (" --no-essentia" if arguments.no_essentia else ""))
    report = {"command": command, "methods": list(methods), "tolerance": TOLERANCE,
              "excerpt_seconds": EXCERPT_SECONDS, "step_seconds": EXCERPT_STEP_SECONDS,
              "tempo_constancy": TEMPO_CONSTANCY, "songs": song_records, "excerpts": rows,
              "summary": summaries(rows, list(methods))}
    arguments.out_dir.mkdir(parents=True, exist_ok=True)
    (arguments.out_dir / "tempo_charted_songs.json").write_text(json.dumps(report, indent=1))
    table = markdown_report(report, command)
    (arguments.out_dir / "tempo_charted_songs.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
