"""The Duplicates view's engine call at library scale: CPU, wall and peak memory of ``Library.duplicate_groups``.

    .venv/bin/python benchmarks/bench_duplicates.py --db /work/.bench_data/scale/seeded-100000.db
    .venv/bin/python benchmarks/bench_duplicates.py --db /work/.bench_data/dups-100k.db --synthetic 100000
    .venv/bin/python benchmarks/bench_duplicates.py --db ... --profile          # + where the time goes (cProfile)

Each measurement runs in a fresh interpreter, so its peak RSS is its own. The landmark index is brought up to date
first and timed apart (after an index run it already is), then ``duplicate_groups`` is timed: CPU (user + system),
wall, and the process's peak resident memory during the call (VmHWM, reset before it) beside its resident memory
before. ``--synthetic N`` first writes a library of N distinct recordings through ``Store.save_tracks``: random
landmarks drawn from a vocabulary sized so that a query hash finds ``ENTRIES_PER_HASH`` library entries (what real
hashes found at 100k tracks, BENCHMARKS.md "Same-recording matching"), and 1 % of the tracks copies of another
track that keep 60 % of its hashes (a re-encode does not reproduce every peak). The seeded scale library
(``bench_scale.py``) is 16 clips copied thousands of times: there every hash is in more than ``MAX_BUCKET_ENTRIES``
entries, so all are skipped as stop words and no group is found; it times the lookups, not the grouping.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

HASHES_PER_TRACK = 740  # what a 25 s clip of the scale library stores; a 2.7 min track stores about 1,700
ENTRIES_PER_HASH = 17  # library entries per query hash, real hashes at 100k tracks
TRACK_FRAMES = 9_375  # 2.5 min of 16 ms landmark frames
COPY_SHARE = 0.01
COPY_KEEPS = 0.6
WRITE_BATCH = 2_000
PROFILE_LINES = 18


def build_synthetic(database: Path, tracks: int) -> float:
    """Write ``tracks`` distinct recordings (and their copies, see the module docstring); returns seconds."""
    import numpy as np

    from engine.landmarks import Landmarks
    from engine.library import Library
    from engine.metadata import TrackMetadata
    from engine.model_spec import DEFAULT_MODEL_DIR
    from engine.store import NewTrack
    from engine.track_analysis import TrackAnalysis

    started = time.perf_counter()
    generator = np.random.default_rng(0)
    vocabulary = tracks * HASHES_PER_TRACK // ENTRIES_PER_HASH
    originals = max(1, round(tracks * (1 - COPY_SHARE)))
    with Library(database, DEFAULT_MODEL_DIR) as library:
        if library.track_count() >= tracks:
            return 0.0
        model = library.model()
        tag_count = len(model.config.tag_names)
        for start in range(0, tracks, WRITE_BATCH):
            items = []
            for number in range(start, min(tracks, start + WRITE_BATCH)):
                landmarks = _recording_landmarks(number if number < originals else generator.integers(originals),
                                                 vocabulary)
                if number >= originals:  # a copy: the same recording with some peaks lost
                    kept = generator.random(len(landmarks)) < COPY_KEEPS
                    landmarks = Landmarks(landmarks.hashes[kept], landmarks.frames[kept])
                embedding = generator.normal(size=model.config.embedding_dim).astype(np.float32)
                analysis = TrackAnalysis(embedding / np.linalg.norm(embedding),
                                         generator.dirichlet(np.full(24, 0.3)).astype(np.float32),
                                         generator.random(tag_count, dtype=np.float32) if tag_count else None, 6)
                metadata = TrackMetadata(title=f"Track {number:06d}", artist=f"Artist {number % 2_000:04d}",
                                         duration=150.0, codec="mp3", bitrate=128_000 + 32_000 * (number % 3))
                items.append(NewTrack(f"/music/synthetic/{number // 500:04d}/track{number:06d}.mp3",
                                      4_000_000 + number, number, f"{number:032x}", metadata, analysis,
                                      landmarks=landmarks))
            library.store.save_tracks(items, model.model_id)
            print(f"  {start + len(items):,} tracks written ({time.perf_counter() - started:.0f} s)", flush=True)
    return time.perf_counter() - started


def _recording_landmarks(recording: int, vocabulary: int):
    """The landmarks of one synthetic recording: the same every time it is asked for."""
    import numpy as np

    from engine.landmarks import Landmarks

    generator = np.random.default_rng(1_000_003 + int(recording))
    return Landmarks(generator.integers(0, vocabulary, HASHES_PER_TRACK, dtype=np.uint32),
                     np.sort(generator.integers(0, TRACK_FRAMES, HASHES_PER_TRACK)).astype(np.int32))


def measure(database: Path, profile: bool) -> dict:
    """Runs in a fresh interpreter: catch the landmark index up, then time ``duplicate_groups``."""
    from engine.library import Library
    from engine.model_spec import DEFAULT_MODEL_DIR

    with Library(database, DEFAULT_MODEL_DIR) as library:
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        library.landmark_index().ensure_current()
        catch_up = {"wall_seconds": round(time.perf_counter() - started_wall, 2),
                    "cpu_seconds": round(time.process_time() - started_cpu, 2),
                    "action": library.landmark_index().last_action}
        resident_before = _status_mib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak resident set, to the current one
        profiler = cProfile.Profile() if profile else None
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        groups = library.duplicate_groups()
        if profiler is not None:
            profiler.disable()
        result = {"tracks": library.track_count(), "index_rows": library.landmark_index().size,
                  "landmark_catch_up": catch_up, "groups": len(groups),
                  "tracks_in_groups": sum(len(group.copies) for group in groups),
                  "wall_seconds": round(time.perf_counter() - started_wall, 2),
                  "cpu_seconds": round(time.process_time() - started_cpu, 2),
                  "resident_before_mib": resident_before, "peak_resident_mib": _status_mib("VmHWM"),
                  "peak_rss_process_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(PROFILE_LINES)
    return result


def _status_mib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) // 1024
    raise KeyError(field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--synthetic", type=int, help="first write a synthetic library of this many tracks")
    parser.add_argument("--profile", action="store_true", help="cProfile of the call, on stderr")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(options.db, options.profile)))
        return
    if options.synthetic:
        options.db.parent.mkdir(parents=True, exist_ok=True)
        print(f"synthetic library written in {build_synthetic(options.db, options.synthetic):.0f} s", flush=True)
    command = [sys.executable, __file__, "--child", "--db", str(options.db)]
    command += ["--profile"] if options.profile else []
    load = Path("/proc/loadavg").read_text().split()[:3]
    output = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT,
                            env=os.environ | {"OMP_NUM_THREADS": "1"})
    sys.stderr.write(output.stderr)
    if output.returncode != 0:
        raise SystemExit(f"the measuring interpreter failed ({output.returncode})")
    result = json.loads(output.stdout.strip().splitlines()[-1]) | {"load_average_at_start": load}
    print(json.dumps(result))
    print(f"duplicate_groups over {result['tracks']:,} tracks ({result['index_rows']:,} landmark rows): "
          f"{result['groups']:,} groups ({result['tracks_in_groups']:,} tracks), {result['wall_seconds']} s wall, "
          f"{result['cpu_seconds']} s CPU, peak resident {result['peak_resident_mib']} MiB "
          f"({result['resident_before_mib']} MiB before the call); landmark index {result['landmark_catch_up']}")


if __name__ == "__main__":
    main()
