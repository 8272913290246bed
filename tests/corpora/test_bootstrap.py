"""Bootstrap intervals of the evaluation: they cover the mean, shrink with more queries, and a paired
difference tells a real gap from query-to-query noise."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluation.bootstrap import bootstrap_means, paired_difference


def test_interval_covers_the_mean_and_narrows_with_more_queries():
    rng = np.random.default_rng(0)
    few = bootstrap_means(rng.random(30))
    many = bootstrap_means(rng.random(3000))
    for summary in (few, many):
        low, high = summary["ci95"]
        assert low < summary["mean"] < high
    assert (many["ci95"][1] - many["ci95"][0]) < (few["ci95"][1] - few["ci95"][0]) / 5


def test_a_consistent_gain_on_every_query_lies_above_zero():
    rng = np.random.default_rng(1)
    baseline = rng.random(100)
    result = paired_difference(baseline + 0.05 + 0.01 * rng.standard_normal(100), baseline)
    assert result["above_zero"] and not result["below_zero"]
    assert result["mean"] == pytest.approx(0.05, abs=0.01)


def test_noise_without_a_gain_straddles_zero():
    rng = np.random.default_rng(2)
    first, second = rng.random(100), rng.random(100)
    result = paired_difference(first - first.mean() + second.mean(), second)
    assert not result["above_zero"] and not result["below_zero"]


def test_a_paired_difference_needs_the_same_queries():
    with pytest.raises(ValueError):
        paired_difference(np.zeros(3), np.zeros(4))
