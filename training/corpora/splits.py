"""Deterministic train/val/test assignment by group, so every variant of a piece (or every track of a
soundtrack) lands on the same side, and a bigger re-run never moves a group across sides."""

from __future__ import annotations

import hashlib

SPLITS = ("train", "val", "test")
DEFAULT_SHARES = {"train": 0.8, "val": 0.1, "test": 0.1}


def split_of_group(group: str, shares: dict[str, float] = DEFAULT_SHARES, salt: str = "splits-v1") -> str:
    """Hash the group name to [0, 1) and cut that interval by the shares (in SPLITS order)."""
    digest = hashlib.sha1(f"{salt}:{group}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    cumulative = 0.0
    for split in SPLITS:
        cumulative += shares.get(split, 0.0)
        if position < cumulative:
            return split
    return SPLITS[-1]
