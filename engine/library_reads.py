"""The reads a library summary needs, as SQL on a plain DB-API (``sqlite3``) connection: settings, folders, counts,
problems, registered models.

``Store`` runs them on its SQLAlchemy connection's driver connection, and ``engine.library_summary`` on a read-only
``sqlite3`` connection of its own, so ``engine info`` and ``engine problems`` answer without importing SQLAlchemy
(about 0.2 s of a start, BENCHMARKS.md "Reading commands start without SQLAlchemy") and both ask the same queries.
"""

from __future__ import annotations

import json
import sqlite3

from engine.records import StoredModel


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


def analyses_fingerprint(connection: sqlite3.Connection, model_id: str) -> tuple[int, int]:
    """(count, max analysis id) of a model's analyses: one row of the trigger-kept ``analysis_counts`` table."""
    row = connection.execute("SELECT count, max_id FROM analysis_counts WHERE model_id = ?", (model_id,)).fetchone()
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
