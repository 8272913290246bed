"""A current library opened read-only with ``sqlite3`` alone: what the reading commands need of the ``Store``.

``engine info``, ``engine problems`` and ``engine similar TRACK_ID`` read a library that needs no creating or
upgrading without SQLAlchemy, whose import is 0.2-0.3 s of a start (BENCHMARKS.md "Reading commands start without
SQLAlchemy"). The reads are ``engine.library_reads``, the same SQL the ``Store`` runs on its driver connection, and a
``VectorIndex`` keeps itself in step with SQLite through a reader as it does through the ``Store``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from engine import library_reads
from engine.database_file import (
    BUSY_TIMEOUT_MS, DatabaseOpenError, check_database_path, inspect_database, read_only_connection,
)
from engine.library_errors import LibraryOpenError
from engine.library_reads import EMBEDDING_BATCH_ROWS, Consumed, EmbeddingBatch
from engine.records import StoredModel, StoredTrack

if TYPE_CHECKING:
    import numpy as np

Read = TypeVar("Read")


class LibraryReader:
    """One read-only connection to a current library; its methods are the ``Store``'s of the same names."""

    in_memory = False  # always a library file: its caches are saved beside it (``Store.in_memory``)

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._connection = connection

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> LibraryReader:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def read(self, read: Callable[..., Read], *arguments) -> Read:
        """``read(connection, *arguments)``: a read of ``engine.library_reads`` or ``engine.library_summary``."""
        return read(self._connection, *arguments)

    def get_setting(self, name: str) -> str | None:
        return library_reads.setting(self._connection, name)

    def models(self) -> list[StoredModel]:
        return library_reads.registered_models(self._connection)

    def analyses_fingerprint(self, model_id: str, up_to_id: int | None = None) -> tuple[int, int]:
        return library_reads.analyses_fingerprint(self._connection, model_id, up_to_id)

    def analysed_track_ids_up_to(self, model_id: str, up_to_analysis_id: int) -> np.ndarray:
        return library_reads.analysed_track_ids_up_to(self._connection, model_id, up_to_analysis_id)

    def embeddings_of(self, model_id: str, track_ids: Sequence[int]) -> dict[int, np.ndarray]:
        return library_reads.embeddings_of(self._connection, model_id, track_ids)

    def track_rows_by_ids(self, model_id: str | None, track_ids: Sequence[int]) -> dict[int, StoredTrack]:
        return library_reads.track_rows_by_ids(self._connection, model_id, track_ids)

    def embedding_batches(
        self, model_id: str, consume: Callable[[tuple[int, int], Callable[[], Iterator[EmbeddingBatch]]], Consumed],
        after_analysis_id: int = 0, batch_rows: int = EMBEDDING_BATCH_ROWS,
    ) -> tuple[tuple[int, int], Consumed]:
        """``Store.embedding_batches``: in one read transaction (``library_reads.embeddings_consumed``)."""
        return library_reads.embeddings_consumed(self._connection, model_id, consume, after_analysis_id, batch_rows)


def open_current_library(database: Path) -> LibraryReader | None:
    """A reader of the current library at ``database``; None for a file still to create or upgrade (the ``Library``
    does that). ``LibraryOpenError`` for a path that is no library database."""
    try:
        path = check_database_path(Path(database))
        if not inspect_database(path).current:
            return None
    except DatabaseOpenError as error:
        raise LibraryOpenError(str(error)) from None
    connection = read_only_connection(path)
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return LibraryReader(Path(database), connection)
