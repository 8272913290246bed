"""What the app remembers between runs (QSettings): window layout, choices, known model folders.

Library content (folders, tracks, the active model) lives in the engine's database, not here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "semisup-music"
APPLICATION = "semisup-music"
MODEL_FOLDERS_KEY = "models/known_folders"
MAX_KNOWN_MODEL_FOLDERS = 50


def store() -> QSettings:
    return QSettings(ORGANIZATION, APPLICATION)


def value(key: str, default: Any = None, kind: type | None = None) -> Any:
    """Read a setting; ``kind`` converts the text INI files hold (``bool`` understands "true"/"false")."""
    raw = store().value(key, default)
    if raw is None or kind is None:
        return raw
    if kind is bool:
        return raw if isinstance(raw, bool) else str(raw).lower() == "true"
    try:
        return kind(raw)
    except (TypeError, ValueError):
        return default


def set_value(key: str, new_value: Any) -> None:
    store().setValue(key, new_value)


def bytes_value(key: str) -> QByteArray | None:
    raw = store().value(key)
    return raw if isinstance(raw, QByteArray) and not raw.isEmpty() else None


def known_model_folders() -> list[str]:
    raw = store().value(MODEL_FOLDERS_KEY, [])
    folders = [raw] if isinstance(raw, str) else list(raw or [])
    return [folder for folder in folders if folder]


def remember_model_folder(folder: str | Path) -> None:
    resolved = str(Path(folder).resolve())
    folders = [resolved] + [each for each in known_model_folders() if each != resolved]
    store().setValue(MODEL_FOLDERS_KEY, folders[:MAX_KNOWN_MODEL_FOLDERS])
