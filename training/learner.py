"""What is trained: encoder + projection head (+ key/tag heads when finetuning) and its objective.

The learner's ``forward`` returns the loss so that DDP wraps one module whose forward does all the work.
Pretraining: the SemiSupCon loss on projections. Finetuning: cross-entropy on keys (labels transposed by
whole-semitone pitch shifts), binary cross-entropy on tags, plus ``contrastive_weight`` x SemiSupCon, plus
``key_pooled_weight`` x the cross-entropy of the views' mean key distribution (what the product stores), plus
``key_consistency_weight`` x transposition consistency: two views of one clip, pitch-shifted by different
amounts, must give key distributions that match once each is moved back by its shift. That term needs no
labels, so it teaches the key head to follow transpositions on the unlabeled (real) music too.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.networks import ClassifierHead, ProjectionHead, build_encoder, build_key_head
from training.config import FinetuneConfig, LossConfig
from training.losses import semisupcon_loss

NO_KEY = -1


def untranspose_key_distribution(log_probs: torch.Tensor, semitones: torch.Tensor) -> torch.Tensor:
    """(..., 24) key log-probabilities of audio shifted by ``semitones`` (...) → those of the unshifted audio."""
    shift = semitones.round().long()
    pitch_classes = (torch.arange(12, device=log_probs.device) + shift[..., None]) % 12  # (..., 12)
    by_mode = log_probs.reshape(*log_probs.shape[:-1], 2, 12)
    index = pitch_classes[..., None, :].expand(by_mode.shape)
    return by_mode.gather(-1, index).reshape(log_probs.shape)


def transposition_consistency(key_logits: torch.Tensor, semitones: torch.Tensor) -> torch.Tensor:
    """Symmetric KL between the views' untransposed key distributions; ``key_logits`` (clips, views, 24)."""
    aligned = untranspose_key_distribution(F.log_softmax(key_logits.float(), dim=-1), semitones)
    target = aligned.detach().exp().mean(dim=1, keepdim=True)  # the views' consensus, no gradient through it
    return F.kl_div(aligned, target.expand_as(aligned), reduction="batchmean") / aligned.shape[1]


