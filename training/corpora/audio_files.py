"""Write mono audio arrays to disk through PyAV (FLAC for corpora, MP3 for evaluation excerpts)."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

PEAK_TARGET = 10 ** (-1 / 20)  # -1 dBFS


def peak_normalised(samples: np.ndarray) -> np.ndarray:
    """Scale a float mono signal so its peak sits at -1 dBFS (silence is returned unchanged)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples if peak == 0 else samples * (PEAK_TARGET / peak)


def write_audio(path: Path, samples: np.ndarray, sample_rate: int, codec: str = "flac", bit_rate: int | None = None) -> None:
    """``samples`` (samples,) float in [-1, 1]; written to a temporary name then renamed, so a killed run
    never leaves a half-written file under the final name. ``codec``: "flac" or "mp3"."""
    container_format, codec_name = {"flac": ("flac", "flac"), "mp3": ("mp3", "libmp3lame")}[codec]
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)[None, :]
    with av.open(str(temporary), "w", format=container_format) as container:
        stream = container.add_stream(codec_name, rate=sample_rate, layout="mono")
        if bit_rate:
            stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = sample_rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    os.replace(temporary, path)
