"""Look at a library database file without SQLAlchemy: is it a library, of which schema, and a connection that cannot
write. The reading commands (``engine info``, ``engine problems``) read a current library through this alone, so they
start without SQLAlchemy's imports (about 0.2 s of a start); ``engine.database`` builds on it to create and upgrade.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from engine.schema_version import SCHEMA_VERSION

APPLICATION_ID = 0x53534D55  # "SSMU" in the SQLite header: this file is a semisup-music library
# Tables every library database has had since schema 1: a file without an application id that holds them is a
# library written before the id was set.
LIBRARY_TABLES = frozenset({"settings", "folders", "tracks", "models", "analyses", "problems"})
NAME_MAX_BYTES = 255  # longest file name on common file systems (ext4, APFS, NTFS)
LONGEST_SQLITE_SUFFIX = "-journal"  # SQLite puts "-journal", "-wal" and "-shm" files beside the database
BUSY_TIMEOUT_MS = 10_000  # how long a connection waits out another's lock


class DatabaseOpenError(Exception):
    """The library database cannot be opened or is not a library database."""


@dataclass(frozen=True)
class DatabaseState:
    """What a read-only look at the file found: ``schema_version`` None for a file to create."""

    schema_version: int | None

    @property
    def current(self) -> bool:
        return self.schema_version == SCHEMA_VERSION


def check_database_path(path: Path) -> Path:
    """``path`` as a ``Path``, or ``DatabaseOpenError`` when no database file can live there."""
    path = Path(path)
    if path.is_dir():
        raise DatabaseOpenError(f"database path is a folder: {path}")
    if not path.parent.is_dir():
        raise DatabaseOpenError(f"database folder does not exist: {path.parent}")
    if len(path.name.encode()) + len(LONGEST_SQLITE_SUFFIX) > NAME_MAX_BYTES:
        limit = NAME_MAX_BYTES - len(LONGEST_SQLITE_SUFFIX)
        raise DatabaseOpenError(f"database file name too long ({len(path.name.encode())} bytes; at most {limit}): {path}")
    return path


def inspect_database(path: Path) -> DatabaseState:
    """Look at ``path`` without writing: a library (its schema version), nothing yet (None), or refused."""
    if not path.exists() or path.stat().st_size == 0:
        return DatabaseState(None)
    try:
        connection = read_only_connection(path)
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


def read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that cannot write. A WAL file in a read-only folder, whose ``-shm`` file cannot be created,
    opens only as immutable (SQLite then trusts that nobody writes it meanwhile: nobody can, there). A file another
    process holds locked is not read as immutable (it may be half written): the lock is raised."""
    location = urllib.parse.quote(str(path.resolve()))
    try:
        connection = sqlite3.connect(f"file:{location}?mode=ro", uri=True, check_same_thread=False)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection
    except sqlite3.OperationalError as error:
        if locked(error):
            raise
        return sqlite3.connect(f"file:{location}?mode=ro&immutable=1", uri=True, check_same_thread=False)


def locked(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's busy / locked answer (another connection holds the file for the moment)."""
    text_of_error = str(error).lower()
    return "database is locked" in text_of_error or "database is busy" in text_of_error
