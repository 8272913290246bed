"""The reads of the reading commands, as SQL on a plain DB-API (``sqlite3``) connection: settings, folders, counts,
problems, registered models (``engine info``, ``engine problems``), and track rows and embeddings (a search by
track id and the vector index kept in step with SQLite).

``Store`` runs them on its SQLAlchemy connection's driver connection, and ``engine.library_reader`` on a read-only
``sqlite3`` connection of its own, so the reading commands answer without importing SQLAlchemy (0.2-0.3 s of a start,
BENCHMARKS.md "Reading commands start without SQLAlchemy") and both ask the same queries.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

from engine.records import StoredModel, StoredTrack

if TYPE_CHECKING:  # imported by the reads of arrays: ``engine info`` / ``problems`` start without numpy
    import numpy as np

Consumed = TypeVar("Consumed")  # what a caller of ``embeddings_consumed`` makes of the batches
EmbeddingBatch = tuple["np.ndarray", "np.ndarray"]  # track ids (n,) int64, embeddings (n, D) float32
ID_CHUNK = 500  # SQLite bound-parameter batches
SQLITE_MAX_INTEGER = 2**63 - 1  # no track id or count above it reaches the database
# Rows per SELECT when a cache reads every embedding: 1024 x 1080-d float32 is 4.3 MiB, against 4.3 KiB x tracks for
# the whole library at once. Smaller batches also leave smaller holes in the heap around the growing FAISS index:
# building it for 30k tracks (~130 MiB) kept 155 MiB resident with 1024 rows a batch, 216 MiB with 4096.
EMBEDDING_BATCH_ROWS = 1024
# A track row (``StoredTrack``): every ``tracks`` column, then these of its analysis by the model asked for.
ANALYSIS_COLUMNS = {"key_index": "key_index", "key_confidence": "key_confidence", "tag_probs": "tag_probs",
                    "analysis_id": "id", "estimated_bpm": "bpm", "bpm_confidence": "bpm_confidence",
                    "tempo_version": "tempo_version"}
TRACK_COLUMNS = tuple(field.name for field in fields(StoredTrack))[: -len(ANALYSIS_COLUMNS)]
TRACK_ID_POSITION = TRACK_COLUMNS.index("id")
if tuple(field.name for field in fields(StoredTrack))[-len(ANALYSIS_COLUMNS):] != tuple(ANALYSIS_COLUMNS):
    raise TypeError(f"engine.records.StoredTrack must end with the analysis columns in order: {tuple(ANALYSIS_COLUMNS)}")


def setting(connection: sqlite3.Connection, name: str) -> str | None:
    row = connection.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


def folder_keys(connection: sqlite3.Connection) -> list[bytes]:
    """The library folders' path keys, in the order of their printable paths."""
    return [row[0] for row in connection.execute("SELECT path_key FROM folders ORDER BY path")]


