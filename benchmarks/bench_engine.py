"""Library-engine benchmarks: indexing real-time factor (decode, embed, whole pipeline), query latency, FAISS.

    .venv/bin/python benchmarks/bench_engine_data.py              # once: the library and the model
    .venv/bin/python benchmarks/bench_engine.py index [--workers 1] [--max-windows 8] [--library DIR --model DIR]
    .venv/bin/python benchmarks/bench_engine.py query [--db an-indexed.db] [--model DIR]
    .venv/bin/python benchmarks/bench_engine.py vectors --sizes 100000 [--database reused.db]  # Library.similar
    .venv/bin/python benchmarks/bench_engine.py faiss --sizes 1000000      # FAISS alone
    cd /work && main/.venv/bin/python main/benchmarks/bench_engine.py landmarks \
        --database /work/.bench_data/synthetic-100k-landmarks.db --pool-manifest data/debian/manifest.jsonl

Real-time factor = total audio duration / wall time. Prints absolute figures and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Only light modules at the top: spawned decode workers import this file again, and torch there would cost
# seconds of start-up that the CLI's workers do not pay. The rest is imported by the commands that need it.
from engine.allocator import keep_freed_memory  # noqa: E402
from engine.decoding import DecodeJob, decode_job, start_worker  # noqa: E402
from engine.scan import scan_paths  # noqa: E402

DATA = Path("/work/.bench_data/engine")
QUERY_REPEATS = 10
SEARCH_QUERIES = 300
EMBED_SAMPLE_TRACKS = 40
RECALL_QUERIES = 50
SYNTHETIC_INTRINSIC_DIMENSION = 24
SYNTHETIC_NOISE = 0.1


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (decode workers once joined)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_memory_mib() -> tuple[float, float]:
    """(this process, largest child) peak resident memory in MiB (Linux ru_maxrss is KiB)."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def jobs_for(model, max_windows: int, library: Path) -> list[DecodeJob]:
    files = scan_paths([library]).files
    config = model.config
    return [DecodeJob(f.path, f.size, f.mtime_ns, "", None, config.sample_rate, config.window_samples, max_windows)
            for f in files]


def bench_decode(jobs: list[DecodeJob], workers: int) -> tuple[float, float, list]:
    """(wall seconds, CPU seconds incl. the workers' start-up, outcomes) of the decode stage alone."""
    started, cpu_started = time.monotonic(), cpu_seconds()
    if workers == 0:
        outcomes = [decode_job(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=start_worker) as pool:
            outcomes = list(pool.map(decode_job, jobs, chunksize=4))
    return time.monotonic() - started, cpu_seconds() - cpu_started, outcomes


def bench_embed(analyzer, outcomes: list) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds) to analyse the windows (and the further key windows) of a sample of tracks on one
    torch thread (as indexing with one decode worker on 2 cores does), and their audio duration."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    sample = [outcome for outcome in outcomes if outcome.windows is not None][:EMBED_SAMPLE_TRACKS]
    analyzer.analyze_tracks([sample[0].windows], [sample[0].key_windows])  # warm-up
    started, cpu_started = time.monotonic(), time.process_time()
    for start in range(0, len(sample), 8):
        batch = sample[start : start + 8]
        analyzer.analyze_tracks([outcome.windows for outcome in batch], [outcome.key_windows for outcome in batch])
    wall, cpu = time.monotonic() - started, time.process_time() - cpu_started
    torch.set_num_threads(threads)
    return wall, cpu, sum(outcome.duration_seconds for outcome in sample)


def profile_network(analyzer, repeats: int = 4) -> dict[str, float]:
    """CPU milliseconds per window (1 thread) in the frontend (STFT + log-frequency filterbank), the conv blocks,
    and the rest (pooling into the embedding, key path and heads: the whole forward pass less those two) of the
    folded inference network that indexing runs, on one inference chunk; and the key's part alone (``key_logits``)."""
    import torch

    from engine.analyzer import INFERENCE_CHUNK_WINDOWS

    network = analyzer.network
    encoder = network.encoder
    batch = torch.randn(INFERENCE_CHUNK_WINDOWS, analyzer.window_samples)
    totals = {"frontend_ms_per_window": 0.0, "conv_blocks_ms_per_window": 0.0, "whole_forward_ms_per_window": 0.0,
              "key_part_ms_per_window": 0.0}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with torch.inference_mode():
        network(batch)
        for _ in range(repeats):
            started = time.process_time()
            spectrogram = encoder.input_norm(encoder.frontend(batch))
            totals["frontend_ms_per_window"] += time.process_time() - started
            started = time.process_time()
            encoder.blocks(spectrogram)
            totals["conv_blocks_ms_per_window"] += time.process_time() - started
            started = time.process_time()
            network(batch)
            totals["whole_forward_ms_per_window"] += time.process_time() - started
            started = time.process_time()
            network.key_logits(batch)  # what the key's further windows (engine.key_audio) go through
            totals["key_part_ms_per_window"] += time.process_time() - started
    torch.set_num_threads(threads)
    result = {name: seconds * 1000 / (repeats * len(batch)) for name, seconds in totals.items()}
    result["pooling_key_path_heads_ms_per_window"] = (
        result["whole_forward_ms_per_window"] - result["frontend_ms_per_window"] - result["conv_blocks_ms_per_window"])
    return result


