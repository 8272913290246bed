"""Custom models from the library: held-out precision@10 before vs after, and the time to finetune and re-embed.

    .venv/bin/python benchmarks/bench_from_library.py [--steps 60] [--albums-per-genre 8] [--model DIR] [--json]

The library is generated once under --out (``tests/tagged_library.py``: four genres that are timbre families,
spelled inconsistently, plus untagged albums), indexed with the base model (default: the shipped model) into a
fresh database, then ``engine train from-library --labels genre,mood`` runs through the same ``LibraryTraining``
phases as the CLI, with the config of ``training/configs/from_library.toml`` and --steps. Times are wall clock;
the 1-minute load average before and after is printed because other jobs may share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from engine.library import Library  # noqa: E402
from engine.model_folder import DEFAULT_MODEL_DIR  # noqa: E402
from tagged_library import generate_tagged_library  # noqa: E402
from training.from_library import FromLibrarySettings, LibraryTraining, plan_text, result_text  # noqa: E402

PER_THOUSAND = 1000


def library_folder(out: Path, albums_per_genre: int, tracks_per_album: int, untagged_albums: int, seconds: float) -> Path:
    """The generated library (made once per shape; later runs reuse it)."""
    folder = out / f"library-v2-{albums_per_genre}x{tracks_per_album}-{untagged_albums}-{seconds:g}s"
    done = folder / ".complete"
    if not done.is_file():
        shutil.rmtree(folder, ignore_errors=True)
        started = time.monotonic()
        tracks = generate_tagged_library(folder, albums_per_genre, tracks_per_album, untagged_albums, seconds)
        print(f"generated {len(tracks)} tracks in {time.monotonic() - started:.0f} s", file=sys.stderr)
        done.write_text("", encoding="utf-8")
    return folder


def run(args: argparse.Namespace) -> dict:
    music = library_folder(args.out, args.albums_per_genre, args.tracks_per_album, args.untagged_albums, args.seconds)
    work = args.out / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    database = work / "library.db"
    load_before = os.getloadavg()[0]
    with Library(database) as library:
        library.use_model(args.model)
        started = time.monotonic()
        indexed = library.index([music], workers=args.workers)
        index_seconds = time.monotonic() - started
    say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    settings = FromLibrarySettings(("genre", "mood"), name="bench", min_tracks=args.min_tracks, steps=args.steps)
    with LibraryTraining(settings, database, say=say) as training:
        report = training.report()
        say(plan_text(report))
        report["training"] = training.train()
        started = time.monotonic()
        report["reembedding"] = training.embed(workers=args.workers).to_json()
        embed_seconds = time.monotonic() - started
        report["evaluation"] = training.evaluate()
    tracks = indexed.added
    trained = report["training"]
    figures = {
        "tracks": tracks, "audio_seconds_per_track": args.seconds, "steps": trained["steps"],
        "batch": "from_library.toml", "model": str(args.model),
        "precision_at_10_before": report["evaluation"]["precision_at_10"]["before"],
        "precision_at_10_after": report["evaluation"]["precision_at_10"]["after"],
        "tag_map_before_probe": report["evaluation"]["tag_map"]["before"],
        "tag_map_after_heads": report["evaluation"]["tag_map"]["after"],
        "tag_map_after_probe": report["evaluation"]["tag_map"]["after_probe"],
        "held_out_tracks": report["evaluation"]["held_out_tracks"],
        "key_agreement_with_base": report["evaluation"]["key_agreement_with_base"],
        "key_accuracy_vs_tags": report["evaluation"]["key_accuracy_vs_tags"],
        "index_seconds": round(index_seconds, 1),
        "finetune_seconds": trained["seconds"],
        "finetune_setup_seconds": trained["setup_seconds"],
        "finetune_setup_seconds_per_1000_training_tracks": round(PER_THOUSAND * trained["setup_seconds"] / trained["training_tracks"], 1),
        "seconds_per_step": round(trained["step_seconds"] / max(1, trained["steps"]), 2),
        "reembed_seconds": round(embed_seconds, 1),
        "reembed_seconds_per_1000_tracks": round(PER_THOUSAND * embed_seconds / tracks, 1),
        "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(), "device": trained["device"],
    }
    say(result_text(report))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/work/.bench_data/from_library"))
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="base model folder")
    parser.add_argument("--albums-per-genre", type=int, default=8)
    parser.add_argument("--tracks-per-album", type=int, default=4)
    parser.add_argument("--untagged-albums", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each generated track")
    parser.add_argument("--min-tracks", type=int, default=10)
    parser.add_argument("--steps", type=int, default=60, help="finetuning steps (the command's default is 200)")
    parser.add_argument("--workers", type=int, default=1, help="decode processes while indexing / re-embedding")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for name, value in figures.items():
            print(f"{name}: {value}")


if __name__ == "__main__":
    main()
