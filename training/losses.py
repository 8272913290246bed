"""The SemiSupCon loss: NT-Xent (SimCLR) over views of a clip, extended with label-sharing positives (SupCon).

A batch holds B clips seen in V views. Anchor ``i`` (one view of one clip) has positives ``j != i`` that are
views of the same clip, or views of another labeled clip sharing at least ``min_shared_labels`` labels:

    s_ij = cos(z_i, z_j) / tau
    L    = mean_i  sum_j P_ij * -log( exp s_ij / sum_{k != i} exp s_ik ) / max(sum_j P_ij, 1)

With no labels this is exactly NT-Xent; with every clip labeled it is SupCon's L_out. Under DDP the
projections and labels of every rank are gathered (gradients flow back to their rank) so that the
negatives are the global batch; each rank scores its own anchors, and DDP's gradient averaging then
yields the gradient of the mean over all global anchors.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

DEFAULT_TEMPERATURE = 0.1
WEIGHTINGS = ("binary", "dice")


class _GatherWithGradient(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for this rank's slice (any backend, gloo included)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        world_size, rank = dist.get_world_size(), dist.get_rank()
        ctx.rank, ctx.rows = rank, tensor.shape[0]
        pieces = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(pieces, tensor.contiguous())
        return torch.cat(pieces)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> torch.Tensor:
        gradient = gradient.contiguous()
        dist.all_reduce(gradient, op=dist.ReduceOp.SUM)
        return gradient[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def distributed_world() -> tuple[int, int]:
    """(rank, world_size), (0, 1) outside an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_across_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` (rows, ...) from every rank in rank order; gradients flow back to their owner."""
    _, world_size = distributed_world()
    if world_size == 1:
        return tensor
    if tensor.requires_grad:
        return _GatherWithGradient.apply(tensor)
    pieces = [torch.empty_like(tensor) for _ in range(world_size)]
    dist.all_gather(pieces, tensor.contiguous())
    return torch.cat(pieces)


def positive_mask(
    clip_index: torch.Tensor,
    labels: torch.Tensor | None,
    min_shared_labels: int = 1,
    weighting: str = "binary",
    anchor_rows: torch.Tensor | None = None,
) -> torch.Tensor:
    """P (anchors, N): 1 for views of the same clip or labeled clips sharing >= ``min_shared_labels`` labels.

    ``clip_index`` (N,) clip of each view; ``labels`` (N, C) multi-hot per view (all-zero = unlabeled);
    ``anchor_rows`` (anchors,) which of the N rows are anchors (default all). The diagonal (self) is 0.
    ``weighting="dice"`` uses 2|y_i & y_j| / (|y_i| + |y_j|) instead of 1 for label positives, capped at 1
    together with the same-clip term.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; choose one of {WEIGHTINGS}")
    rows = anchor_rows if anchor_rows is not None else torch.arange(clip_index.shape[0], device=clip_index.device)
    dtype = labels.dtype if labels is not None and labels.is_floating_point() else torch.float32
    same_clip = (clip_index[rows, None] == clip_index[None, :]).to(dtype)
    mask = same_clip
    if labels is not None:
        labels = labels.to(dtype)
        shared = labels[rows] @ labels.T  # (anchors, N) count of shared labels
        counts = labels.sum(dim=1)
        both_labeled = (counts[rows, None] > 0) & (counts[None, :] > 0)
        sharing = both_labeled & (shared >= min_shared_labels)
        if weighting == "binary":
            label_weight = sharing.to(dtype)
        else:
            label_weight = torch.where(sharing, 2 * shared / (counts[rows, None] + counts[None, :]).clamp(min=1), 0.0)
        mask = torch.clamp(same_clip + label_weight, max=1.0)
    is_self = rows[:, None] == torch.arange(clip_index.shape[0], device=clip_index.device)[None, :]
    return mask.masked_fill(is_self, 0.0)


def semisupcon_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor | None = None,
    temperature: float = DEFAULT_TEMPERATURE,
    min_shared_labels: int = 1,
    weighting: str = "binary",
) -> torch.Tensor:
    """SemiSupCon loss of ``embeddings`` (B, V, D) projections with optional ``labels`` (B, C) multi-hot.

    Projections are L2-normalised inside; similarities and the log-softmax run in float32 whatever the
    autocast dtype. Under an initialised process group the batch is gathered from every rank (equal B per
    rank) and the returned value is this rank's share: the mean over its anchors.
    """
    clips, views, _ = embeddings.shape
    rank, _ = distributed_world()
    compute_dtype = torch.promote_types(embeddings.dtype, torch.float32)  # float32 under bf16/fp16, float64 stays
    local = F.normalize(embeddings.to(compute_dtype).reshape(clips * views, -1), dim=-1)
    everything = gather_across_ranks(local)  # (N, D) global views, rank-major
    clip_index = torch.arange(everything.shape[0], device=local.device) // views
    view_labels = None
    if labels is not None:
        view_labels = gather_across_ranks(labels.to(compute_dtype)).repeat_interleave(views, dim=0)
    anchor_rows = torch.arange(clips * views, device=local.device) + rank * clips * views

    with torch.autocast(device_type=local.device.type, enabled=False):
        logits = local @ everything.T / temperature  # (anchors, N)
        is_self = anchor_rows[:, None] == torch.arange(everything.shape[0], device=local.device)[None, :]
        log_normaliser = torch.logsumexp(logits.masked_fill(is_self, float("-inf")), dim=1, keepdim=True)
        log_probability = (logits - log_normaliser).masked_fill(is_self, 0.0)
        positives = positive_mask(clip_index, view_labels, min_shared_labels, weighting, anchor_rows)
        per_anchor = -(positives * log_probability).sum(dim=1) / positives.sum(dim=1).clamp(min=1.0)
    return per_anchor.mean()


__all__ = ["semisupcon_loss", "positive_mask", "gather_across_ranks", "distributed_world", "DEFAULT_TEMPERATURE"]
