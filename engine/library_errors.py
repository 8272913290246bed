"""The errors a ``Library`` raises, in a module of their own so that its parts (``engine.search``) raise the same
ones without importing the library. ``engine.library`` re-exports them: callers import them from there."""

from __future__ import annotations

from pathlib import Path

Query = str | int | Path  # what a user searches by: a file path, or a track id (an int or a string of digits)


class LibraryError(Exception):
    """Base of every error the library raises; the message is one line fit for a user."""


class QueryError(LibraryError):
    """A query (file path or track id) cannot be used; ``reason`` is short, ``query`` as given."""

    def __init__(self, query: object, reason: str) -> None:
        super().__init__(f"{query}: {reason}")
        self.query = query
        self.reason = reason


class LibraryOpenError(LibraryError):
    """The database cannot be opened."""


class ModelUnavailableError(LibraryError):
    """No usable model: the default is missing or a model folder is invalid. ``reason`` says what is wrong, ``hint``
    what to do about it on the command line; the message holds both, the app shows the reason alone (its own
    way out is the model picker, not ``--model``)."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(f"{reason} ({hint})" if hint else reason)
        self.reason = reason
        self.hint = hint
