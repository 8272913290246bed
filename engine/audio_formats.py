"""Which file names are audio: the extensions scanning, playlists and the app's drop target accept.

Kept apart from ``engine.audio`` (PyAV) so that scanning a folder and the reading commands need no decoder.
"""

from __future__ import annotations

AUDIO_EXTENSIONS = frozenset(
    {
        ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".wav", ".wave", ".aif", ".aiff",
        ".aifc", ".wma", ".wv", ".ape", ".mka", ".mkv", ".webm", ".m4v", ".mov", ".avi", ".alac", ".mpc",
        ".m4b", ".mp2", ".caf", ".w64", ".tta", ".ac3", ".spx", ".dsf", ".dff",  # audiobooks, broadcast, Apple, DSD
    }
)
