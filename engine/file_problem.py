"""The error for one file the engine will not change or cannot handle: a short reason for the user."""

from __future__ import annotations


class FileProblem(Exception):
    """``reason`` is short and user-facing (it goes into a result's problem field); ``path`` as given."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
