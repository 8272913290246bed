"""Small waits shared by the app tests."""

from __future__ import annotations

RESULT_TIMEOUT_MS = 60_000


def first_track_id(qtbot, window) -> int:
    """Wait for the library table's first row and return its track id."""
    model = window.library_view.model
    qtbot.waitUntil(lambda: model.rowCount() > 0 and model.track_at(0) is not None, timeout=RESULT_TIMEOUT_MS)
    return model.track_at(0).id


def wait_for_results(qtbot, panel):
    """Wait until the similarity panel shows a non-empty list for its current query."""
    qtbot.waitUntil(lambda: bool(panel.model.tracks) and "…" not in panel.heading.text(), timeout=RESULT_TIMEOUT_MS)
    return panel
