"""The SemiSupCon loss against straightforward loop implementations of NT-Xent, SupCon and the mixed case."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from training.losses import semisupcon_loss

TEMPERATURE = 0.1


def _similarities(embeddings: torch.Tensor) -> torch.Tensor:
    z = F.normalize(embeddings.reshape(-1, embeddings.shape[-1]).double(), dim=-1)
    return z @ z.T / TEMPERATURE


def nt_xent_reference(embeddings: torch.Tensor) -> float:
    """SimCLR with two views: anchor i's only positive is the other view of its clip."""
    clips = embeddings.shape[0]
    s = _similarities(embeddings)
    total = 0.0
    for i in range(2 * clips):
        partner = i + 1 if i % 2 == 0 else i - 1
        denominator = sum(math.exp(s[i, k]) for k in range(2 * clips) if k != i)
        total += -math.log(math.exp(s[i, partner]) / denominator)
    return total / (2 * clips)


def supcon_reference(embeddings: torch.Tensor, classes: list[int]) -> float:
    """SupCon L_out with one class per clip: positives are all other views of the same class."""
    clips, views, _ = embeddings.shape
    s = _similarities(embeddings)
    view_class = [classes[i // views] for i in range(clips * views)]
    total = 0.0
    for i in range(clips * views):
        positives = [p for p in range(clips * views) if p != i and view_class[p] == view_class[i]]
        denominator = sum(math.exp(s[i, a]) for a in range(clips * views) if a != i)
        total += -sum(math.log(math.exp(s[i, p]) / denominator) for p in positives) / len(positives)
    return total / (clips * views)


def mixed_reference(embeddings: torch.Tensor, label_sets: list[set[int]], min_shared: int = 1, dice: bool = False) -> float:
    """The issue's definition written out pair by pair; an empty label set means unlabeled."""
    clips, views, _ = embeddings.shape
    n = clips * views
    s = _similarities(embeddings)
    total = 0.0
    for i in range(n):
        weights = []
        for j in range(n):
            if j == i:
                weights.append(0.0)
                continue
            a, b = label_sets[i // views], label_sets[j // views]
            same_clip = 1.0 if i // views == j // views else 0.0
            shared = len(a & b)
            label_term = 0.0
            if a and b and shared >= min_shared:
                label_term = 2 * shared / (len(a) + len(b)) if dice else 1.0
            weights.append(min(1.0, same_clip + label_term))
        denominator = sum(math.exp(s[i, k]) for k in range(n) if k != i)
        contribution = sum(w * -math.log(math.exp(s[i, j]) / denominator) for j, w in enumerate(weights) if w > 0)
        total += contribution / max(sum(weights), 1.0)
    return total / n


def multi_hot(label_sets: list[set[int]], classes: int) -> torch.Tensor:
    labels = torch.zeros(len(label_sets), classes)
    for row, labels_of_clip in enumerate(label_sets):
        for label in labels_of_clip:
            labels[row, label] = 1.0
    return labels


def test_without_labels_equals_nt_xent():
    embeddings = torch.randn(6, 2, 16, generator=torch.Generator().manual_seed(0))
    assert semisupcon_loss(embeddings.double(), None, TEMPERATURE).item() == pytest.approx(nt_xent_reference(embeddings), rel=1e-9)
    zero_labels = torch.zeros(6, 5)
    assert semisupcon_loss(embeddings, zero_labels).item() == pytest.approx(nt_xent_reference(embeddings), rel=1e-5)


def test_all_labeled_equals_supcon_l_out():
    embeddings = torch.randn(8, 3, 12, generator=torch.Generator().manual_seed(1))
    classes = [0, 1, 2, 0, 1, 1, 3, 2]
    labels = F.one_hot(torch.tensor(classes), 4).float()
    assert semisupcon_loss(embeddings.double(), labels).item() == pytest.approx(supcon_reference(embeddings, classes), rel=1e-9)


@pytest.mark.parametrize("weighting", ["binary", "dice"])
@pytest.mark.parametrize("min_shared", [1, 2])
def test_mixed_batch_matches_pairwise_definition(weighting, min_shared):
    embeddings = torch.randn(7, 2, 10, generator=torch.Generator().manual_seed(2))
    label_sets = [{0, 1}, {1, 2}, {0, 1, 2}, {3}, set(), set(), set()]
    labels = multi_hot(label_sets, 4)
    expected = mixed_reference(embeddings, label_sets, min_shared, dice=weighting == "dice")
    actual = semisupcon_loss(embeddings.double(), labels, TEMPERATURE, min_shared, weighting).item()
    assert actual == pytest.approx(expected, rel=1e-9)


def test_gradient_matches_finite_differences():
    generator = torch.Generator().manual_seed(3)
    embeddings = torch.randn(4, 2, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    labels = multi_hot([{0}, {0, 1}, set(), set()], 2).double()
    for weighting in ("binary", "dice"):
        assert torch.autograd.gradcheck(lambda e: semisupcon_loss(e, labels, weighting=weighting), (embeddings,))


def test_permuting_clips_leaves_loss_unchanged():
    generator = torch.Generator().manual_seed(4)
    embeddings = torch.randn(9, 2, 8, dtype=torch.float64, generator=generator)
    labels = multi_hot([{0}, {1}, {0, 2}, {2}, set(), set(), {1}, set(), {0}], 3).double()
    order = torch.randperm(9, generator=generator)
    views_swapped = embeddings.flip(1)
    base = semisupcon_loss(embeddings, labels)
    assert semisupcon_loss(embeddings[order], labels[order]).item() == pytest.approx(base.item(), rel=1e-12)
    assert semisupcon_loss(views_swapped, labels).item() == pytest.approx(base.item(), rel=1e-12)


def test_bf16_autocast_keeps_loss_finite_and_close():
    embeddings = torch.randn(16, 2, 128, generator=torch.Generator().manual_seed(5)) * 50
    labels = multi_hot([{i % 3} if i < 8 else set() for i in range(16)], 3)
    reference = semisupcon_loss(embeddings, labels)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = semisupcon_loss(embeddings.bfloat16(), labels)
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed)
    assert mixed.item() == pytest.approx(reference.item(), rel=2e-2)


def test_more_views_give_more_same_clip_positives():
    embeddings = torch.randn(5, 4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    label_sets = [set()] * 5
    assert semisupcon_loss(embeddings, None).item() == pytest.approx(mixed_reference(embeddings, label_sets), rel=1e-9)
