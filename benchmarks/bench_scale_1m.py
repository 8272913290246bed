"""What a 1M-track library costs the landmark index and the vector index: measured on synthetic data at sizes this
machine holds, for docs/scale-1m.md.

    .venv/bin/python benchmarks/bench_scale_1m.py landmarks [--rows 20000000]
    .venv/bin/python benchmarks/bench_scale_1m.py vectors [--tracks 100000] [--dimension 1080]

``landmarks``: a lookup's cost grows with the entries found per query hash (17 at 100k tracks of real hashes,
BENCHMARKS.md, "Same-recording matching"; about 10x that at 1M). The index is synthetic sorted rows; each query hash
is given exactly that many entries spread over random tracks, and ``aligned_matches`` (the product's lookup) is timed
on 30 queries of 2,273 hashes (a 30 s excerpt). ``vectors``: FAISS exact (flat) against IVF-PQ on clustered unit
vectors: build time, bytes per vector, query CPU time and recall@10 against the exact answer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUERY_HASHES = 2_273  # a 30 s excerpt (BENCHMARKS.md, "Same-recording matching")
ENTRIES_PER_HASH = (17, 170)  # measured at 100k tracks; 10x for 1M tracks
QUERIES = 30
TRACKS = 1_000_000
CLUSTERS = 2_000  # vectors: groups of similar tracks, so an inverted file has structure to use
NOISE = 0.35
K = 10
TRAINING_PER_LIST = 64  # vectors per inverted list used to train the coarse quantiser


def landmark_lookup(rows_total: int) -> None:
    from engine.landmark_index import aligned_matches
    from engine.landmarks import Landmarks

    generator = np.random.default_rng(0)
    query_hashes = np.sort(generator.choice(2**32 - 1, size=QUERY_HASHES, replace=False).astype(np.uint32))
    for entries in ENTRIES_PER_HASH:
        filler = rows_total - QUERY_HASHES * entries
        hashes = np.concatenate([generator.integers(0, 2**32 - 1, filler, dtype=np.uint32),
                                 np.repeat(query_hashes, entries)])
        order = np.argsort(hashes, kind="stable")
        rows = np.stack([hashes[order], generator.integers(1, TRACKS, hashes.size, dtype=np.uint32)[order],
                         generator.integers(0, 20_000, hashes.size, dtype=np.uint32)[order]])
        del hashes, order
        query = Landmarks(query_hashes, generator.integers(0, 2_000, QUERY_HASHES).astype(np.int32))
        times = []
        for _ in range(QUERIES):
            started = time.thread_time()
            aligned_matches(rows, query)
            times.append((time.thread_time() - started) * 1000)
        print(f"landmarks: {rows.shape[1]:,} rows, {entries} entries per query hash: lookup CPU p50 "
              f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms", flush=True)
        del rows


def vector_indexes(tracks: int, dimension: int) -> None:
    import faiss

    generator = np.random.default_rng(0)
    centres = generator.standard_normal((CLUSTERS, dimension)).astype(np.float32)
    vectors = centres[generator.integers(0, CLUSTERS, tracks)] + NOISE * generator.standard_normal(
        (tracks, dimension)).astype(np.float32)
    faiss.normalize_L2(vectors)
    queries = vectors[generator.choice(tracks, QUERIES, replace=False)]
    flat = faiss.IndexFlatIP(dimension)
    flat.add(vectors)
    faiss.omp_set_num_threads(1)
    exact = _timed_search(flat, queries, "flat (exact)", dimension * 4)[1]
    lists = int(np.sqrt(tracks))
    for code_bytes in (dimension // 9, dimension // 18):  # 8-bit codes per 9 or 18 dimensions
        faiss.omp_set_num_threads(2)
        index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dimension), dimension, lists, code_bytes, 8,
                                 faiss.METRIC_INNER_PRODUCT)
        started = time.monotonic()
        index.train(vectors[generator.choice(tracks, min(tracks, TRAINING_PER_LIST * lists), replace=False)])
        index.add(vectors)
        built = time.monotonic() - started
        faiss.omp_set_num_threads(1)  # queries on one thread, as the engine runs them
        index.nprobe = 16
        found = _timed_search(index, queries, f"IVF{lists},PQ{code_bytes} nprobe 16 (built in {built:.0f} s)",
                              code_bytes + 8)[1]
        recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(found, exact)])
        print(f"  recall@{K} against exact: {recall:.3f}", flush=True)


def _timed_search(index, queries: np.ndarray, name: str, bytes_per_vector: int):
    times, found = [], []
    for query in queries:
        started = time.thread_time()
        _, ids = index.search(query[None, :], K)
        times.append((time.thread_time() - started) * 1000)
        found.append(ids[0])
    print(f"vectors: {name}: query CPU p50 {statistics.median(times):.2f} ms, {bytes_per_vector} bytes per vector "
          f"({bytes_per_vector * TRACKS / 2**30:.2f} GiB at 1M)", flush=True)
    return times, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    landmarks = commands.add_parser("landmarks")
    landmarks.add_argument("--rows", type=int, default=20_000_000)
    vectors = commands.add_parser("vectors")
    vectors.add_argument("--tracks", type=int, default=100_000)
    vectors.add_argument("--dimension", type=int, default=1080)
    options = parser.parse_args()
    if options.command == "landmarks":
        landmark_lookup(options.rows)
    else:
        vector_indexes(options.tracks, options.dimension)


if __name__ == "__main__":
    main()
