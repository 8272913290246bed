"""Per-item outcomes name the very items the aggregate figures were computed from."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluation.metrics import per_query_label_retrieval, target_ranks, top1_retrieval
from training.evaluation.per_item import paired_items, per_item, queried_items


def test_the_queried_items_are_those_the_retrieval_scored_in_its_order():
    labels = ["a", "b", "a", "c", "b", "a"]  # "c" has no other item: not a query
    embeddings = np.random.default_rng(0).normal(size=(len(labels), 8))
    r_precisions, _ = per_query_label_retrieval(embeddings, labels)
    ids = [f"t{i}" for i in range(len(labels))]
    assert queried_items(ids, labels) == ["t0", "t1", "t2", "t4", "t5"]
    assert len(queried_items(ids, labels)) == r_precisions.size


def test_top1_hits_average_to_the_reported_rate():
    rng = np.random.default_rng(1)
    database = rng.normal(size=(10, 6))
    queries = database + rng.normal(scale=1.5, size=database.shape)
    result = top1_retrieval(queries, database, list(range(10)))
    hits = target_ranks(queries, database, list(range(10))) == 1
    assert np.mean(hits) == pytest.approx(result["top1"]) and len(hits) == 10


def test_entries_pair_only_over_the_same_items():
    first, second = per_item(["x", "y"], [1, 0]), per_item(["x", "y"], [1, 1])
    values = paired_items(first, second)
    assert values is not None and values[0].tolist() == [1.0, 0.0] and values[1].tolist() == [1.0, 1.0]
    assert paired_items(first, per_item(["x", "z"], [1, 1])) is None
    assert paired_items(first, per_item(["x", "y", "z"], [1, 1, 1])) is None
    assert paired_items(first, per_item(["x", "x"], [1, 1])) is None  # a repeated id matches nothing
    assert paired_items(first, None) is None
    with pytest.raises(ValueError, match="2 item ids for 1 values"):
        per_item(["x", "y"], [1])


def test_the_same_items_pair_in_another_order_and_under_another_data_root():
    """Two runs on the same held-out data on two machines: the manifest lists the clips in another order, under
    another folder."""
    here = per_item(["data/debian/a/one.ogg@+1", "data/debian/b/two.ogg@-2", "data/debian/b/three.ogg@+3"], [1, 0, 1])
    there = per_item(["/work/data/debian/b/three.ogg@+3", "/work/data/debian/a/one.ogg@+1",
                      "/work/data/debian/b/two.ogg@-2"], [0, 1, 1])
    values = paired_items(here, there)
    assert values is not None and values[0].tolist() == [1.0, 0.0, 1.0] and values[1].tolist() == [1.0, 1.0, 0.0]
    other_files = per_item(["/work/data/debian/a/one.ogg@+1", "/work/data/debian/b/two.ogg@-2",
                            "/work/data/debian/c/four.ogg@+3"], [1, 1, 1])
    assert paired_items(here, other_files) is None
