"""Ordinary faults of the machine, not of the engine, as the one line the ``engine`` command prints for them.

A full disk, a damaged or read-only database, an unreadable file: the user can act on each, and a traceback
would only hide what to do. Every write is a transaction or a temporary file plus a rename, so when one of
these stops a command, what was committed before it is still there; the messages say so.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

# SQLite's own messages (sqlite3.Error text) → what the user can do about them.
DATABASE_ADVICE = {
    "database or disk is full": "the disk is full; what was saved before is kept: free some space and run the "
                                "same command again",
    "database disk image is malformed": "the file is damaged; restore a backup, or move it away and index again "
                                        "(the engine never changed your music files)",
    "file is not a database": "the file is not a SQLite database",
    "attempt to write a readonly database": "the database is read-only; reading commands still work",
    "database is locked": "another process holds the database; try again when it has finished",
    "disk I/O error": "the disk reported an error; what was saved before is kept",
}


def fault_message(error: BaseException, database: Path | None) -> str | None:
    """The one line for an ordinary fault, or None when ``error`` is a bug that should surface as one."""
    driver_error = error if isinstance(error, sqlite3.Error) else getattr(error, "orig", None)
    if isinstance(driver_error, sqlite3.Error):
        reason = (str(driver_error).splitlines() or [type(driver_error).__name__])[0]
        advice = next((text for fragment, text in DATABASE_ADVICE.items() if fragment in reason), None)
        where = f"library database {database}" if database is not None else "library database"
        return f"{where}: {reason}" + (f" ({advice})" if advice else "")
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        reason = error.strerror or str(error) or type(error).__name__
        if error.errno == errno.ENOSPC:
            return f"{where}{reason}; what was saved before is kept: free some space and run the same command again"
        return f"{where}{reason}"
    return None
