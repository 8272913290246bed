"""Where a library lives when ``--db`` names none: ``<user data dir>/semisup-music/library.db``."""

from __future__ import annotations

from pathlib import Path

APP_NAME = "semisup-music"
DATABASE_FILE = "library.db"


def default_database_path() -> Path:
    """``<user data dir>/semisup-music/library.db`` (its folder created on first use)."""
    import platformdirs  # here: not imported when ``--db`` names the library

    folder = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / DATABASE_FILE
