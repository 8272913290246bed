"""Which of a track's tags the app shows: only those the active model's calibration calls informative.

Runs on worker threads (it asks the library for its active model). A model without calibration shows
every tag as before; a calibrated model whose labels are all hidden shows none, and the views say why.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP

from engine.library import LibraryError
from engine.tag_calibration import Calibrations, calibration_from_tag_head

NO_USEFUL_TAGS_TEXT = QT_TRANSLATE_NOOP("TagDisplay", "This model has no tags that are reliable enough to show: on "
                                                      "held-out music none of them told tracks apart.")


def active_calibration(library: Any) -> Calibrations | None:
    """The active model's per-tag calibration, or None (no model, or a model without calibration). Read from
    the model's config alone (``Library.model_spec``): browsing must not load the network (torch)."""
    try:
        return calibration_from_tag_head(library.model_spec().config.tag_head)
    except (LibraryError, ValueError):
        return None
