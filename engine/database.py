"""Open a SQLite file through SQLAlchemy in WAL mode: the generic database layer under ``Store``.

WAL lets the app read while an index run writes, and keeps the file consistent when a process is
killed mid-write. Any failure to open becomes ``DatabaseOpenError`` with the path and the reason.

Before anything is written the file is looked at through a read-only connection: a library database carries
``APPLICATION_ID`` (files from before it are recognised by their tables), any other non-empty SQLite file is
refused, and so is a schema newer than this engine's. Creating and upgrading run in one ``BEGIN IMMEDIATE``
transaction, so two processes opening a new library at once take turns instead of both creating tables.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, insert, pool, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from engine.database_file import (  # noqa: F401 (re-exported: the database layer's errors and constants)
    APPLICATION_ID, BUSY_TIMEOUT_MS, DatabaseOpenError, DatabaseState, check_database_path, first_line, inspect_database,
    locked, read_only_connection,
)
from engine.migrations import upgrade
from engine.schema import (
    ANALYSIS_COUNT_TRIGGERS, LANDMARK_COUNT_TRIGGERS, SCHEMA_VERSION, analyses, analysis_counts, landmark_counts, metadata,
    settings, track_landmarks,
)

SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}")
READ_ONLY_PRAGMAS = ("foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}")
# SQLite answers "database is locked" at once, without waiting out the busy timeout, where waiting could deadlock:
# switching a new file to WAL, or a reader's lock upgraded, while another process creates the same library. Such an
# open is tried again, with growing pauses, for as long as the busy timeout would have waited.
OPEN_RETRY_FIRST_PAUSE_SECONDS = 0.02
OPEN_RETRY_LONGEST_PAUSE_SECONDS = 0.5


def open_database(path: Path, read_only: bool = False) -> Engine:
    """Open (creating or upgrading if needed) the library database at ``path`` with the current schema.

    ``read_only``: a current library is opened through a read-only connection, so nothing is ever written
    (a database on read-only media works); where there is no file, an empty library in memory answers and no file
    is created; a file still to upgrade is opened for writing.
    """
    path = check_database_path(Path(path))
    if read_only and not path.exists():
        return empty_library_in_memory()
    state = inspect_database(path)
    if read_only and state.current:
        return _engine(path, read_only=True)
    engine = _engine(path, read_only=False)
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = OPEN_RETRY_FIRST_PAUSE_SECONDS
    while True:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("BEGIN IMMEDIATE")  # one process creates or upgrades; others wait for it
                _create_or_upgrade(connection, path)
                connection.commit()
            return engine
        except (SQLAlchemyError, sqlite3.Error, ValueError) as error:
            engine.dispose()  # the pool's connection may hold a half-made lock: the next try opens a new one
            if locked(error) and time.monotonic() + pause < deadline:
                time.sleep(pause)
                pause = min(2 * pause, OPEN_RETRY_LONGEST_PAUSE_SECONDS)
                continue
            raise DatabaseOpenError(f"cannot open library database {path}: {first_line(error)}") from None
        except DatabaseOpenError:
            engine.dispose()
            raise


def _engine(path: Path, read_only: bool) -> Engine:
    if read_only:
        engine = create_engine("sqlite://", creator=lambda: read_only_connection(path), poolclass=pool.QueuePool)
        event.listen(engine, "connect", lambda connection, _record: _run_pragmas(connection, READ_ONLY_PRAGMAS))
        return engine
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(str(path), check_same_thread=False),
                           poolclass=pool.QueuePool)
    event.listen(engine, "connect", lambda connection, _record: _run_pragmas(connection, SQLITE_PRAGMAS))
    return engine


def empty_library_in_memory() -> Engine:
    """An empty library of the current schema in memory: what a reading command answers from where no library file
    is yet, so that reading never creates one (``engine info --db typo.db`` leaves no file behind)."""
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(":memory:", check_same_thread=False),
                           poolclass=pool.StaticPool)
    event.listen(engine, "connect", lambda connection, _record: _run_pragmas(connection, READ_ONLY_PRAGMAS))
    with engine.begin() as connection:
        _build_schema(connection, DatabaseState(None))
    return engine


def _create_or_upgrade(connection, path: Path) -> None:
    """Inside the opening transaction: check the file again (another process may have just created it), then
    create the tables, upgrade an older schema and stamp the application id."""
    _build_schema(connection, inspect_database(path) if path.stat().st_size else DatabaseState(None))


def _build_schema(connection, state: DatabaseState) -> None:
    metadata.create_all(connection)
    if state.schema_version is None:
        stored = connection.execute(select(settings.c.value).where(settings.c.name == "schema_version")).scalar()
        if stored is None:
            connection.execute(settings.insert().values(name="schema_version", value=str(SCHEMA_VERSION)))
    elif state.schema_version < SCHEMA_VERSION:
        upgrade(connection, state.schema_version, SCHEMA_VERSION)
        connection.execute(update(settings).where(settings.c.name == "schema_version").values(value=str(SCHEMA_VERSION)))
    if connection.exec_driver_sql("PRAGMA application_id").scalar() != APPLICATION_ID:
        connection.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
    _install_count_triggers(connection)


def _install_count_triggers(connection) -> None:
    """Create the triggers that keep ``analysis_counts`` and ``landmark_counts``; seed the counts if missing."""
    for statement in ANALYSIS_COUNT_TRIGGERS + LANDMARK_COUNT_TRIGGERS:
        connection.execute(text(statement))
    for counts, counted, key in ((analysis_counts, analyses, "model_id"), (landmark_counts, track_landmarks, "version")):
        if connection.execute(select(func.count()).select_from(counts)).scalar() == 0:
            grouped = select(counted.c[key], func.count(), func.max(counted.c.id)).group_by(counted.c[key])
            connection.execute(insert(counts).from_select([key, "count", "max_id"], grouped))


def _run_pragmas(dbapi_connection, pragmas) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in pragmas:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
