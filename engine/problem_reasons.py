"""Which problem reasons are about the moment (a permission, a disk, a mount) rather than the file's content.

A file that could not be read during one run (permission denied, an I/O error, a drive not mounted) may be fine
on the next, so such problems are retried on every index run; a file whose content is broken (truncated, not
audio) is retried only when it changes, or on ``engine index --retry-problems``.
"""

from __future__ import annotations

# Lower-case fragments of the reasons that scanning, hashing and decoding give for conditions outside the file.
TRANSIENT_REASON_FRAGMENTS = (
    "permission denied", "cannot read", "cannot stat", "not found", "no such file", "dangling symlink", "vanished",
    "input/output error", "i/o error", "resource temporarily unavailable", "stale file handle",
    "transport endpoint", "no space left", "too many open files",
)


def is_transient(reason: str) -> bool:
    """Whether a problem's reason is about the moment, not the content (see the module docstring)."""
    lowered = reason.lower()
    return any(fragment in lowered for fragment in TRANSIENT_REASON_FRAGMENTS)