def run_index(options) -> dict:
    from engine.analyzer import DEFAULT_BATCH_WINDOWS, DEFAULT_MAX_WINDOWS, Analyzer
    from engine.library import Library
    from engine.model_folder import load_model

    load_before = round(os.getloadavg()[0], 2)
    keep_freed_memory()  # as `engine index` does in the process that runs the inference (engine.allocator)
    options.max_windows = options.max_windows or DEFAULT_MAX_WINDOWS
    options.batch_windows = options.batch_windows or DEFAULT_BATCH_WINDOWS
    model = load_model(options.model)
    jobs = jobs_for(model, options.max_windows, options.library)
    decode_seconds, decode_cpu_seconds, outcomes = bench_decode(jobs, options.workers)
    audio_seconds = sum(outcome.duration_seconds for outcome in outcomes)
    key_windows = [len(outcome.key_windows) for outcome in outcomes if outcome.key_windows is not None]
    analyzer = Analyzer(model, options.max_windows, options.batch_windows)
    embed_seconds, embed_cpu_seconds, embed_audio = bench_embed(analyzer, outcomes)
    del outcomes
    with tempfile.TemporaryDirectory() as folder, Library(Path(folder) / "bench.db", options.model) as library:
        cpu_before = cpu_seconds()
        report = library.index([options.library], workers=options.workers, max_windows=options.max_windows,
                               batch_windows=options.batch_windows)
        pipeline_cpu = cpu_seconds() - cpu_before
    main_mib, child_mib = peak_memory_mib()
    results = {
        "tracks": len(jobs), "audio_hours": round(audio_seconds / 3600, 2), "workers": options.workers,
        "max_windows": options.max_windows, "batch_windows": options.batch_windows,
        "key_windows_per_track": round(float(np.mean(key_windows)), 2) if key_windows else 0.0,
        "decode_seconds": round(decode_seconds, 2), "decode_realtime": round(audio_seconds / decode_seconds),
        "decode_cpu_seconds_per_track": round(decode_cpu_seconds / len(jobs), 4),
        "embed_seconds_per_track": round(embed_seconds / EMBED_SAMPLE_TRACKS, 4),
        "embed_cpu_seconds_per_track": round(embed_cpu_seconds / EMBED_SAMPLE_TRACKS, 4),
        "embed_realtime": round(embed_audio / embed_seconds),
        "pipeline_seconds": round(report.seconds, 2), "pipeline_realtime": round(report.audio_seconds / report.seconds),
        "pipeline_files_per_second": round(report.analysed / report.seconds, 1),
        "pipeline_cpu_seconds": round(pipeline_cpu, 1),
        "pipeline_audio_seconds_per_cpu_second": round(report.audio_seconds / pipeline_cpu),
        "load_average_1min_before": load_before, "load_average_1min_after": round(os.getloadavg()[0], 2),
        "peak_rss_main_mib": round(main_mib), "peak_rss_worker_mib": round(child_mib),
        "problems": report.problems, **{k: round(v, 3) for k, v in profile_network(analyzer).items()},
    }
    return results


def run_query(options) -> dict:
    from engine.library import Library

    query = DATA / "query-not-in-library.mp3"
    with tempfile.TemporaryDirectory() as folder:
        database = options.db or Path(folder) / "bench.db"
        with Library(database, options.model) as library:
            library.index([DATA / "library"], workers=options.workers)  # a no-op when --db is already indexed
        timings = []
        cold_started = time.monotonic()
        with Library(database, options.model) as library:
            library.similar(str(query), k=10)
            cold = time.monotonic() - cold_started
            cpu_before = cpu_seconds()
            for _ in range(QUERY_REPEATS):
                started = time.monotonic()
                library.similar(str(query), k=10)
                timings.append(time.monotonic() - started)
            query_cpu_ms = (cpu_seconds() - cpu_before) * 1000 / QUERY_REPEATS
    return {"query_cold_ms_incl_model_load": round(cold * 1000),
            "query_warm_median_ms": round(statistics.median(timings) * 1000), "query_warm_max_ms": round(max(timings) * 1000),
            "query_cpu_ms": round(query_cpu_ms),
            "load_average_1min_after": round(os.getloadavg()[0], 2)}


