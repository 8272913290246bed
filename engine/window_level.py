"""Every window the network reads is first brought to one loudness: what a track sounds like, not how loud it was
mastered or played back.

The spectrogram the network reads is ``log1p(100·|X|)``, whose shape depends on level, and the encoder was trained on
corpora mastered within a few dB of one another. Measured from outside (2026-12-08): a copy of a game track 20 dB
quieter ranked its own original 17th of 25 in ``similar``, 6 dB less took the "organ" tag away, and quiet copies found
each other first. Each window is scaled to ``REFERENCE_DBFS`` RMS, the median level of the analysis windows of the
training corpora (−15.0 dBFS over 120 train tracks each of the game music, generated and rendered-score corpora:
−14.8, −15.2, −14.7), with at most ``MAX_GAIN_DB`` of gain, so that silence stays silent and a noise floor quiet.
Window by window, not track by track: the network was trained on windows at many gains (the gain augmentation), and a
window's read should not depend on how loud the rest of its track is.
"""

from __future__ import annotations

import numpy as np
import torch

REFERENCE_DBFS = -15.0
MAX_GAIN_DB = 40.0
REFERENCE_RMS = 10.0 ** (REFERENCE_DBFS / 20.0)
QUIETEST_RMS = REFERENCE_RMS / 10.0 ** (MAX_GAIN_DB / 20.0)  # quieter windows get MAX_GAIN_DB, no more
# A track none of whose windows reaches this is silence (or a dither or hiss floor): nothing to tag. The tag head, read
# on near-zero input, called digital silence "ensemble" (0.53 calibrated, over its threshold).
SILENCE_DBFS = -70.0


def at_reference_level(windows: torch.Tensor) -> torch.Tensor:
    """``windows`` (count, samples) each scaled to ``REFERENCE_DBFS`` RMS (at most ``MAX_GAIN_DB`` louder). The gain is a
    constant to gradients, as a level set before recording would be (and a silent window's would be a 0/0)."""
    with torch.no_grad():
        rms = windows.float().pow(2).mean(dim=-1, keepdim=True).sqrt()
        gain = REFERENCE_RMS / rms.clamp_min(QUIETEST_RMS)
    return windows * gain


def is_silent(windows: np.ndarray) -> bool:
    """Whether every window (rows of samples) is below ``SILENCE_DBFS`` RMS."""
    rms = np.sqrt(np.mean(np.square(windows, dtype=np.float64), axis=-1))
    return bool(rms.size == 0 or rms.max() < 10.0 ** (SILENCE_DBFS / 20.0))
