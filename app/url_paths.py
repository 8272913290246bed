"""The local path a file URL names, with its exact bytes.

A file manager sends a dropped file as a URL whose path is percent-encoded bytes. ``QUrl.toLocalFile`` decodes
them as UTF-8 and puts U+FFFD where a name is not UTF-8 (a Latin-1 name from an old CD rip), which names no file.
On POSIX the bytes are taken as they are (``os.fsdecode``: the same surrogate escapes the scanner stores)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import unquote_to_bytes

from PySide6.QtCore import QUrl


def local_path(url: QUrl) -> Path:
    """The path of a local file URL (``url.isLocalFile()``), byte-exact on POSIX."""
    if sys.platform == "win32" or url.host() not in ("", "localhost"):
        return Path(url.toLocalFile())  # Windows paths are Unicode; a host is a network share
    encoded = url.path(QUrl.ComponentFormattingOption.FullyEncoded)
    return Path(os.fsdecode(unquote_to_bytes(encoded)))
