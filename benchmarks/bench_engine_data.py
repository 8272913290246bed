"""Generate the engine benchmark library once: tracks of 3-5 minutes in mixed formats, plus a benchmark model.

    .venv/bin/python benchmarks/bench_engine_data.py --out /work/.bench_data/engine --tracks 200 --unique 60

The model is a random-initialised network with the shipped default model's architecture (read from
resources/models/default/config.json, so the benchmark follows the default; weights do not change speed). It
lives outside the repository and is never shipped. Delete the model folder to rebuild it after the default changes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import audio_factory  # noqa: E402

# Share of each format in the library (mixed like a real collection; lossy formats dominate).
FORMAT_MIX = (("mp3", 9), ("flac", 3), ("ogg", 3), ("m4a", 2), ("opus", 2), ("wav", 1))
MIN_SECONDS, MAX_SECONDS = 180.0, 300.0
QUERY_SECONDS = 240.0
FILE_SAMPLE_RATE = 44100  # files are stored like real music (synthesis runs at 22.05 kHz and is upsampled)
TAG_NAMES = ["rock", "jazz", "electronic", "classical", "calm", "energetic"]


def format_for(number: int) -> str:
    cycle = [name for name, weight in FORMAT_MIX for _ in range(weight)]
    return cycle[number % len(cycle)]


def track_path(library: Path, number: int) -> Path:
    return library / f"{number // 50:02d}" / f"track{number:04d}.{format_for(number)}"


def generate(out: Path, tracks: int, unique: int) -> None:
    """``unique`` tracks are synthesised and encoded; the rest are re-tagged copies of one of the same format
    (encoding is the slow part here, and decode/embed speed does not depend on what the music is)."""
    from engine.keys import key_from_index

    library = out / "library"
    library.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    cycle = sum(weight for _, weight in FORMAT_MIX)
    for number in range(tracks):
        path = track_path(library, number)
        if path.exists():
            continue
        path.parent.mkdir(exist_ok=True)
        if number >= unique:
            shutil.copyfile(track_path(library, number % max(cycle, unique - unique % cycle)), path)
        else:
            seconds = MIN_SECONDS + (MAX_SECONDS - MIN_SECONDS) * ((number * 37) % 100) / 100
            samples = audio_factory.chord_progression(key_from_index((number * 5) % 24), seconds, seed=number)
            audio_factory.write_audio(samples, path, output_rate=FILE_SAMPLE_RATE)
        audio_factory.write_tags(path, title=f"Track {number}", artist=f"Artist {number % 23}", album=f"Album {number % 40}")
        if number % 10 == 0:
            print(f"{number + 1}/{tracks} tracks, {time.monotonic() - started:.0f} s", flush=True)
    query = out / "query-not-in-library.mp3"
    if not query.exists():
        samples = audio_factory.chord_progression(key_from_index(9 + 12), QUERY_SECONDS, seed=10_000)
        audio_factory.write_audio(samples, query, bitrate="192k", output_rate=FILE_SAMPLE_RATE)
    print(f"library ready in {out} ({time.monotonic() - started:.0f} s)")


def build_benchmark_model(folder: Path) -> Path:
    import torch

    from engine.model_folder import CONFIG_FILE, DEFAULT_MODEL_DIR, ModelConfig, build_network, save_model

    if (folder / "config.json").is_file():
        return folder
    torch.manual_seed(0)
    shipped = ModelConfig.from_json(json.loads((DEFAULT_MODEL_DIR / CONFIG_FILE).read_text(encoding="utf-8")))
    config = ModelConfig(name=f"bench-random-{shipped.architecture['type']}", architecture=shipped.architecture,
                         key_head={"hidden_dim": 0}, tag_head={"labels": TAG_NAMES, "hidden_dim": 0})
    return save_model(folder, build_network(config).eval(), config, "Random weights: for speed benchmarks only.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/work/.bench_data/engine"))
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--unique", type=int, default=60, help="tracks synthesised; the others are re-tagged copies")
    options = parser.parse_args()
    build_benchmark_model(options.out / "model")
    generate(options.out, options.tracks, options.unique)


if __name__ == "__main__":
    main()
