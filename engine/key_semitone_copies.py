"""A close call's key windows read three times: as decoded, and resampled a semitone down and a semitone up.

On game music the key head's two best keys are often close, and which wins moves with perturbations that should
not move it: a key read on the validation pairs of ``engine eval``'s transposition test flipped as often under a
time stretch with the pitch kept as under the transposition itself (docs/lab-notes/2026-12-06-key-semitone-
copies.md). Averaging each window with copies of itself resampled by a semitone either way (each copy's keys
moved back by its semitone) steadied it: transposition consistency 82.1 -> 85.3 % on the validation tracks and
83.7 -> 88.3 % on the training soundtracks the key reader never saw, with validation MIREX level or better. A
resampling moves every partial against the spectrogram's FFT bins and every note against its frames at once,
which reading the same spectrogram on a shifted pitch grid or stretching its frames did not imitate (both lost
consistency on validation).

Only a track whose plain reads are a close call pays for the copies (``engine.analyzer.COPY_MARGIN``): a clear
first read kept its key with them on every held-out set, and the copies were read for 22 % of the held-out reads.

The ratio 18/17 is a cent from a semitone (1.0104 semitones): a short polyphase filter, 10–25 ms for a track's 26
windows on one core of the slower machine of the 2026-12-06 figures; the key reads of the copies cost ten times
that. The up copy is shorter than a window (the same music played faster); the down copy is cut to a window's
length.
"""

from __future__ import annotations

import numpy as np

from engine.lazy_modules import lazy_module

torch = lazy_module("torch")
functional = lazy_module("torchaudio.functional")

SEMITONE_RATIO = (18, 17)  # 18/17 = 2 ** (1.0104 / 12)


def semitone_copies(windows: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """``windows`` (N, samples) → [(copies a semitone up, 1), (copies a semitone down, -1)], float32 rows: the
    up copies ``samples * 17 / 18`` long, the down copies cut to ``samples`` (a view: the analyzer's chunks are
    made contiguous where they are read)."""
    size = windows.shape[1]
    audio = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))
    higher, lower = SEMITONE_RATIO
    up = functional.resample(audio, orig_freq=higher, new_freq=lower)
    down = functional.resample(audio, orig_freq=lower, new_freq=higher)[:, :size]
    return [(up.numpy(), 1), (down.numpy(), -1)]