def synthetic_embeddings(rng: np.random.Generator, mixing: np.ndarray, count: int) -> np.ndarray:
    """Unit vectors on a low-dimensional manifold plus noise, like real embeddings (uniform random 512-d
    vectors are all nearly equidistant, which no real collection is and no ANN index handles)."""
    latent = rng.standard_normal((count, mixing.shape[0])).astype(np.float32)
    vectors = latent @ mixing
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors += SYNTHETIC_NOISE * rng.standard_normal(vectors.shape).astype(np.float32) / np.sqrt(vectors.shape[1])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def synthetic_database(path: Path, count: int, dimension: int, model_id: str) -> None:
    """A library database with ``count`` synthetic tracks and random unit embeddings by ``model_id``, in bulk."""
    from sqlalchemy import insert

    from engine.schema import analyses, tracks
    from engine.store import Store

    store = Store(path)
    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((SYNTHETIC_INTRINSIC_DIMENSION, dimension)).astype(np.float32)
    chunk = 20_000
    now = time.time()
    with store.engine.begin() as connection:
        for start in range(0, count, chunk):
            ids = range(start + 1, min(count, start + chunk) + 1)
            vectors = synthetic_embeddings(rng, mixing, len(ids))
            connection.execute(insert(tracks), [
                {"id": i, "path_key": f"/synthetic/{i}.mp3".encode(), "path": f"/synthetic/{i}.mp3", "size": i,
                 "mtime_ns": 0, "quick_hash": "x", "title": f"T{i}", "artist": f"A{i % 997}", "added_at": now,
                 "updated_at": now} for i in ids])
            connection.execute(insert(analyses), [
                {"track_id": i, "model_id": model_id, "embedding": vectors[n].tobytes(), "key_index": i % 24,
                 "key_confidence": 0.5, "window_count": 8, "analyzed_at": now} for n, i in enumerate(ids)])
    store.close()


def recall_at_10(library, index, track_ids) -> float:
    """Share of the exact top 10 (brute force over all embeddings) that the index returns."""
    all_ids, matrix = library.store.embeddings(index.model_id)
    found = 0
    for track_id in track_ids:
        vector = matrix[np.searchsorted(all_ids, track_id)]
        exact = set(all_ids[np.argpartition(-(matrix @ vector), 10)[:10]].tolist())
        _, approximate = index.search(vector[None, :], 10)
        found += len(exact & set(approximate[0].tolist()))
    return found / (10 * len(track_ids))


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    milliseconds = np.array(seconds) * 1000
    return {"p50": round(float(np.percentile(milliseconds, 50)), 3), "p99": round(float(np.percentile(milliseconds, 99)), 3)}


