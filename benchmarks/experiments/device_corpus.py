"""A compact copy of the training corpus for a GPU node that can take only ~50 MB of files with it.

``pack`` (here): for every training-split track of the given manifests, one excerpt (its length set per
corpus: game-music tracks, renders, generated pieces), encoded as 16 kHz mono Opus at a low bitrate, plus the
manifests rewritten to point at those files with every label, key and split kept. ``unpack`` (on the node):
decodes the excerpts with libsndfile (the node has no FFmpeg bindings) into the trainer's own decoded-audio
cache, so ``engine train`` runs there with the unchanged configs and never decodes. Both arms of a comparison
read the same excerpts, so the codec and the shortened tracks cost both alike; the held-out evaluation
stays on full-quality audio here.

  python -m benchmarks.experiments.device_corpus pack --manifest ../data/manifests_v4/unlabeled.jsonl \
      --manifest ../data/manifests_v4/labeled_soundtracks.jsonl --manifest ../data/manifests_v4/scores_probe.jsonl \
      --out .device_corpus
  python -m benchmarks.experiments.device_corpus unpack --corpus .device_corpus --data data   # on the node

Needs ``soundfile`` (pip install soundfile; eval/experiment-only, not a product dependency).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
# Excerpt seconds per corpus, chosen so ~6 h of audio fits the node's file budget at ~14 kbps; each excerpt is
# longer than one training clip (two adjacent 2.7 s views plus the pitch shifter's context: ~6.1 s).
EXCERPT_SECONDS = {"debian": 30.0, "generated": 8.0, "scores": 9.0}
OPUS_LEVEL = 0.96  # libsndfile's compression level for Opus: 0.96 is ~14 kbps on this music
AUDIO_DIR = "audio"
MANIFEST_DIR = "manifests"


def corpus_of(path: Path) -> str:
    parts = set(path.parts)
    return "debian" if "debian" in parts else "generated" if "generated" in parts else "scores"


def excerpt_start(path: Path, duration: float, seconds: float) -> float:
    """A start inside the middle 90 % of the track, fixed by its path (the same excerpt in every pack)."""
    margin = 0.05 * duration
    room = max(0.0, duration - 2 * margin - seconds)
    fraction = int(hashlib.sha1(str(path).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return (margin + fraction * room) if room > 0 else max(0.0, (duration - seconds) / 2)


def _encode(job: tuple[str, str, float]) -> tuple[str, float]:
    import soundfile

    from engine.audio import decode_mono, probe

    source, target, seconds = job
    duration = probe(source).duration_seconds
    start = excerpt_start(Path(source), duration, seconds)
    audio = decode_mono(source, SAMPLE_RATE, start, min(seconds, duration - start))
    soundfile.write(target, audio, SAMPLE_RATE, format="OGG", subtype="OPUS", compression_level=OPUS_LEVEL)
    return target, len(audio) / SAMPLE_RATE


def pack(manifests: list[Path], out: Path, split: str, workers: int) -> dict:
    from training.data import read_manifest

    (out / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_DIR).mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    jobs = []
    for manifest in manifests:
        lines = []
        for entry in read_manifest(manifest, split=split):
            source = str(entry.path.resolve())
            if source not in names:
                names[source] = f"{AUDIO_DIR}/{len(names):05d}.opus"
                jobs.append((source, str(out / names[source]), EXCERPT_SECONDS[corpus_of(entry.path)]))
            record = {"path": names[source], "labels": entry.labels, "split": entry.split, **entry.extra}
            if entry.key is not None:
                record["key"] = entry.key
            lines.append(json.dumps(record))
        (out / MANIFEST_DIR / manifest.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    todo = [job for job in jobs if not Path(job[1]).is_file()]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        seconds = sum(length for _, length in pool.map(_encode, todo, chunksize=8))
    size = sum(path.stat().st_size for path in (out / AUDIO_DIR).iterdir())
    return {"files": len(jobs), "encoded_now": len(todo), "hours_encoded_now": round(seconds / 3600, 2),
            "megabytes": round(size / 1e6, 1)}


def _decode(job: tuple[str, str]) -> str:
    import soundfile

    source, legacy = job
    samples, rate = soundfile.read(source, dtype="int16")
    if rate != SAMPLE_RATE:
        raise ValueError(f"{source}: {rate} Hz, expected {SAMPLE_RATE}")
    np.save(legacy, samples)
    return legacy


def unpack(corpus: Path, data: Path, cache_dir: str, manifest_dir: str, workers: int) -> dict:
    """Manifests with absolute paths under ``data/<manifest_dir>`` and every excerpt in the trainer's cache
    under ``data/<cache_dir>``: decoded to the cache's per-track .npy files, which its shard writer then
    takes as they are (``training.audio_cache``)."""
    from training.audio_cache import AudioCache
    from training.data import read_manifest

    corpus = corpus.resolve()
    (data / manifest_dir).mkdir(parents=True, exist_ok=True)
    entries = []
    for manifest in sorted((corpus / MANIFEST_DIR).glob("*.jsonl")):
        lines = []
        for line in manifest.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            record["path"] = str(corpus / record["path"])
            lines.append(json.dumps(record))
        target = data / manifest_dir / manifest.name
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        entries += read_manifest(target)
    cache = AudioCache(data / cache_dir, SAMPLE_RATE)
    jobs = [(path, str(cache.folder / (key + ".npy"))) for path, key in cache.missing(entries)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_decode, jobs, chunksize=16))
    problems = cache.build(entries, workers=workers)
    for _, legacy in jobs:
        Path(legacy).unlink(missing_ok=True)
    return {"entries": len(entries), "decoded": len(jobs), "problems": len(problems)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack")
    packing.add_argument("--manifest", action="append", type=Path, required=True)
    packing.add_argument("--out", type=Path, required=True)
    packing.add_argument("--split", default="train")
    packing.add_argument("--workers", type=int, default=2)
    unpacking = commands.add_parser("unpack")
    unpacking.add_argument("--corpus", type=Path, required=True)
    unpacking.add_argument("--data", type=Path, default=Path("data"))
    unpacking.add_argument("--cache-dir", default="cache/audio16k")
    unpacking.add_argument("--manifest-dir", default="manifests_v4")
    unpacking.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    if args.command == "pack":
        summary = pack(args.manifest, args.out, args.split, args.workers)
    else:
        summary = unpack(args.corpus, args.data, args.cache_dir, args.manifest_dir, args.workers)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
