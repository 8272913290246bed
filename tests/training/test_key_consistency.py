"""Transposition consistency: untransposing key distributions, a loss that is zero only when views agree, and
the pooled key loss (the cross-entropy of the views' mean distribution, as the product averages windows)."""

from __future__ import annotations

import torch

from engine.keys import parse_key
from training.learner import pooled_key_loss, transposition_consistency, untranspose_key_distribution


def _one_hot_log(index: int) -> torch.Tensor:
    probabilities = torch.full((24,), 1e-6)
    probabilities[index] = 1.0
    return (probabilities / probabilities.sum()).log()


def test_a_key_heard_a_fifth_up_is_moved_back_down():
    a_minor, e_minor = parse_key("A minor").index, parse_key("E minor").index
    heard = _one_hot_log(e_minor)  # A minor audio shifted up 7 semitones sounds in E minor
    aligned = untranspose_key_distribution(heard[None], torch.tensor([7.0]))[0]
    assert int(aligned.argmax()) == a_minor
    g_major = parse_key("G major").index
    down = untranspose_key_distribution(_one_hot_log(parse_key("F major").index)[None], torch.tensor([-2.0]))[0]
    assert int(down.argmax()) == g_major  # G major shifted down a tone sounds in F major


def test_consistency_is_zero_for_equivariant_views_and_positive_otherwise():
    logits = torch.randn(24) * 3
    shifts = torch.tensor([[0.0, 3.0]])
    by_mode = logits.reshape(2, 12)
    shifted = torch.roll(by_mode, 3, dims=1).reshape(24)  # what an equivariant head says for +3 semitones
    agreeing = torch.stack([logits, shifted])[None]
    assert float(transposition_consistency(agreeing, shifts)) < 1e-5
    disagreeing = torch.stack([logits, logits])[None]
    assert float(transposition_consistency(disagreeing, shifts)) > 1e-2


def test_the_pooled_key_loss_is_the_cross_entropy_of_the_mean_of_the_views_moved_back():
    torch.manual_seed(3)
    logits = torch.randn(2, 3, 24) * 2
    shifts = torch.tensor([[0.0, 2.0, -5.0], [1.0, 0.0, 4.0]])
    keys = torch.tensor([parse_key("D major").index, parse_key("F# minor").index])
    expected = []
    for clip in range(2):  # by hand: each view's probabilities rolled back by its shift, averaged, -log at the key
        moved = []
        for view in range(3):
            probabilities = torch.softmax(logits[clip, view], dim=-1).reshape(2, 12)
            moved.append(torch.roll(probabilities, -int(shifts[clip, view]), dims=1).reshape(24))
        expected.append(-torch.stack(moved).mean(dim=0)[keys[clip]].log())
    assert torch.allclose(pooled_key_loss(logits, keys, shifts), torch.stack(expected).mean(), atol=1e-5)
    unknown = torch.tensor([keys[0], -1])  # a clip without a key teaches nothing
    assert torch.allclose(pooled_key_loss(logits, unknown, shifts), expected[0], atol=1e-5)
