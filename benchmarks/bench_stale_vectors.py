"""What stale vectors hidden in an HNSW graph cost a search: recall@10 and CPU per query of the graph walk with
``engine.vector_changes.LivePositions`` as its selector, for several stale shares, against an exact scan of the
live vectors. It sizes ``engine.vector_index.DEAD_SHARE_LIMIT``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_stale_vectors.py --tracks 20000 --dimension 1080

Synthetic unit vectors on a low-dimensional manifold (``bench_engine.synthetic_embeddings``); the queries are
other vectors of the same manifold. One thread, as a `similar` query runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

STALE_SHARES = (0.0, 0.05, 0.10, 0.20, 0.40)
QUERIES = 300
K = 10


def stale_costs(tracks: int, dimension: int, seed: int = 0) -> list[dict]:
    import faiss
    from bench_engine import SYNTHETIC_INTRINSIC_DIMENSION, synthetic_embeddings

    from engine.vector_changes import LivePositions
    from engine.vector_index import HNSW_EF_SEARCH, build_faiss_index

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((SYNTHETIC_INTRINSIC_DIMENSION, dimension)).astype(np.float32)
    vectors = synthetic_embeddings(rng, mixing, tracks)
    queries = synthetic_embeddings(rng, mixing, QUERIES)
    index = build_faiss_index(dimension, tracks)
    started = time.process_time()
    index.add_with_ids(vectors, np.arange(tracks, dtype=np.int64))
    print(f"graph of {tracks:,} built in {time.process_time() - started:.1f} s CPU", flush=True)
    graph = faiss.downcast_index(index.index)
    storage = faiss.downcast_index(graph.storage)
    rows = []
    for share in STALE_SHARES:
        stale = np.sort(rng.choice(tracks, int(share * tracks), replace=False)).astype(np.int64)
        live = LivePositions(tracks, stale)
        _, truth = storage.search(queries, K, params=faiss.SearchParameters(sel=live.selector))
        walk = faiss.SearchParametersHNSW(sel=live.selector, efSearch=HNSW_EF_SEARCH)
        started = time.process_time()
        found = np.stack([graph.search(query[None, :], K, params=walk)[1][0] for query in queries])
        cpu_ms = (time.process_time() - started) * 1000 / QUERIES
        recall = np.mean([len(set(a.tolist()) & set(b.tolist())) / K for a, b in zip(found, truth)])
        assert not np.isin(found, stale).any(), "a hidden vector came back"
        rows.append({"stale_share": share, "recall_at_10": round(float(recall), 4), "walk_cpu_ms": round(cpu_ms, 3),
                     "short_rows": int((found < 0).any(axis=1).sum())})
        print(f"  stale {share:.0%}: recall@10 {recall:.4f}, {cpu_ms:.3f} ms CPU a query, "
              f"{rows[-1]['short_rows']} queries with fewer than {K}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--dimension", type=int, default=1080)
    options = parser.parse_args()
    rows = stale_costs(options.tracks, options.dimension)
    print(json.dumps({"tracks": options.tracks, "dimension": options.dimension, "rows": rows,
                      "load_average_1min_after": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
