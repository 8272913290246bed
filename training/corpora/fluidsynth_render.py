"""MIDI → audio with the FluidSynth command-line synthesiser, mono float at a chosen sample rate."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

FLUIDSYNTH_TIMEOUT_SECONDS = 300
SILENCE_RMS = 1e-4
# FluidSynth prints this when a channel's program is missing from the sound font: that channel is silent
# and the clip's instrument labels would lie.
MISSING_PRESET_MARKERS = ("No preset found", "Instrument not found")


class RenderError(Exception):
    """FluidSynth failed, a preset was missing, or the result is silent."""


def fluidsynth_available() -> bool:
    return shutil.which("fluidsynth") is not None


def _read_wav_mono(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as handle:
        channels = handle.getnchannels()
        if handle.getsampwidth() != 2:
            raise RenderError(f"unexpected sample width {handle.getsampwidth()} from fluidsynth")
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16)
    return pcm.reshape(-1, channels).astype(np.float32).mean(axis=1) / 32768.0


def render_midi(midi_bytes: bytes, soundfont: Path, sample_rate: int, reverb: bool = True,
                load_samples_on_demand: bool = False) -> np.ndarray:
    """Render MIDI bytes; returns (samples,) float32 mono. Raises RenderError on any failure.

    ``load_samples_on_demand`` loads only the samples the MIDI plays (FluidSynth's dynamic sample loading):
    a 30 s clip through the compressed FluidR3Mono_GM.sf3 renders in 0.5 s instead of 2.4 s."""
    with tempfile.TemporaryDirectory(prefix="render-") as folder:
        midi_path = Path(folder) / "in.mid"
        wav_path = Path(folder) / "out.wav"
        midi_path.write_bytes(midi_bytes)
        command = [
            "fluidsynth", "-ni", "-q", "-r", str(sample_rate), "-F", str(wav_path), "-T", "wav", "-O", "s16",
            "-R", "1" if reverb else "0",
        ]
        if load_samples_on_demand:
            command += ["-o", "synth.dynamic-sample-loading=1"]
        command += [str(soundfont), str(midi_path)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=FLUIDSYNTH_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise RenderError("fluidsynth timed out") from None
        messages = result.stdout + result.stderr
        if result.returncode != 0 or not wav_path.exists():
            raise RenderError(f"fluidsynth exit {result.returncode}: {messages.strip()[-300:]}")
        if any(marker in messages for marker in MISSING_PRESET_MARKERS):
            raise RenderError(f"missing preset in {soundfont.name}: {messages.strip()[-200:]}")
        samples = _read_wav_mono(wav_path)
    if samples.size == 0 or float(np.sqrt(np.mean(samples**2))) < SILENCE_RMS:
        raise RenderError("rendered audio is silent")
    return samples