def timed_calls(call, arguments) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds of this thread) of ``call(argument)`` for each argument."""
    walls, cpus = [], []
    for argument in arguments:
        started, cpu_started = time.perf_counter(), time.thread_time()
        call(argument)
        cpus.append(time.thread_time() - cpu_started)
        walls.append(time.perf_counter() - started)
    return walls, cpus


def run_vectors(options) -> dict:
    """``Library.similar(track_id)`` on synthetic libraries: SQLite fill, FAISS rebuild from SQLite, latency
    (wall and CPU), and the exact scan that a query by file runs. ``--database`` keeps the filled database
    (and its FAISS cache) for the next run."""
    import faiss

    from engine.library import Library
    from engine.model_folder import load_model

    model = load_model(DATA / "model")
    results = {}
    for size in options.sizes:
        with tempfile.TemporaryDirectory(dir=options.scratch) as folder:
            database = options.database or Path(folder) / "synthetic.db"
            started = time.monotonic()
            if not database.exists():
                synthetic_database(database, size, model.config.embedding_dim, model.model_id)
            fill_seconds = time.monotonic() - started
            with Library(database, DATA / "model") as library:
                index = library._vector_index(library.model())
                started = time.monotonic()
                index.ensure_current()  # load the saved cache, or rebuild from SQLite: read blobs + build + save
                rebuild_seconds = time.monotonic() - started
                query_ids = [int(t) for t in np.random.default_rng(1).integers(1, size + 1, SEARCH_QUERIES)]
                library.similar(query_ids[0], k=10)
                walls, cpus = timed_calls(lambda track_id: library.similar(track_id, k=10), query_ids)
                vectors = [index.vector_of(track_id)[None, :] for track_id in query_ids[:RECALL_QUERIES]]
                exact_walls, exact_cpus = timed_calls(lambda vector: index.search(vector, 11, exact=True), vectors)
                recall = recall_at_10(library, index, query_ids[:RECALL_QUERIES])
            results[str(size)] = {
                "kind": type(faiss.downcast_index(index._index.index)).__name__, "index_action": index.last_action,
                "sqlite_fill_seconds": round(fill_seconds, 1), "load_or_rebuild_seconds": round(rebuild_seconds, 2),
                "similar_wall_ms": percentiles_ms(walls), "similar_cpu_ms": percentiles_ms(cpus),
                "exact_scan_wall_ms": percentiles_ms(exact_walls), "exact_scan_cpu_ms": percentiles_ms(exact_cpus),
                "recall_at_10_vs_exact": round(recall, 3), "load_average_1min_after": round(os.getloadavg()[0], 2),
            }
            print(size, results[str(size)], flush=True)
    return results


def run_faiss(options) -> dict:
    """The FAISS part alone at sizes where a SQLite fill would take long: build, single-query latency, recall."""
    from engine.vector_index import build_faiss_index

    results = {}
    for size in options.sizes:
        rng = np.random.default_rng(0)
        mixing = rng.standard_normal((SYNTHETIC_INTRINSIC_DIMENSION, options.dimension)).astype(np.float32)
        vectors = np.concatenate([synthetic_embeddings(rng, mixing, min(100_000, size - start))
                                  for start in range(0, size, 100_000)])
        started = time.monotonic()
        index = build_faiss_index(options.dimension, size)
        index.add_with_ids(vectors, np.arange(1, size + 1, dtype=np.int64))
        build_seconds = time.monotonic() - started
        import faiss

        faiss.omp_set_num_threads(1)  # as VectorIndex.search does for single queries
        picks = rng.integers(0, size, SEARCH_QUERIES)
        latencies, found = [], 0
        for position in picks:
            started = time.monotonic()
            _, hits = index.search(vectors[position : position + 1], 11)
            latencies.append(time.monotonic() - started)
        for position in picks[:RECALL_QUERIES]:
            exact = set((np.argpartition(-(vectors @ vectors[position]), 10)[:10] + 1).tolist())
            _, hits = index.search(vectors[position : position + 1], 10)
            found += len(exact & set(hits[0].tolist()))
        latencies_ms = np.array(latencies) * 1000
        results[str(size)] = {
            "kind": type(faiss.downcast_index(index.index)).__name__, "build_seconds": round(build_seconds, 1),
            "search_p50_ms": round(float(np.percentile(latencies_ms, 50)), 3),
            "search_p99_ms": round(float(np.percentile(latencies_ms, 99)), 3),
            "recall_at_10_vs_exact": round(found / (10 * RECALL_QUERIES), 3),
            "load_average_1min_after": round(os.getloadavg()[0], 2),
        }
        print(size, results[str(size)], flush=True)
    return results


def synthetic_landmarks(database: Path, pool: np.ndarray, per_track: int) -> int:
    """Give every track of ``database`` without current landmarks ``per_track`` hashes at random frames of a
    4 min track; returns how many got them. Each hash joins the frequency fields (high 20 bits) of one real
    hash from ``pool`` to the time gaps (low 12 bits) of another, so buckets are about as uneven as real ones
    without copying any real track (copies would all match one another)."""
    from sqlalchemy import delete, insert, select

    from engine.landmarks import LANDMARK_VERSION
    from engine.schema import track_landmarks, tracks
    from engine.store import Store

    store = Store(database)
    rng = np.random.default_rng(2)
    gap_bits = np.uint32((1 << 12) - 1)
    with store.engine.begin() as connection:
        connection.execute(delete(track_landmarks).where(track_landmarks.c.version != LANDMARK_VERSION))
        have = set(connection.execute(select(track_landmarks.c.track_id)).scalars())
        missing = [t for t in connection.execute(select(tracks.c.id)).scalars() if t not in have]
        for start in range(0, len(missing), 10_000):
            chunk = missing[start:start + 10_000]
            high = rng.choice(pool, (len(chunk), per_track)) & ~gap_bits
            low = rng.choice(pool, (len(chunk), per_track)) & gap_bits
            frames = np.sort(rng.integers(0, 15_000, (len(chunk), per_track)), axis=1).astype(np.int32)
            connection.execute(insert(track_landmarks), [
                {"track_id": t, "version": LANDMARK_VERSION, "hashes": (high[n] | low[n]).astype(np.uint32).tobytes(),
                 "frames": frames[n].tobytes()} for n, t in enumerate(chunk)])
    store.close()
    return len(missing)


CHANGED_TRACKS = 100


def time_index_changes(store, index, pool: np.ndarray, per_track: int) -> tuple[float, str, float, str]:
    """Seconds (and what the index did) to catch up after an index run adds ``CHANGED_TRACKS`` tracks, then
    after one removes them again (the database is left as it was)."""
    from sqlalchemy import func, insert, select

    from engine.schema import tracks

    with store.engine.begin() as connection:
        first = int(connection.execute(select(func.max(tracks.c.id))).scalar()) + 1
        now = time.time()
        connection.execute(insert(tracks), [
            {"id": i, "path_key": f"/synthetic/added-{i}.mp3".encode(), "path": f"/synthetic/added-{i}.mp3",
             "size": i, "mtime_ns": 0, "quick_hash": "x", "added_at": now, "updated_at": now}
            for i in range(first, first + CHANGED_TRACKS)])
    added = list(range(first, first + CHANGED_TRACKS))
    synthetic_landmarks(store.path, pool, per_track)
    started = time.monotonic()
    index.ensure_current()
    extend_seconds, extend_action = time.monotonic() - started, index.last_action
    store.remove_tracks(added)
    started = time.monotonic()
    index.ensure_current()
    return extend_seconds, extend_action, time.monotonic() - started, index.last_action


def run_landmarks(options) -> dict:
    """Same-recording lookups on a large library: the landmark index's rebuild from SQLite, its size and load
    time, and the lookup of 30 s excerpts of real music against it; then whole ``similar`` calls by file."""
    from engine.audio import AudioDecodeError, decode_mono, read_windows
    from engine.landmark_audio import track_landmarks
    from engine.landmark_index import MAX_BUCKET_ENTRIES, LandmarkIndex, landmark_index_paths
    from engine.landmarks import landmarks
    from engine.library import Library
    from engine.model_folder import load_model
    from engine.store import Store
    from training.corpora.manifest import read_manifest

    model = load_model(DATA / "model")
    rate, window_samples = model.config.sample_rate, model.config.window_samples
    listed = [record["path"] for record in read_manifest(options.pool_manifest)]  # paths relative to where it was built
    real_files, real = [], []
    for path in listed[:: max(1, options.pool_step)]:
        try:
            real.append(track_landmarks(path, read_windows(path, rate, window_samples, 6)))
            real_files.append(path)
        except AudioDecodeError:
            continue
    pool = np.concatenate([found.hashes for found in real])
    per_track = int(np.mean([len(found) for found in real]))
    started = time.monotonic()
    filled = synthetic_landmarks(options.database, pool, per_track)
    fill_seconds = time.monotonic() - started
    store = Store(options.database)
    for path in landmark_index_paths(options.database):
        path.unlink(missing_ok=True)
    index = LandmarkIndex(store)
    started = time.monotonic()
    index.ensure_current()
    rebuild_seconds = time.monotonic() - started
    index = LandmarkIndex(store)
    started = time.monotonic()
    index.ensure_current()
    load_seconds, load_action = time.monotonic() - started, index.last_action
    excerpts = []
    for path in real_files[: options.queries]:
        audio = decode_mono(path, rate)
        start = audio.size // 3
        excerpts.append(landmarks(audio[start:start + 30 * rate], rate))
    hashes = index._rows[0]
    entries = [np.searchsorted(hashes, q.hashes, "right") - np.searchsorted(hashes, q.hashes, "left") for q in excerpts]
    index.same_recordings(excerpts[0])
    walls, cpus = timed_calls(index.same_recordings, excerpts)
    extend_seconds, extend_action, shrink_seconds, shrink_action = time_index_changes(store, index, pool, per_track)
    store.close()
    with Library(options.database, DATA / "model") as library:
        query = str(DATA / "query-not-in-library.mp3")
        library.similar(query, k=10)
        similar_walls, _ = timed_calls(lambda path: library.similar(path, k=10), [query] * QUERY_REPEATS)
        excerpt_path = Path(tempfile.mkdtemp()) / "excerpt.mp3"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", "60", "-t", "30", "-i", query,
                        "-b:a", "96k", str(excerpt_path)], check=True)
        excerpt_walls, _ = timed_calls(lambda path: library.similar(path, k=10), [str(excerpt_path)] * QUERY_REPEATS)
        query_ids = [int(t) for t in np.random.default_rng(1).integers(1, library.track_count() + 1, SEARCH_QUERIES)]
        library.similar(query_ids[0], k=10)
        by_id_walls, by_id_cpus = timed_calls(lambda track_id: library.similar(track_id, k=10), query_ids)
    rows_path = landmark_index_paths(options.database)[0]
    all_entries = np.concatenate(entries)
    return {"tracks_given_landmarks": filled, "hashes_per_track": per_track, "pool_tracks": len(real_files),
            "sqlite_fill_seconds": round(fill_seconds, 1), "rows": index.size,
            "index_file_mib": round(rows_path.stat().st_size / 2**20), "rebuild_seconds": round(rebuild_seconds, 2),
            "load_seconds": round(load_seconds, 3), "load_action": load_action,
            "query_hashes_mean": round(float(np.mean([len(q) for q in excerpts]))),
            "entries_per_query_hash_mean": round(float(all_entries.mean()), 1),
            "query_hashes_over_bucket_cap": round(float(np.mean(all_entries > MAX_BUCKET_ENTRIES)), 4),
            "lookup_30s_excerpt_wall_ms": percentiles_ms(walls), "lookup_30s_excerpt_cpu_ms": percentiles_ms(cpus),
            f"add_{CHANGED_TRACKS}_tracks_seconds": round(extend_seconds, 2), "add_action": extend_action,
            f"remove_{CHANGED_TRACKS}_tracks_seconds": round(shrink_seconds, 2), "remove_action": shrink_action,
            "similar_4min_mp3_file_wall_ms": percentiles_ms(similar_walls),
            "similar_30s_excerpt_file_wall_ms": percentiles_ms(excerpt_walls),
            "similar_track_id_wall_ms": percentiles_ms(by_id_walls), "similar_track_id_cpu_ms": percentiles_ms(by_id_cpus),
            "load_average_1min_after": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index")
    index.add_argument("--workers", type=int, default=1)
    index.add_argument("--max-windows", type=int, default=None, help="default: the engine's")
    index.add_argument("--batch-windows", type=int, default=None, help="default: the engine's")
    index.add_argument("--library", type=Path, default=DATA / "library",
                       help="the folder indexed (default: the benchmark library)")
    index.add_argument("--model", type=Path, default=DATA / "model",
                       help="model folder (default: the benchmark model, random weights: every key read is a close "
                            "call, so the key's semitone copies are always read; real weights on real music read "
                            "them for some tracks only)")
    query = commands.add_parser("query")
    query.add_argument("--workers", type=int, default=1)
    query.add_argument("--db", type=Path, default=None, help="an already indexed benchmark library")
    query.add_argument("--model", type=Path, default=DATA / "model", help="model folder (default: the benchmark model)")
    vectors = commands.add_parser("vectors")
    vectors.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    vectors.add_argument("--dimension", type=int, default=512)
    vectors.add_argument("--scratch", type=Path, default=Path("/work/.bench_data"))
    vectors.add_argument("--database", type=Path, default=None, help="reuse (or fill once) this database; one size")
    faiss_only = commands.add_parser("faiss")
    faiss_only.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    faiss_only.add_argument("--dimension", type=int, default=512)
    landmark_lookups = commands.add_parser("landmarks", help="same-recording index at library scale")
    landmark_lookups.add_argument("--database", type=Path, required=True, help="a filled synthetic library (vectors)")
    landmark_lookups.add_argument("--pool-manifest", type=Path, default=Path("data/debian/manifest.jsonl"),
                                  help="real music (a corpus manifest) whose hashes are drawn and whose excerpts "
                                       "are the queries")
    landmark_lookups.add_argument("--pool-step", type=int, default=4, help="take every Nth file of the folder")
    landmark_lookups.add_argument("--queries", type=int, default=30)
    options = parser.parse_args()
    runner = {"index": run_index, "query": run_query, "vectors": run_vectors, "faiss": run_faiss,
              "landmarks": run_landmarks}[options.command]
    print(json.dumps(runner(options), indent=2))


if __name__ == "__main__":
    main()
