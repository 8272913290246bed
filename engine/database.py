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
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, insert, pool, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from engine.migrations import upgrade
from engine.schema import (
    ANALYSIS_COUNT_TRIGGERS, LANDMARK_COUNT_TRIGGERS, SCHEMA_VERSION, analyses, analysis_counts, landmark_counts, metadata,
    settings, track_landmarks,
)

BUSY_TIMEOUT_MS = 10_000
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}")
READ_ONLY_PRAGMAS = ("foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}")
APPLICATION_ID = 0x53534D55  # "SSMU" in the SQLite header: this file is a semisup-music library
# Tables every library database has had since schema 1: a file without an application id that holds them is a
# library written before the id was set.
LIBRARY_TABLES = frozenset({"settings", "folders", "tracks", "models", "analyses", "problems"})
# SQLite answers "database is locked" at once, without waiting out the busy timeout, where waiting could deadlock:
# switching a new file to WAL, or a reader's lock upgraded, while another process creates the same library. Such an
# open is tried again, with growing pauses, for as long as the busy timeout would have waited.
OPEN_RETRY_FIRST_PAUSE_SECONDS = 0.02
OPEN_RETRY_LONGEST_PAUSE_SECONDS = 0.5
NAME_MAX_BYTES = 255  # longest file name on common file systems (ext4, APFS, NTFS)
LONGEST_SQLITE_SUFFIX = "-journal"  # SQLite puts "-journal", "-wal" and "-shm" files beside the database


class DatabaseOpenError(Exception):
    """The library database cannot be opened or is not a library database."""


@dataclass(frozen=True)
class DatabaseState:
    """What a read-only look at the file found: ``schema_version`` None for a file to create."""

    schema_version: int | None

    @property
    def current(self) -> bool:
        return self.schema_version == SCHEMA_VERSION


def open_database(path: Path, read_only: bool = False) -> Engine:
    """Open (creating or upgrading if needed) the library database at ``path`` with the current schema.

    ``read_only``: a current library is opened through a read-only connection, so nothing is ever written
    (a database on read-only media works); a file still to create or upgrade is opened for writing.
    """
    path = Path(path)
    if path.is_dir():
        raise DatabaseOpenError(f"database path is a folder: {path}")
    if not path.parent.is_dir():
        raise DatabaseOpenError(f"database folder does not exist: {path.parent}")
    if len(path.name.encode()) + len(LONGEST_SQLITE_SUFFIX) > NAME_MAX_BYTES:
        limit = NAME_MAX_BYTES - len(LONGEST_SQLITE_SUFFIX)
        raise DatabaseOpenError(f"database file name too long ({len(path.name.encode())} bytes; at most {limit}): {path}")
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
            if _locked(error) and time.monotonic() + pause < deadline:
                time.sleep(pause)
                pause = min(2 * pause, OPEN_RETRY_LONGEST_PAUSE_SECONDS)
                continue
            raise DatabaseOpenError(f"cannot open library database {path}: {first_line(error)}") from None
        except DatabaseOpenError:
            engine.dispose()
            raise


def _locked(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's busy / locked answer (another connection holds the file for the moment)."""
    text_of_error = str(error).lower()
    return "database is locked" in text_of_error or "database is busy" in text_of_error


def inspect_database(path: Path) -> DatabaseState:
    """Look at ``path`` without writing: a library (its schema version), nothing yet (None), or refused."""
    if not path.exists() or path.stat().st_size == 0:
        return DatabaseState(None)
    try:
        connection = _read_only_connection(path)
    except sqlite3.Error as error:
        raise DatabaseOpenError(f"cannot open library database {path}: {first_line(error)}") from None
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = None
        if "settings" in tables:
            row = connection.execute("SELECT value FROM settings WHERE name = 'schema_version'").fetchone()
            version = row[0] if row else None
    except sqlite3.Error as error:
        raise DatabaseOpenError(f"cannot open library database {path}: {first_line(error)}") from None
    finally:
        connection.close()
    ours = application_id == APPLICATION_ID or (application_id == 0 and LIBRARY_TABLES <= tables and version is not None)
    if not ours:
        if application_id == 0 and not tables:
            return DatabaseState(None)  # an empty SQLite file: made into a library
        raise DatabaseOpenError(f"{path} is not a semisup-music library (another program's SQLite database); "
                                f"it was left untouched: give another --db")
    try:
        stored = int(version) if version is not None else None
    except ValueError:
        raise DatabaseOpenError(f"{path}: unreadable schema version {version!r}") from None
    if stored is not None and stored > SCHEMA_VERSION:
        raise DatabaseOpenError(f"{path} was written by a newer version (schema {stored}; this engine reads up to "
                                f"{SCHEMA_VERSION}); it was left untouched")
    return DatabaseState(stored)


def first_line(error: BaseException) -> str:
    """The driver's own message of a database error (SQLAlchemy wraps it with the statement): its first line."""
    return (str(getattr(error, "orig", None) or error).splitlines() or [type(error).__name__])[0]


def _read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that cannot write. A WAL file in a read-only folder, whose ``-shm`` file cannot be created,
    opens only as immutable (SQLite then trusts that nobody writes it meanwhile: nobody can, there)."""
    location = urllib.parse.quote(str(path.resolve()))
    try:
        connection = sqlite3.connect(f"file:{location}?mode=ro", uri=True, check_same_thread=False)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection
    except sqlite3.OperationalError:
        return sqlite3.connect(f"file:{location}?mode=ro&immutable=1", uri=True, check_same_thread=False)


def _engine(path: Path, read_only: bool) -> Engine:
    if read_only:
        engine = create_engine("sqlite://", creator=lambda: _read_only_connection(path), poolclass=pool.QueuePool)
        event.listen(engine, "connect", lambda connection, _record: _run_pragmas(connection, READ_ONLY_PRAGMAS))
        return engine
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(str(path), check_same_thread=False),
                           poolclass=pool.QueuePool)
    event.listen(engine, "connect", lambda connection, _record: _run_pragmas(connection, SQLITE_PRAGMAS))
    return engine


def _create_or_upgrade(connection, path: Path) -> None:
    """Inside the opening transaction: check the file again (another process may have just created it), then
    create the tables, upgrade an older schema and stamp the application id."""
    state = inspect_database(path) if path.stat().st_size else DatabaseState(None)
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
