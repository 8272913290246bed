"""How well landmark hashes tell recordings apart, on real music: the figures behind ``MIN_ALIGNED_HASHES``,
``MIN_SHARE_OF_BEST`` and ``MAX_BUCKET_ENTRIES`` (engine/landmark_index.py).

    cd /work && main/.venv/bin/python main/benchmarks/bench_landmark_quality.py --debian data/debian/manifest.jsonl

(from the folder the corpora were built in: manifest paths are relative to it)

1. Separation: the held-out tracks of the Debian manifest hashed as ``engine index`` hashes them (windows plus
   coverage spans), 30 s excerpts drawn and encoded at 96 kbps exactly as ``engine eval`` draws them; for each
   excerpt, the aligned-hash count of its own track and of the best other track.
2. Conditions: the same excerpts shortened to 20 and 10 s, or put through ``engine eval``'s key corruptions
   (pink noise at 5 dB SNR, 3 kHz low-pass + 48 kbps MP3, reverb + telephone band) before the 96 kbps MP3:
   how often the own track is named the same recording, and how often another track is.
3. Skew: every track of the manifest hashed the same way; the collision probability of the hashes (the chance
   that two random hashes are equal) and what it means for a 100k-track library: the entries a query hash
   finds in its bucket, and the share of query hashes in buckets over ``MAX_BUCKET_ENTRIES``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.audio import AudioDecodeError, decode_mono, read_windows  # noqa: E402
from engine.landmark_audio import track_landmarks  # noqa: E402
from engine.landmark_index import MAX_BUCKET_ENTRIES, aligned_matches, sorted_rows  # noqa: E402
from engine.landmarks import Landmarks, landmarks  # noqa: E402
from training.corpora.audio_files import write_audio  # noqa: E402
from training.corpora.manifest import read_manifest  # noqa: E402
from training.evaluation.corruptions import CORRUPTIONS, EXCERPT_BITRATE  # noqa: E402
from training.evaluation.evaluate import EvaluationSettings, _limited, draw_clean_excerpt_and_shifts  # noqa: E402

RATE = 16000  # the default model's rate: what indexing decodes at
WINDOW_SAMPLES = 43200
MAX_WINDOWS = 6
LIBRARY_TRACKS = 100_000


def indexed_landmarks(path: str) -> Landmarks:
    return track_landmarks(path, read_windows(path, RATE, WINDOW_SAMPLES, MAX_WINDOWS))


def query_landmarks_of(excerpt: np.ndarray, sample_rate: int, folder: Path) -> Landmarks:
    """An excerpt through a real 96 kbps MP3, decoded at the indexing rate and hashed whole."""
    path = folder / "excerpt.mp3"
    write_audio(path, excerpt, sample_rate, codec="mp3", bit_rate=EXCERPT_BITRATE)
    return landmarks(decode_mono(path, RATE), RATE)


def library_rows(library: list[Landmarks]) -> np.ndarray:
    """The index rows of the library, with each track's position in ``library`` as its track id."""
    return sorted_rows(enumerate(library))


def held_out(records: list[dict]) -> tuple[list[Landmarks], list[np.ndarray], int]:
    """The held-out tracks hashed as indexing hashes them, and their ``engine eval`` excerpts (clean audio)."""
    settings = EvaluationSettings()
    records = _limited([r for r in records if r["split"] == "test"], None, settings.seed)
    rng = random.Random(settings.seed)
    library, excerpts = [], []
    for record in records:
        try:
            track = decode_mono(record["path"], settings.sample_rate)
        except AudioDecodeError:
            continue
        excerpts.append(draw_clean_excerpt_and_shifts(track, settings.sample_rate, rng)[0])
        library.append(indexed_landmarks(record["path"]))
    return library, excerpts, settings.sample_rate


def separation(library: list[Landmarks], queries: list[Landmarks]) -> dict:
    rows = library_rows(library)
    own, other = [], []
    for number, query in enumerate(queries):
        scores = np.zeros(len(library))
        for match in aligned_matches(rows, query, min_aligned=1):
            scores[match.track_id] = match.aligned_hashes
        own.append(scores[number])
        other.append(np.delete(scores, number).max())
    own, other = np.array(own), np.array(other)
    return {"tracks": len(library), "hashes_per_track": round(float(np.mean([len(x) for x in library]))),
            "hashes_per_30s_query": round(float(np.mean([len(q) for q in queries]))),
            "own_aligned_p5_p50": [float(np.percentile(own, 5)), float(np.median(own))],
            "own_aligned_lowest": sorted(own.tolist())[:5],
            "best_other_aligned_p50_p95_max": [float(np.median(other)), float(np.percentile(other, 95)), float(other.max())],
            "own_above_every_other": float(np.mean(own > other))}


def conditions(library: list[Landmarks], excerpts: list[np.ndarray], sample_rate: int, folder: Path) -> dict:
    rows = library_rows(library)
    variants = {"30 s clean": lambda x, rng: x, "20 s": lambda x, rng: x[: 20 * sample_rate],
                "10 s": lambda x, rng: x[: 10 * sample_rate],
                **{f"30 s {name}": (lambda corrupt: lambda x, rng: corrupt(x, sample_rate, rng))(corrupt)
                   for name, corrupt in CORRUPTIONS.items()}}
    results = {}
    for name, variant in variants.items():
        rng = np.random.default_rng(5)
        named, wrong = [], []
        for number, excerpt in enumerate(excerpts):
            found = aligned_matches(rows, query_landmarks_of(variant(excerpt, rng), sample_rate, folder))
            named.append(any(match.track_id == number for match in found))
            wrong.append(any(match.track_id != number for match in found))
        results[name] = {"own_track_named_same_recording": float(np.mean(named)),
                         "another_track_named": float(np.mean(wrong))}
    return results


def skew(records: list[dict]) -> dict:
    found = []
    for record in records:
        try:
            found.append(indexed_landmarks(record["path"]).hashes)
        except AudioDecodeError:
            continue
    hashes = np.concatenate(found)
    total = hashes.size
    _, counts = np.unique(hashes, return_counts=True)
    collision = float((counts * (counts - 1.0)).sum() / (total * (total - 1.0)))
    library_rows = LIBRARY_TRACKS * total / len(found)
    heavy = counts > MAX_BUCKET_ENTRIES * total / library_rows  # buckets that would pass the cap at 100k
    return {"tracks": len(found), "hashes": int(total), "collision_probability": collision,
            "uniform_32bit_collision_probability": 2.0**-32,
            "entries_per_query_hash_at_100k": round(collision * library_rows, 1),
            "query_hashes_over_cap_at_100k": round(float(counts[heavy].sum() / total), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debian", type=Path, required=True, help="the game-music manifest (engine train data)")
    options = parser.parse_args()
    records = read_manifest(options.debian)
    library, excerpts, sample_rate = held_out(records)
    with tempfile.TemporaryDirectory() as folder:
        queries = [query_landmarks_of(excerpt, sample_rate, Path(folder)) for excerpt in excerpts]
        report = {"separation": separation(library, queries),
                  "conditions": conditions(library, excerpts, sample_rate, Path(folder))}
    report["skew"] = skew(records)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
