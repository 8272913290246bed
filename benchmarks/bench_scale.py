"""The engine at library scale: first-index start latency, rescan, 1 % change, peak memory and disk per track.

    .venv/bin/python benchmarks/bench_scale.py --tracks 10000 30000          # build, measure, print, save JSON
    .venv/bin/python benchmarks/bench_scale.py --tracks 30000 --profile      # + tracemalloc of the catch-ups
    .venv/bin/python benchmarks/bench_scale.py --tracks 100000 --seed-from /work/.bench_data/scale/seeded-30000.db
    .venv/bin/python benchmarks/bench_scale.py --tracks 10000 --seed-only                # build and seed, no runs
    .venv/bin/python benchmarks/bench_scale.py --tracks 100000 --change-only             # the 1 % change alone
    .venv/bin/python benchmarks/bench_scale.py --tracks 100000 --unchanged-only          # a run with nothing changed
    .venv/bin/python benchmarks/bench_scale.py --tracks 100000 --search-only             # open and search the index

Libraries are built the way the outside measurement did: copies of a few short clips (25 s, 32 kbit/s MP3), each
copy with its own title tag, so every file is distinct (own bytes, own block hash) while decoding costs stay those
of one clip. Analysing 30k files takes hours on 2 cores, so the rescan figures use a seeded library: the clips are
analysed once with the shipped model and every copy is stored with its clip's analysis, landmarks and tempo
through ``Store.save_tracks`` (what an index run writes); ``--seed-from`` copies those rows from a database seeded
so instead, which takes minutes at 100k where ``save_tracks`` takes hours on 2 busy cores. "First track stored" is measured on a fresh database:
``engine index`` runs until the first track row is committed, then is stopped with Ctrl-C. Peak RSS is the
``engine`` process's own maximum resident set (wait4), decode workers not included. Linux starts a child's
maximum at its parent's (the child runs in the parent's memory until it execs), so whatever allocates much here
(seeding, the ``--profile`` builds) runs where it cannot inflate the figure: ``--rescan-only`` runs seed nothing and
the profile runs in a spawned interpreter.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

BASE_CLIPS = 16
CLIP_SECONDS = 25.0
CLIP_BITRATE = "32k"
FILES_PER_FOLDER = 500
CHANGED_SHARE = 0.01
SEED_BATCH = 1000
POLL_SECONDS = 0.05
RESIDENT_SAMPLE_SECONDS = 0.02
SEARCH_QUERIES = 200
K_SEARCHED = 10
FIRST_TRACK_TIMEOUT_SECONDS = 600
ENGINE = [sys.executable, "-m", "engine.cli"]


def build_library(out: Path, tracks: int) -> Path:
    """``tracks`` distinct files under ``out/lib-<tracks>``: hard links to one pool of tagged copies, so the
    10k library is the first 10k files of the 30k one and costs no disk."""
    import audio_factory
    from engine.keys import key_from_index

    base = out / "base"
    base.mkdir(parents=True, exist_ok=True)
    clips = []
    for number in range(BASE_CLIPS):
        clip = base / f"clip{number:02d}.mp3"
        if not clip.exists():
            samples = audio_factory.chord_progression(key_from_index((number * 7) % 24), CLIP_SECONDS, seed=number)
            audio_factory.write_audio(samples, clip, bitrate=CLIP_BITRATE, channels=1)
        clips.append(clip)
    pool, library = out / "pool", out / f"lib-{tracks}"
    started = time.monotonic()
    for number in range(tracks):
        relative = Path(f"{number // FILES_PER_FOLDER:04d}") / f"track{number:06d}.mp3"
        pooled, linked = pool / relative, library / relative
        if not pooled.exists():
            pooled.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(clips[number % BASE_CLIPS], pooled)
            audio_factory.write_tags(pooled, title=f"Track {number}", artist=f"Artist {number % 97}",
                                     album=f"Album {number // 12}")
        if not linked.exists():
            linked.parent.mkdir(parents=True, exist_ok=True)
            os.link(pooled, linked)
        if number % 5000 == 4999:
            print(f"  {number + 1:,} files ({time.monotonic() - started:.0f} s)", flush=True)
    return library


def first_track_latency(library: Path, database: Path) -> dict:
    """Seconds from starting ``engine index`` on a new database until its first track row is committed."""
    for stale in database.parent.glob(database.name + "*"):
        stale.unlink()
    started = time.monotonic()
    process = subprocess.Popen([*ENGINE, "index", str(library), "--db", str(database), "--workers", "1", "--json"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = first_cpu = None
    while first is None and process.poll() is None and time.monotonic() - started < FIRST_TRACK_TIMEOUT_SECONDS:
        time.sleep(POLL_SECONDS)
        if _track_count(database) > 0:
            first, first_cpu = time.monotonic() - started, _cpu_seconds_of_tree(process.pid)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    return {"first_track_seconds": first, "first_track_cpu_seconds": first_cpu, "exit": process.returncode,
            "stderr_tail": stderr.strip()[-200:]}


def _cpu_seconds_of_tree(pid: int) -> dict:
    """CPU seconds used so far by a running process and by its live children (the decode workers), from /proc: on
    an idle machine with a core for each, the wall time to the first track is about the larger of the two."""
    ticks = os.sysconf("SC_CLK_TCK")

    def used(process_id: int) -> float:
        fields = Path(f"/proc/{process_id}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return {"engine": round(used(pid), 2), "workers": round(sum(used(child) for child in children), 2)}


def _track_count(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.1) as connection:
            return connection.execute("SELECT count(*) FROM tracks").fetchone()[0]
    except sqlite3.Error:
        return 0  # not created yet, or locked for a moment


def seed(library: Path, database: Path, model_dir: Path) -> None:
    """Store every file of ``library`` with the analysis of the clip it copies, as an index run would."""
    from engine.analyzer import Analyzer
    from engine.decoding import DecodeJob, decode_job
    from engine.library import Library
    from engine.scan import quick_hash, scan_paths
    from engine.store import NewTrack

    for stale in database.parent.glob(database.name + "*"):
        stale.unlink()
    with Library(database, model_dir) as engine_library:
        model = engine_library.model()
        analyzer = Analyzer(model)
        engine_library.add_folder(library)
        by_clip = {}
        files = sorted(scan_paths([library]).files, key=lambda found: found.path)
        for found in files[:BASE_CLIPS]:
            job = DecodeJob(found.path, found.size, found.mtime_ns, "", None, model.config.sample_rate,
                            model.config.window_samples, analyzer.max_windows)
            outcome = decode_job(job)
            by_clip[_clip_of(found.path)] = (outcome, analyzer.analyze_tracks([outcome.windows], [outcome.key_windows])[0])
        batch = []
        for found in files:
            outcome, analysis = by_clip[_clip_of(found.path)]
            metadata = dataclasses.replace(outcome.metadata, title=Path(found.path).stem)
            batch.append(NewTrack(found.path, found.size, found.mtime_ns, quick_hash(found.path, found.size), metadata,
                                  analysis, landmarks=outcome.landmarks, tempo=outcome.tempo, tempo_estimated=True))
            if len(batch) >= SEED_BATCH:
                engine_library.store.save_tracks(batch, model.model_id)
                batch = []
        engine_library.store.save_tracks(batch, model.model_id)


def seed_from(library: Path, database: Path, source: Path) -> None:
    """Store every file of ``library`` with a copy of the rows ``source`` (a database ``seed`` made) holds for the
    clip it copies: the same database an index run would leave, in minutes instead of hours (``seed`` stores about
    10 tracks a second on 2 busy cores, so 100k files would take hours). Stats and block hashes are the files' own;
    the tempo is stamped with this engine's ``TEMPO_VERSION`` (an older stamp would make every track due again)."""
    from engine.scan import display_path, path_key, quick_hash, scan_paths
    from engine.tempo import TEMPO_VERSION
    from engine.text_match import search_text

    for stale in database.parent.glob(database.name + "*"):
        stale.unlink()
    shutil.copyfile(source, database)
    connection = sqlite3.connect(database)
    try:
        track_columns = [row[1] for row in connection.execute("PRAGMA table_info(tracks)") if row[1] != "id"]
        analysis_columns = [row[1] for row in connection.execute("PRAGMA table_info(analyses)")
                            if row[1] not in ("id", "track_id")]
        templates: dict[int, tuple] = {}
        for track_id, path in connection.execute("SELECT id, path FROM tracks ORDER BY id"):
            templates.setdefault(_clip_of(path), (track_id,))
            if len(templates) == BASE_CLIPS:
                break
        for clip, (track_id,) in list(templates.items()):
            track = connection.execute(f"SELECT {', '.join(track_columns)} FROM tracks WHERE id = ?", (track_id,)).fetchone()
            analysis = connection.execute(f"SELECT {', '.join(analysis_columns)} FROM analyses WHERE track_id = ?",
                                          (track_id,)).fetchone()
            landmarks = connection.execute("SELECT version, hashes, frames FROM track_landmarks WHERE track_id = ?",
                                           (track_id,)).fetchone()
            analysis = tuple(TEMPO_VERSION if name == "tempo_version" else value
                             for name, value in zip(analysis_columns, analysis))
            templates[clip] = (dict(zip(track_columns, track)), analysis, landmarks)
        with connection:
            for table in ("crate_tracks", "track_landmarks", "analyses", "tracks", "folders", "problems"):
                connection.execute(f"DELETE FROM {table}")
            connection.execute("INSERT INTO folders (path_key, path, added_at) VALUES (?, ?, ?)",
                                (path_key(str(library)), display_path(str(library)), time.time()))
        files = sorted(scan_paths([library]).files, key=lambda found: found.path)
        for start in range(0, len(files), SEED_BATCH):
            with connection:
                for found in files[start:start + SEED_BATCH]:
                    track, analysis, landmarks = templates[_clip_of(found.path)]
                    track = track | {"path_key": path_key(found.path), "path": display_path(found.path),
                                     "size": found.size, "mtime_ns": found.mtime_ns, "title": Path(found.path).stem,
                                     "quick_hash": quick_hash(found.path, found.size)}
                    track["search_text"] = search_text(found.path, track["title"], track.get("artist"),
                                                       track.get("album"), track.get("genre"))
                    track_id = connection.execute(
                        f"INSERT INTO tracks ({', '.join(track)}) VALUES ({', '.join('?' * len(track))})",
                        list(track.values())).lastrowid
                    connection.execute(f"INSERT INTO analyses (track_id, {', '.join(analysis_columns)}) "
                                       f"VALUES (?{', ?' * len(analysis_columns)})", (track_id, *analysis))
                    connection.execute("INSERT INTO track_landmarks (track_id, version, hashes, frames) "
                                       "VALUES (?, ?, ?, ?)", (track_id, *landmarks))
    finally:
        connection.close()