def pooled_key_loss(key_logits: torch.Tensor, key_index: torch.Tensor, semitones: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each clip's mean key distribution over its views, each view's moved back by its pitch
    shift; ``key_logits`` (clips, views, 24), ``key_index`` (clips,) of the unshifted clip (-1 = unknown). The mean
    of probabilities, as ``engine.key_audio`` averages a track's windows."""
    aligned = untranspose_key_distribution(F.log_softmax(key_logits.float(), dim=-1), semitones)
    mean_log_probs = torch.logsumexp(aligned, dim=1) - math.log(aligned.shape[1])
    return F.nll_loss(mean_log_probs, key_index, ignore_index=NO_KEY)


def transpose_key_index(key_index: torch.Tensor, semitones: torch.Tensor) -> torch.Tensor:
    """Key classes (any shape, -1 = unknown) moved by whole ``semitones``: major stays major, minor minor."""
    shift = semitones.round().long()
    pitch_class = (key_index % 12 + shift) % 12
    moved = pitch_class + 12 * (key_index // 12)
    return torch.where(key_index >= 0, moved, key_index)


class Learner(nn.Module):
    """Encoder + projection; with ``tag_count``/``with_key`` it also carries the supervised heads."""

    def __init__(
        self,
        architecture: dict,
        loss: LossConfig,
        finetune: FinetuneConfig | None = None,
        tag_count: int = 0,
        with_key: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = build_encoder(architecture)
        embedding_dim = self.encoder.config.embedding_dim
        self.projection = ProjectionHead(embedding_dim)
        self.loss_config = loss
        self.finetune = finetune
        hidden = finetune.head_hidden_dim if finetune else 0
        self.key_head = build_key_head(self.encoder, hidden) if with_key else None
        self.tag_head = ClassifierHead(embedding_dim, tag_count, hidden) if tag_count else None

    trainable_prefixes: tuple[str, ...] = ()

    def restrict_training(self, prefixes: list[str] | tuple[str, ...]) -> None:
        """Train only parameters whose names start with one of ``prefixes``. Frozen layers also stay in eval
        mode, so their batch-norm statistics do not drift with the new data either."""
        prefixes = tuple(prefixes)
        names = [name for name, _ in self.named_parameters()]
        unmatched = [prefix for prefix in prefixes if not any(name.startswith(prefix) for name in names)]
        if unmatched:
            raise ValueError(f"no parameters under {unmatched} (they start with e.g. {sorted({n.split('.')[0] for n in names})})")
        self.trainable_prefixes = prefixes
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(name.startswith(prefixes))
        self.train(self.training)

    def train(self, mode: bool = True) -> "Learner":
        super().train(mode)
        if self.trainable_prefixes:
            for name, module in self.named_modules():
                if name and not any(module.children()) and not f"{name}.".startswith(self.trainable_prefixes):
                    module.eval()
        return self

    def contrastive(self, projections: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return semisupcon_loss(
            projections, labels, self.loss_config.temperature, self.loss_config.min_shared_labels, self.loss_config.weighting
        )

    def forward(
        self, audio: torch.Tensor, labels: torch.Tensor | None, key_index: torch.Tensor, semitones: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``audio`` (clips, views, samples) augmented; returns (loss, detached parts for logging)."""
        clips, views, samples = audio.shape
        embeddings, key_features = self.encoder.encode(audio.reshape(clips * views, samples))
        # A pitch-invariant embedding leaves the key path unused unless a key head trains it: keep it in the
        # graph with a zero gradient so that DDP sees every parameter used.
        unused_key_path = 0.0 * key_features[:1].sum() if key_features is not embeddings else 0.0
        if self.finetune is None:
            loss = self.contrastive(self.projection(embeddings).reshape(clips, views, -1), labels)
            return loss + unused_key_path, {"contrastive": loss.detach()}
        parts: dict[str, torch.Tensor] = {}
        loss = embeddings.new_zeros((), dtype=torch.float32)
        key_logits = self.key_head(key_features) if self.key_head is not None else None
        if key_logits is not None and self.finetune.key_weight > 0:
            targets = transpose_key_index(key_index[:, None].expand(clips, views), semitones).reshape(-1)
            if bool((targets >= 0).any()):
                parts["key"] = F.cross_entropy(key_logits.float(), targets, ignore_index=NO_KEY)
                loss = loss + self.finetune.key_weight * parts["key"]
        if key_logits is not None and self.finetune.key_pooled_weight > 0 and bool((key_index >= 0).any()):
            parts["key_pooled"] = pooled_key_loss(key_logits.reshape(clips, views, -1), key_index, semitones)
            loss = loss + self.finetune.key_pooled_weight * parts["key_pooled"]
        if key_logits is not None and self.finetune.key_consistency_weight > 0 and views > 1:
            parts["key_consistency"] = transposition_consistency(key_logits.reshape(clips, views, -1), semitones)
            loss = loss + self.finetune.key_consistency_weight * parts["key_consistency"]
        if self.tag_head is not None and labels is not None and self.finetune.tag_weight > 0:
            # Only clips with labels teach tags: an unlabeled clip (SemiSupCon's unlabeled part) has unknown
            # tags, not none, and must not pull every tag towards "absent".
            tagged = (labels.sum(dim=1) > 0).repeat_interleave(views, dim=0)
            if bool(tagged.any()):
                tag_targets = labels.repeat_interleave(views, dim=0)[tagged]
                parts["tags"] = F.binary_cross_entropy_with_logits(self.tag_head(embeddings[tagged]).float(), tag_targets)
                loss = loss + self.finetune.tag_weight * parts["tags"]
            else:
                loss = loss + 0.0 * self.tag_head(embeddings[:1]).sum()  # in the graph for DDP
        if self.finetune.contrastive_weight > 0:
            parts["contrastive"] = self.contrastive(self.projection(embeddings).reshape(clips, views, -1), labels)
            loss = loss + self.finetune.contrastive_weight * parts["contrastive"]
        else:
            # Keep the projection in the graph (zero gradient) so DDP sees every parameter used.
            loss = loss + 0.0 * self.projection(embeddings[:1]).sum()
        return loss + unused_key_path, {name: value.detach() for name, value in parts.items()}


__all__ = ["Learner", "pooled_key_loss", "transpose_key_index", "transposition_consistency", "untranspose_key_distribution"]