def track_total(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT count(*) FROM tracks").fetchone()[0])


def problem_total(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT count(*) FROM problems").fetchone()[0])


def problem_rows(connection: sqlite3.Connection) -> list[tuple[bytes, str]]:
    """(path key, reason) of every recorded problem, in the order of their printable paths."""
    return [(row[0], row[1]) for row in connection.execute("SELECT path_key, reason FROM problems ORDER BY path")]


def analyses_fingerprint(connection: sqlite3.Connection, model_id: str, up_to_id: int | None = None) -> tuple[int, int]:
    """(count, max analysis id) of a model's analyses: one row of the trigger-kept ``analysis_counts`` table; with
    ``up_to_id``, of those with id <= it (whether a saved vector index built at that id lost any: analysis ids
    never come back)."""
    if up_to_id is None:
        row = connection.execute("SELECT count, max_id FROM analysis_counts WHERE model_id = ?", (model_id,)).fetchone()
    else:
        row = connection.execute("SELECT count(*), coalesce(max(id), 0) FROM analyses WHERE model_id = ? AND id <= ?",
                                 (model_id, up_to_id)).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def registered_models(connection: sqlite3.Connection) -> list[StoredModel]:
    """The registered models, oldest first, with how many tracks each has analysed (the kept counts)."""
    rows = connection.execute(
        "SELECT models.model_id, name, weights_sha256, folder, embedding_dim, tag_names, registered_at, "
        "coalesce(analysis_counts.count, 0) FROM models "
        "LEFT OUTER JOIN analysis_counts ON analysis_counts.model_id = models.model_id ORDER BY registered_at"
    )
    return [StoredModel(model_id, name, sha256, folder, dimension, json.loads(tag_names), registered_at, analysed)
            for model_id, name, sha256, folder, dimension, tag_names, registered_at, analysed in rows]


def unblob(blob: bytes | None) -> np.ndarray | None:
    """A stored float32 array (an embedding, key or tag probabilities) as a read-only view of its bytes."""
    import numpy as np

    return None if blob is None else np.frombuffer(blob, dtype=np.float32)


def analysed_track_ids_up_to(connection: sqlite3.Connection, model_id: str, up_to_id: int) -> np.ndarray:
    """Track ids (N,) int64 of the model's analyses with id <= ``up_to_id``: which vectors of a saved vector index
    built at that id are still live. ``id + 0`` keeps SQLite off ``ix_analyses_model`` (a table read per row) and on
    an index that also holds the track id (100k rows: 0.05 s CPU instead of 0.14 s)."""
    import numpy as np

    rows = connection.execute("SELECT track_id FROM analyses WHERE model_id = ? AND id + 0 <= ?", (model_id, up_to_id))
    return np.fromiter((row[0] for row in rows), dtype=np.int64)


def embeddings_of(connection: sqlite3.Connection, model_id: str, track_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """Track id -> embedding (D,) float32 by ``model_id`` of those of ``track_ids`` it analysed."""
    found: dict[int, np.ndarray] = {}
    for chunk in id_chunks([int(track_id) for track_id in track_ids]):
        rows = connection.execute(f"SELECT track_id, embedding FROM analyses WHERE model_id = ? AND track_id IN "
                                  f"({_placeholders(len(chunk))})", (model_id, *chunk))
        found.update({track_id: unblob(blob) for track_id, blob in rows})
    return found


def embedding_batches(connection: sqlite3.Connection, model_id: str, after_analysis_id: int,
                      batch_rows: int = EMBEDDING_BATCH_ROWS) -> Iterator[EmbeddingBatch]:
    """A model's embeddings newer than ``after_analysis_id``, in analysis id order, as (track ids (n,) int64,
    embeddings (n, D) float32) batches of at most ``batch_rows``: each one SELECT that seeks past the last id of the
    one before, so memory holds one batch, not the library."""
    import numpy as np

    after = after_analysis_id
    while True:
        rows = connection.execute("SELECT id, track_id, embedding FROM analyses WHERE model_id = ? AND id > ? "
                                  "ORDER BY id LIMIT ?", (model_id, after, batch_rows)).fetchall()
        if rows:
            after = rows[-1][0]
            track_ids = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
            yield track_ids, np.frombuffer(b"".join(row[2] for row in rows), dtype=np.float32).reshape(len(rows), -1)
        if len(rows) < batch_rows:
            return


def embeddings_consumed(connection: sqlite3.Connection, model_id: str,
                        consume: Callable[[tuple[int, int], Callable[[], Iterator[EmbeddingBatch]]], Consumed],
                        after_analysis_id: int = 0, batch_rows: int = EMBEDDING_BATCH_ROWS) -> tuple[tuple[int, int], Consumed]:
    """The model's fingerprint and what ``consume(fingerprint, read)`` makes of its embeddings newer than
    ``after_analysis_id`` (``read()`` gives ``embedding_batches``; a second call reads them again), all in one read
    transaction: one snapshot, whatever another connection commits meanwhile. ``sqlite3`` begins no transaction for
    a SELECT, so without the explicit BEGIN every batch and the fingerprint would each see the database of their
    moment."""
    connection.execute("BEGIN")
    try:
        fingerprint = analyses_fingerprint(connection, model_id)
        return fingerprint, consume(fingerprint, lambda: embedding_batches(connection, model_id, after_analysis_id,
                                                                           batch_rows))
    finally:
        if connection.in_transaction:
            connection.execute("COMMIT")


def track_rows_by_ids(connection: sqlite3.Connection, model_id: str | None,
                      track_ids: Sequence[int]) -> dict[int, StoredTrack]:
    """Tracks by id, with their analysis by ``model_id`` (its fields None when it has none or ``model_id`` is None).
    SQL written once per chunk size: at 100k tracks, per-call statement handling and row mappings were half of a
    ``similar`` call."""
    rows: dict[int, StoredTrack] = {}
    cursor = connection.cursor()
    try:
        for chunk in id_chunks([int(track_id) for track_id in track_ids]):
            cursor.execute(_track_select_by_ids_sql(len(chunk)), (model_id or "", *chunk))
            rows.update({row[TRACK_ID_POSITION]: StoredTrack(*row) for row in cursor})
    finally:
        cursor.close()
    return rows


@lru_cache(maxsize=64)
def _track_select_by_ids_sql(count: int) -> str:
    """Tracks left-joined with their analysis by the model bound first ("" = none), for ``count`` track ids."""
    columns = [f"tracks.{name}" for name in TRACK_COLUMNS]
    columns += [f"analyses.{column}" + ("" if column == name else f" AS {name}")
                for name, column in ANALYSIS_COLUMNS.items()]
    return (f"SELECT {', '.join(columns)} FROM tracks LEFT OUTER JOIN analyses ON analyses.track_id = tracks.id "
            f"AND analyses.model_id = ? WHERE tracks.id IN ({_placeholders(count)})")


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


def id_chunks(values: Sequence) -> Iterator[list]:
    """``values`` in lists of at most ``ID_CHUNK`` (SQLite caps the bound parameters of one statement)."""
    for start in range(0, len(values), ID_CHUNK):
        yield list(values[start : start + ID_CHUNK])