def _clip_of(path: str) -> int:
    return int(Path(path).stem.removeprefix("track")) % BASE_CLIPS


def _sample_resident(pid: int, peaks: dict[str, int], running: threading.Event) -> None:
    """Highest anonymous and file-backed resident MiB of ``pid`` while ``running`` (sampled): the file-backed part
    is mapped cache files (the landmark index, its merge runs), page cache the kernel may take back at any time."""
    while running.is_set():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                peaks[name] = max(peaks.get(name, 0), int(value.split()[0]) // 1024)
        time.sleep(RESIDENT_SAMPLE_SECONDS)


def timed_index(library: Path, database: Path) -> dict:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one ``engine index`` process, the sampled peaks of its
    anonymous and file-backed parts, and its JSON report."""
    started = time.monotonic()
    process = subprocess.Popen([*ENGINE, "index", str(library), "--db", str(database), "--workers", "1", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks: dict[str, int] = {}
    running = threading.Event()
    running.set()
    sampler = threading.Thread(target=_sample_resident, args=(process.pid, peaks, running), daemon=True)
    sampler.start()
    stdout = process.stdout.read()
    stderr = process.stderr.read()
    running.clear()
    sampler.join()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"engine index failed ({process.returncode}): {stderr[-500:]}")
    return {"wall_seconds": round(time.monotonic() - started, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mib": round(usage.ru_maxrss / 1024), "peak_anonymous_mib": peaks.get("RssAnon"),
            "peak_file_backed_mib": peaks.get("RssFile"), "report": json.loads(stdout)}


def cache_files(database: Path) -> list[Path]:
    return [path for path in database.parent.glob(database.name + ".*") if not path.name.endswith(("-wal", "-shm"))]


def disk_per_track(database: Path, tracks: int) -> dict:
    parts = {"database": sum(path.stat().st_size for path in database.parent.glob(database.name)),
             "landmarks": sum(path.stat().st_size for path in cache_files(database) if ".landmarks-" in path.name),
             "faiss": sum(path.stat().st_size for path in cache_files(database) if ".faiss" in path.name)}
    return {name: round(size / tracks / 1024, 1) for name, size in parts.items()} | {
        "total_kib": round(sum(parts.values()) / tracks / 1024, 1)}


def profile_catch_up(database: Path, model_dir: Path) -> dict:
    """Peak Python/numpy memory (tracemalloc) of each cache build from nothing, in this process."""
    from engine.landmark_index import LandmarkIndex
    from engine.library import Library

    for cache in cache_files(database):
        cache.unlink()
    peaks = {}
    with Library(database, model_dir) as library:
        spec = library.model_spec()
        tracemalloc.start()
        for name, build in (("vector index", lambda: library._vector_index(spec).ensure_current()),
                            ("landmark index", lambda: LandmarkIndex(library.store).ensure_current())):
            tracemalloc.reset_peak()
            build()
            peaks[name] = round(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return peaks


def measure(out: Path, tracks: int, model_dir: Path, profile: bool, rescan_only: bool = False,
            skip_change: bool = False, seed_source: Path | None = None) -> dict:
    """Every figure for one library size; ``rescan_only`` reuses the library and seeded database of an earlier
    run and times only the index runs over it; ``skip_change`` leaves out the 1 % change."""
    print(f"{tracks:,} files", flush=True)
    library = build_library(out, tracks)
    database = out / f"seeded-{tracks}.db"
    result: dict = {"tracks": tracks}
    if not rescan_only:
        result |= seed_and_first_index(out, library, database, tracks, model_dir, seed_source)
    if profile:  # in a fresh interpreter: a child started later inherits this process's peak RSS (see above)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            result["tracemalloc_peak_mib"] = pool.apply(profile_catch_up, (database, model_dir))
        print(f"  tracemalloc peaks (MiB): {result['tracemalloc_peak_mib']}", flush=True)
    for cache in cache_files(database):
        cache.unlink()
    result["rescan_cold_caches"] = timed_index(library, database)
    result["rescan"] = timed_index(library, database)
    if not skip_change:
        result["one_percent_changed"] = one_percent_change(out, library, database, tracks)
    result["disk_per_track_kib"] = disk_per_track(database, tracks)
    for name in ("rescan_cold_caches", "rescan"):
        run = result[name]
        print(f"  {name}: {run['wall_seconds']} s wall, {run['cpu_seconds']} s CPU, peak RSS {run['peak_rss_mib']} MiB "
              f"(sampled: anonymous {run['peak_anonymous_mib']}, file-backed {run['peak_file_backed_mib']})", flush=True)
    print(f"  disk per track (KiB): {result['disk_per_track_kib']}", flush=True)
    (out / f"results-{tracks}{'-rescan' if rescan_only else ''}.json").write_text(json.dumps(result, indent=2) + "\n",
                                                                                 encoding="utf-8")
    return result


def files_to_change(out: Path, library: Path, tracks: int) -> list[Path]:
    """1 % of ``library``'s files, spread evenly over those no smaller library under ``out`` holds: the libraries
    share inodes, so touching a file of the 10k library would make the 30k and 100k seeded databases stale too."""
    smaller = [int(folder.name.removeprefix("lib-")) for folder in out.glob("lib-*")
               if folder.name.removeprefix("lib-").isdigit() and int(folder.name.removeprefix("lib-")) < tracks]
    held_elsewhere = max(smaller, default=0)
    candidates = sorted(library.rglob("*.mp3"))[held_elsewhere:]
    count = round(tracks * CHANGED_SHARE)
    return candidates[:: max(1, len(candidates) // count)][:count]


def one_percent_change(out: Path, library: Path, database: Path, tracks: int) -> dict:
    """One index run after 1 % of the files got a newer mtime: they are analysed again (torch), the FAISS graph
    keeps their new vectors beside it (rebuilt only past its limits) and the landmark index is merged."""
    changed = files_to_change(out, library, tracks)
    for path in changed:
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    run = timed_index(library, database) | {"files": len(changed)}
    print(f"  one_percent_changed ({len(changed):,} files): {run['wall_seconds']} s wall, {run['cpu_seconds']} s CPU, "
          f"peak RSS {run['peak_rss_mib']} MiB (sampled: anonymous {run['peak_anonymous_mib']}, file-backed "
          f"{run['peak_file_backed_mib']})", flush=True)
    return run


def unchanged_rescan(library: Path, database: Path) -> dict:
    """One index run with nothing to analyse, on caches an earlier run left current."""
    run = timed_index(library, database)
    print(f"  unchanged: {run['wall_seconds']} s wall, {run['cpu_seconds']} s CPU, peak RSS {run['peak_rss_mib']} MiB "
          f"(sampled: anonymous {run['peak_anonymous_mib']}, file-backed {run['peak_file_backed_mib']})", flush=True)
    return run


def search_costs(database: Path, model_dir: Path, queries: int = SEARCH_QUERIES) -> dict:
    """In this process: the CPU of opening the vector index (load, check against SQLite, changes derived) and of
    ``queries`` searches for 10 neighbours of library tracks, graph walk and exact scan: what holding stale and added
    vectors beside the graph costs a search. (No recall: the seeded copies of 16 clips tie in thousands.)"""
    import numpy as np

    from engine.library import Library

    with Library(database, model_dir) as library:
        model_id = library.model_spec().model_id
        index = library._vector_index(library.model_spec())
        started = time.process_time()
        index.ensure_current()
        opened = time.process_time() - started
        action, changes = index.last_action, index._changes
        rng = np.random.default_rng(0)
        track_ids = library.store.analysed_track_ids_up_to(model_id, library.store.analyses_fingerprint(model_id)[1])
        vectors = [index.vector_of(int(t)) for t in rng.choice(track_ids, queries, replace=False)]
        timings = {}
        for mode, exact in (("walk", False), ("exact", True)):
            started = time.process_time()
            for vector in vectors:
                index.search(vector[None, :], K_SEARCHED, exact=exact)
            timings[mode] = (time.process_time() - started) / queries
    result = {"action": action, "open_cpu_seconds": round(opened, 3),
              "stale": 0 if changes is None else len(changes.stale),
              "added": 0 if changes is None else int(changes.added.ntotal),
              "walk_cpu_ms": round(timings["walk"] * 1000, 3), "exact_cpu_ms": round(timings["exact"] * 1000, 2)}
    print(f"  search: {result}", flush=True)
    return result


def seed_and_first_index(out: Path, library: Path, database: Path, tracks: int, model_dir: Path,
                         seed_source: Path | None = None) -> dict:
    result = {"first_index": first_track_latency(library, out / f"first-{tracks}.db")}
    print(f"  first track stored after {result['first_index']['first_track_seconds']} s "
          f"(CPU {result['first_index']['first_track_cpu_seconds']})", flush=True)
    return result | seed_only(library, database, tracks, model_dir, seed_source)


def seed_only(library: Path, database: Path, tracks: int, model_dir: Path, seed_source: Path | None = None) -> dict:
    """Seed ``database`` (by analysing the clips, or by copying ``seed_source``'s rows) and say how long it took."""
    started = time.monotonic()
    if seed_source is None:
        seed(library, database, model_dir)
    else:
        seed_from(library, database, seed_source)
    seed_seconds = round(time.monotonic() - started, 1)
    print(f"  seeded in {seed_seconds} s ({tracks / seed_seconds:.0f} tracks/s stored)", flush=True)
    return {"seed_seconds": seed_seconds}


def main() -> None:
    from engine.model_spec import DEFAULT_MODEL_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/work/.bench_data/scale"))
    parser.add_argument("--tracks", type=int, nargs="+", default=[10_000, 30_000])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--profile", action="store_true", help="tracemalloc peaks of the cache builds")
    parser.add_argument("--rescan-only", action="store_true",
                        help="reuse the seeded database of an earlier run: only the rescan and 1 %% change runs")
    parser.add_argument("--first-only", action="store_true", help="only the first-track latency of a new database")
    parser.add_argument("--skip-change", action="store_true", help="leave out the 1 %% change run")
    parser.add_argument("--seed-only", action="store_true", help="only build and seed the library, no index runs")
    parser.add_argument("--change-only", action="store_true",
                        help="only the 1 %% change run, on the seeded database of an earlier run")
    parser.add_argument("--search-only", action="store_true",
                        help="only the cost of opening the vector index and searching it, in this process")
    parser.add_argument("--unchanged-only", action="store_true",
                        help="only a run with nothing changed, on the seeded database and caches of an earlier run")
    parser.add_argument("--seed-from", type=Path, help="seed by copying the clips' rows from this seeded database")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    for tracks in options.tracks:
        if options.first_only:
            first = first_track_latency(build_library(options.out, tracks), options.out / f"first-{tracks}.db")
            print(f"{tracks:,} files: first track stored after {first['first_track_seconds']:.1f} s, CPU so far "
                  f"{first['first_track_cpu_seconds']}", flush=True)
            continue
        if options.search_only:
            costs = search_costs(options.out / f"seeded-{tracks}.db", options.model)
            (options.out / f"results-{tracks}-search.json").write_text(json.dumps(costs, indent=2) + "\n", encoding="utf-8")
            continue
        if options.seed_only or options.change_only or options.unchanged_only:
            library, database = build_library(options.out, tracks), options.out / f"seeded-{tracks}.db"
            if options.seed_only:
                seed_only(library, database, tracks, options.model, options.seed_from)
            else:
                name, run = (("one_percent_changed", one_percent_change(options.out, library, database, tracks))
                             if options.change_only else ("unchanged", unchanged_rescan(library, database)))
                (options.out / f"results-{tracks}-{'change' if options.change_only else 'unchanged'}.json").write_text(
                    json.dumps({"tracks": tracks, name: run}, indent=2) + "\n", encoding="utf-8")
            continue
        measure(options.out, tracks, options.model, options.profile, options.rescan_only, options.skip_change,
                options.seed_from)


if __name__ == "__main__":
    main()
