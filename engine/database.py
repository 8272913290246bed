"""Open a SQLite file through SQLAlchemy in WAL mode: the generic database layer under ``Store``.

WAL lets the app read while an index run writes, and keeps the file consistent when a process is
killed mid-write. Any failure to open becomes ``DatabaseOpenError`` with the path and the reason.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from engine.migrations import upgrade
from engine.schema import (
    ANALYSIS_COUNT_TRIGGERS, LANDMARK_COUNT_TRIGGERS, SCHEMA_VERSION, analyses, analysis_counts, landmark_counts, metadata,
    settings, track_landmarks,
)

BUSY_TIMEOUT_MS = 10_000
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}")


class DatabaseOpenError(Exception):
    """The library database cannot be opened or is not a library database."""


def open_database(path: Path) -> Engine:
    """Open (creating if needed) the library database at ``path`` with the current schema."""
    path = Path(path)
    if path.is_dir():
        raise DatabaseOpenError(f"database path is a folder: {path}")
    if not path.parent.is_dir():
        raise DatabaseOpenError(f"database folder does not exist: {path.parent}")
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _set_pragmas)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            stored = connection.execute(select(settings.c.value).where(settings.c.name == "schema_version")).scalar()
            if stored is None:
                connection.execute(settings.insert().values(name="schema_version", value=str(SCHEMA_VERSION)))
            elif int(stored) > SCHEMA_VERSION:
                raise DatabaseOpenError(f"{path} was written by a newer version (schema {stored})")
            elif int(stored) < SCHEMA_VERSION:
                upgrade(connection, int(stored), SCHEMA_VERSION)
                connection.execute(update(settings).where(settings.c.name == "schema_version").values(value=str(SCHEMA_VERSION)))
            _install_count_triggers(connection)
    except (SQLAlchemyError, sqlite3.Error, ValueError) as error:
        engine.dispose()
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise DatabaseOpenError(f"cannot open library database {path}: {reason}") from None
    except DatabaseOpenError:
        engine.dispose()
        raise
    return engine


def _install_count_triggers(connection) -> None:
    """Create the triggers that keep ``analysis_counts`` and ``landmark_counts``; seed the counts if missing."""
    for statement in ANALYSIS_COUNT_TRIGGERS + LANDMARK_COUNT_TRIGGERS:
        connection.execute(text(statement))
    for counts, counted, key in ((analysis_counts, analyses, "model_id"), (landmark_counts, track_landmarks, "version")):
        if connection.execute(select(func.count()).select_from(counts)).scalar() == 0:
            grouped = select(counted.c[key], func.count(), func.max(counted.c.id)).group_by(counted.c[key])
            connection.execute(insert(counts).from_select([key, "count", "max_id"], grouped))


def _set_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
