"""The tempo of real produced songs whose tempo is known: the Frets on Fire songs of the Debian corpus.

Each song of ``fretsonfire-songs-*`` ships its mix (``song.ogg``), its guitar stem (``guitar.ogg``) and the game's
note chart (``notes.mid``), whose tempo events the chart is played against, so the chart's tempo is the song's.
Songs whose chart changes tempo are left out. Every file's middle 30 s, decoded once as ``engine bpm``
reads it (``engine.tempo_audio.file_tempo``), goes through the engine's estimate and the onset-autocorrelation baseline;
Acc1 / Acc2 as ``engine eval`` counts them (``training.evaluation.tempo_eval``). The tempo estimator was never
fitted on these songs (its scorer learned from generated renders), but eight songs choose nothing: this is a spot
check on real drums and guitars, not a validation set. Run from the repository root:

    python -m benchmarks.experiments.tempo_chart_songs --manifest ../data/debian/manifest.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.audio import probe
from engine.tempo_audio import TEMPO_SAMPLE_RATE, middle_span
from training.corpora.manifest import read_manifest
from training.evaluation.tempo_eval import engine_bpm, onset_autocorrelation_bpm, tempo_accuracy

CHART_PACKAGE_PREFIX = "fretsonfire-songs-"
STEMS = ("song.ogg", "guitar.ogg")


def chart_tempi(chart: Path) -> list[float]:
    """The tempo (BPM) of each tempo event of a MIDI file, in file order."""
    from music21 import midi

    midi_file = midi.MidiFile()
    midi_file.open(str(chart))
    midi_file.read()
    midi_file.close()
    return [60e6 / int.from_bytes(event.data, "big") for track in midi_file.tracks for event in track.events
            if event.type == midi.MetaEvents.SET_TEMPO]


def chart_songs(manifest: Path) -> list[tuple[Path, float]]:
    """(song folder, its constant chart tempo) for each Frets on Fire mix in ``manifest``; songs whose chart changes
    tempo (or has none) are left out."""
    songs = []
    for record in read_manifest(manifest):
        path = Path(record["path"])
        if not record.get("package", "").startswith(CHART_PACKAGE_PREFIX) or path.name != STEMS[0]:
            continue
        tempi = chart_tempi(path.parent / "notes.mid")
        if tempi and max(tempi) - min(tempi) < 1e-6:
            songs.append((path.parent, tempi[0]))
    return songs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, required=True, help="the Debian game-music manifest")
    arguments = parser.parse_args()
    rows = []
    for folder, truth in chart_songs(arguments.manifest):
        for stem in STEMS:
            path = folder / stem
            span = middle_span(path, probe(path).duration_seconds or 0.0, TEMPO_SAMPLE_RATE)  # as file_tempo reads it
            engine = engine_bpm(span, TEMPO_SAMPLE_RATE)
            baseline = onset_autocorrelation_bpm(span, TEMPO_SAMPLE_RATE)
            rows.append({"song": folder.name, "stem": stem, "chart_bpm": round(truth, 2), "engine_bpm": engine,
                         "engine_acc1_acc2": tempo_accuracy(engine, truth), "baseline_bpm": baseline,
                         "baseline_acc1_acc2": tempo_accuracy(baseline, truth)})
            print(json.dumps(rows[-1]), flush=True)
    for stem in STEMS:
        picked = [row for row in rows if row["stem"] == stem]
        for method in ("engine", "baseline"):
            hits = [row[f"{method}_acc1_acc2"] for row in picked]
            print(f"{stem} ({len(picked)} songs), {method}: Acc1 {sum(a for a, _ in hits)}, "
                  f"Acc2 {sum(b for _, b in hits)}")


if __name__ == "__main__":
    main()
