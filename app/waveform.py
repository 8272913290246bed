"""A small waveform overview: per-column min/max of the decoded signal, computed off the GUI thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.audio import decode_mono

OVERVIEW_SAMPLE_RATE = 4000  # plenty for an outline a few hundred pixels wide, and cheap to decode
OVERVIEW_COLUMNS = 600


def peak_envelope(audio: np.ndarray, columns: int = OVERVIEW_COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """``audio`` (samples,) → (lows, highs), each (columns,) float32: the outline an overview draws.

    Fewer samples than columns gives one column per sample.
    """
    if audio.size == 0:
        empty = np.zeros(0, dtype=np.float32)
        return empty, empty
    columns = max(1, min(columns, audio.size))
    usable = audio[: audio.size - audio.size % columns] if audio.size >= columns else audio
    blocks = usable.reshape(columns, -1)
    return blocks.min(axis=1).astype(np.float32), blocks.max(axis=1).astype(np.float32)


def waveform_overview(path: Path | str, columns: int = OVERVIEW_COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``path`` at a low rate and reduce it to its envelope; raises ``AudioDecodeError``."""
    return peak_envelope(decode_mono(path, OVERVIEW_SAMPLE_RATE), columns)
