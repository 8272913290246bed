"""Do two libraries that indexed the same files hold the same analyses? For a speed change that must not change
results: index a folder with the code before and after it, then

    .venv/bin/python benchmarks/compare_libraries.py BEFORE.db AFTER.db

Tracks are matched by path. Landmarks, keys, top tags, tempo and tags must be identical; embeddings agree within
``EMBEDDING_COSINE_TOLERANCE`` and probabilities within ``PROBABILITY_TOLERANCE`` (float rounding of a network run
another way). Prints the largest differences and exits 1 when anything is off.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

import numpy as np

EMBEDDING_COSINE_TOLERANCE = 1e-5  # 1 - cosine of a track's embedding before and after
PROBABILITY_TOLERANCE = 1e-4  # key and tag probabilities, absolute
EXACT_ANALYSIS_COLUMNS = ("key_index", "top_tag_index", "window_count", "bpm", "bpm_confidence", "tempo_version")
TRACK_COLUMNS = ("size", "quick_hash", "title", "artist", "album", "genre", "duration", "codec", "bitrate",
                 "sample_rate", "tag_key", "bpm")


def rows_by_path(database: Path) -> dict[str, dict]:
    """Each track's stored row, its analyses (by model) and landmarks, keyed by path."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    tracks = {row["id"]: dict(row) for row in connection.execute("SELECT * FROM tracks")}
    for track in tracks.values():
        track["analyses"], track["landmarks"] = {}, None
    for row in connection.execute("SELECT * FROM analyses"):
        tracks[row["track_id"]]["analyses"][row["model_id"]] = dict(row)
    for row in connection.execute("SELECT track_id, version, hashes, frames FROM track_landmarks"):
        tracks[row["track_id"]]["landmarks"] = (row["version"], bytes(row["hashes"]), bytes(row["frames"]))
    connection.close()
    return {track["path"]: track for track in tracks.values()}


def differences(before: dict[str, dict], after: dict[str, dict]) -> tuple[list[str], dict[str, float]]:
    """(what differs, one line each; the largest deviation of each float measure)."""
    problems: list[str] = []
    largest = {"1 - embedding cosine": 0.0, "key probability": 0.0, "key confidence": 0.0, "tag probability": 0.0}
    if set(before) != set(after):
        problems.append(f"tracks differ: {len(set(before) ^ set(after))} paths in one library only")
    for path in sorted(set(before) & set(after)):
        old, new = before[path], after[path]
        problems += [f"{path}: {column} {old[column]!r} -> {new[column]!r}"
                     for column in TRACK_COLUMNS if old[column] != new[column]]
        if old["landmarks"] != new["landmarks"]:
            problems.append(f"{path}: landmarks differ")
        if set(old["analyses"]) != set(new["analyses"]):
            problems.append(f"{path}: analysed by other models")
        for model, old_analysis in old["analyses"].items():
            new_analysis = new["analyses"].get(model)
            if new_analysis is None:
                continue
            problems += [f"{path}: {column} {old_analysis[column]!r} -> {new_analysis[column]!r}"
                         for column in EXACT_ANALYSIS_COLUMNS if old_analysis[column] != new_analysis[column]]
            old_embedding = np.frombuffer(old_analysis["embedding"], np.float32).astype(np.float64)
            new_embedding = np.frombuffer(new_analysis["embedding"], np.float32).astype(np.float64)
            cosine = old_embedding @ new_embedding / max(np.linalg.norm(old_embedding) * np.linalg.norm(new_embedding), 1e-30)
            largest["1 - embedding cosine"] = max(largest["1 - embedding cosine"], 1.0 - cosine)
            if old_analysis["key_confidence"] is not None:
                largest["key confidence"] = max(largest["key confidence"],
                                                abs(old_analysis["key_confidence"] - new_analysis["key_confidence"]))
            for column, measure in (("key_probs", "key probability"), ("tag_probs", "tag probability")):
                if old_analysis[column] is not None:
                    gap = np.abs(np.frombuffer(old_analysis[column], np.float32)
                                 - np.frombuffer(new_analysis[column], np.float32)).max()
                    largest[measure] = max(largest[measure], float(gap))
    if largest["1 - embedding cosine"] > EMBEDDING_COSINE_TOLERANCE:
        problems.append(f"an embedding moved by 1 - cosine {largest['1 - embedding cosine']:.2e}")
    for measure in ("key probability", "key confidence", "tag probability"):
        if largest[measure] > PROBABILITY_TOLERANCE:
            problems.append(f"a {measure} moved by {largest[measure]:.2e}")
    return problems, largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    options = parser.parse_args()
    before, after = rows_by_path(options.before), rows_by_path(options.after)
    problems, largest = differences(before, after)
    print(f"{len(before)} and {len(after)} tracks; largest deviations: "
          + ", ".join(f"{measure} {value:.2e}" for measure, value in largest.items()))
    for line in problems[:40]:
        print("  " + line)
    print("same analyses" if not problems else f"{len(problems)} differences")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
