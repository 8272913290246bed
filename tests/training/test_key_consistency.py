"""Transposition consistency: untransposing key distributions, and a loss that is zero only when views agree."""

from __future__ import annotations

import torch

from engine.keys import parse_key
from training.learner import transposition_consistency, untranspose_key_distribution


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
