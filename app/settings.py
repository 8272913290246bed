"""What the app remembers between runs (QSettings): window layout and choices.

Library content (folders, tracks, registered models and the active one) lives in the engine's database, not here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "semisup-music"
APPLICATION = "semisup-music"


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
