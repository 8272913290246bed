"""Where an index run's fixed cost per file goes, on short clips: a cProfile of ``Library.index`` over new files.

    .venv/bin/python benchmarks/bench_per_file.py --files 160            # profile, print the top shares
    .venv/bin/python benchmarks/bench_per_file.py --stages 40           # each stage's CPU per file, no profiler

The files are the first ``--files`` of ``bench_scale.py``'s pool (25 s clips at 32 kbit/s, each with its own tags),
indexed into a new database in this process with ``workers=0`` and inference on one thread, so decoding, inference
and storing all run on the profiled thread (cProfile timed by that thread's CPU). A first run over
``WARM_UP_FILES`` other paths pays the once-per-run costs (torch import, model load, module imports) before the
profile starts; the model's network is then reused, as within one run. Shares of the profiled CPU are the
comparable figures on a loaded machine; absolute times are not.

``--layers N`` times the inference of the first N files layer by layer (forward hooks, one thread, after warm-up
passes): which layers a short file's windows spend their time in.

``--stages N`` times the stages of the first N files without a profiler (cProfile inflates Python-heavy stages,
e.g. the store's SQLAlchemy calls), by this thread's CPU: each stage over all N files, the least of
``STAGE_PASSES`` passes; inference runs on whole tracks, about ``batch_windows`` windows at a time, as indexing.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import build_library  # noqa: E402

TOP_FUNCTIONS = 25
# The stages of one file, each as the engine function whose cumulative time it is (they do not overlap).
STAGES = {
    "decode the windows (read_windows)": ("audio.py", "read_windows"),
    "landmarks (track_landmarks)": ("landmark_audio.py", "track_landmarks"),
    "tempo, with its own decode if any (track_tempo)": ("tempo_audio.py", "track_tempo"),
    "tags (read_metadata)": ("metadata.py", "read_metadata"),
    "inference (analyze_tracks)": ("analyzer.py", "analyze_tracks"),
    "store (save_tracks)": ("store.py", "save_tracks"),
    "plan: stat, block hash (StreamingPlanner.jobs)": ("planner.py", "jobs"),
}
WARM_UP_FILES = 4
WARM_UP_PASSES = 3
STAGE_PASSES = 3  # the least CPU of this many passes: other processes on the cores only ever add time


def profile_index(warm_up_folder: Path, library_folder: Path, model_dir: Path) -> tuple[pstats.Stats, float, int, float]:
    """cProfile of ``Library.index`` of ``library_folder`` into a new database after a run over
    ``warm_up_folder``: (stats, CPU seconds of the profiled thread, tracks analysed, KiB on disk per track: the
    database and its caches once closed)."""
    from engine import pipeline
    from engine.library import Library

    pipeline.inference_thread_count = lambda workers: 1  # the network's CPU stays on the profiled thread
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "profile.db"
        with Library(database, model_dir) as library:
            library.index([warm_up_folder], workers=0)
            profiler = cProfile.Profile(time.thread_time)
            started = time.thread_time()
            profiler.enable()
            report = library.index([library_folder], workers=0)
            profiler.disable()
            cpu_seconds, tracks = time.thread_time() - started, library.track_count()
        disk = sum(path.stat().st_size for path in Path(folder).glob("profile.db*"))
        return pstats.Stats(profiler), cpu_seconds, report.added, disk / max(tracks, 1) / 1024


def stage_seconds(folder: Path, model_dir: Path, files: int) -> dict[str, float]:
    """CPU seconds per file of each stage of indexing ``files`` clips of ``folder``, without a profiler: the least
    of ``STAGE_PASSES`` passes, each stage timed by this thread's CPU."""
    import torch

    from engine.analyzer import Analyzer
    from engine.audio import read_windows
    from engine.key_audio import extra_key_windows
    from engine.landmark_audio import landmark_spans, track_landmarks
    from engine.metadata import read_metadata
    from engine.model_folder import load_model
    from engine.tempo_audio import track_tempo, track_tempo_span

    torch.set_num_threads(1)
    analyzer = Analyzer(load_model(model_dir))
    paths = sorted(folder.rglob("*.mp3"))[:files]
    per_batch = max(1, analyzer.batch_windows // analyzer.max_windows)  # tracks per inference batch
    least: dict[str, float] = {}
    for _ in range(STAGE_PASSES):
        spent = dict.fromkeys(("decode the windows", "landmarks", "tempo", "key windows", "tags", "inference"), 0.0)
        decoded, key_windows = [], []
        for path in paths:
            started = time.thread_time()
            audio = read_windows(path, analyzer.sample_rate, analyzer.window_samples, analyzer.max_windows)
            decoded_at = time.thread_time()
            spans = landmark_spans(path, audio) if audio.whole is None else None
            track_landmarks(path, audio, spans)
            hashed_at = time.thread_time()
            middle = track_tempo_span(path, audio)
            track_tempo(path, audio, middle)
            tempo_at = time.thread_time()
            key_windows.append(extra_key_windows(audio, spans, middle))
            cut_at = time.thread_time()
            read_metadata(str(path))
            spent["decode the windows"] += decoded_at - started
            spent["landmarks"] += hashed_at - decoded_at
            spent["tempo"] += tempo_at - hashed_at
            spent["key windows"] += cut_at - tempo_at
            spent["tags"] += time.thread_time() - cut_at
            decoded.append(audio.windows)
        started = time.thread_time()
        for first in range(0, len(decoded), per_batch):
            analyzer.analyze_tracks(decoded[first : first + per_batch], key_windows[first : first + per_batch])
        spent["inference"] = time.thread_time() - started
        least = {stage: min(least.get(stage, seconds), seconds) for stage, seconds in spent.items()}
    return {stage: seconds / max(len(paths), 1) for stage, seconds in least.items()}


def decoded_clips(analyzer, paths: list[Path]) -> tuple[list, list]:
    """(analysis windows, further key windows) per file, as indexing decodes and cuts them."""
    from engine.audio import read_windows
    from engine.key_audio import extra_key_windows
    from engine.landmark_audio import landmark_spans
    from engine.tempo_audio import track_tempo_span

    decoded, key_windows = [], []
    for path in paths:
        audio = read_windows(path, analyzer.sample_rate, analyzer.window_samples, analyzer.max_windows)
        spans = landmark_spans(path, audio) if audio.whole is None else None
        key_windows.append(extra_key_windows(audio, spans, track_tempo_span(path, audio)))
        decoded.append(audio.windows)
    return decoded, key_windows


def layer_times(folder: Path, model_dir: Path, files: int) -> tuple[float, list[tuple[str, int, float]]]:
    """(inference CPU seconds per file, [(layer of the inference network, calls, CPU seconds per file)], most
    first) of ``files`` clips, one thread, after ``WARM_UP_PASSES`` passes; each leaf module timed by forward hooks
    (``torch.profiler`` with shapes recorded was tried first: under it the first block's convolution ran ten times
    slower than without it). What no leaf module computes (the paths' pooling, the heads' rotations, softmax, the
    batching) is the row "outside the layers"."""
    import torch

    from engine.analyzer import Analyzer
    from engine.model_folder import load_model

    torch.set_num_threads(1)
    analyzer = Analyzer(load_model(model_dir))
    decoded, key_windows = decoded_clips(analyzer, sorted(folder.rglob("*.mp3"))[:files])
    per_batch = max(1, analyzer.batch_windows // analyzer.max_windows)

    def infer() -> float:
        started = time.thread_time()
        for first in range(0, len(decoded), per_batch):
            analyzer.analyze_tracks(decoded[first : first + per_batch], key_windows[first : first + per_batch])
        return time.thread_time() - started

    for _ in range(WARM_UP_PASSES):
        infer()
    spent: dict[str, list[float]] = {}
    starts: dict[str, float] = {}
    handles = []
    for name, module in analyzer.network.named_modules():
        if next(module.children(), None) is None and name:
            label = f"{name} ({type(module).__name__})"
            handles.append(module.register_forward_pre_hook(
                lambda _module, _inputs, label=label: starts.__setitem__(label, time.thread_time())))
            handles.append(module.register_forward_hook(
                lambda _module, _inputs, _output, label=label: spent.setdefault(label, []).append(
                    time.thread_time() - starts[label])))
    total = infer()
    for handle in handles:
        handle.remove()
    rows = [(label, len(times), sum(times) / files) for label, times in spent.items()]
    rows.append(("outside the layers", 0, (total - sum(sum(times) for times in spent.values())) / files))
    return total / files, sorted(rows, key=lambda row: row[2], reverse=True)


def main() -> None:
    from engine.model_spec import DEFAULT_MODEL_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/work/.bench_data/scale"))
    parser.add_argument("--files", type=int, default=160)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--stages", type=int, default=0, metavar="N",
                        help="time each stage of the first N files without a profiler instead")
    parser.add_argument("--layers", type=int, default=0, metavar="N",
                        help="time the inference of the first N files layer by layer instead")
    options = parser.parse_args()
    if options.layers:
        folder = build_library(options.out, options.layers)
        per_file, rows = layer_times(folder, options.model, options.layers)
        print(f"inference of {options.layers} files: {1000 * per_file:.1f} ms CPU per file (one thread), by layer "
              f"(CPU per file, share, calls):")
        for label, calls, seconds in rows[:TOP_FUNCTIONS]:
            print(f"  {1000 * seconds:6.2f} ms  {100 * seconds / per_file:5.1f} %  {calls:5d}  {label}")
        return
    if options.stages:
        folder = build_library(options.out, options.stages)
        seconds = stage_seconds(folder, options.model, options.stages)
        print(f"{options.stages} files, CPU per file without a profiler (least of {STAGE_PASSES} passes), "
              f"load {os.getloadavg()[0]:.1f}:")
        for stage, value in seconds.items():
            print(f"  {1000 * value:6.1f} ms  {stage}")
        print(f"  {1000 * sum(seconds.values()):6.1f} ms  these stages together")
        return
    warm_up = build_library(options.out, WARM_UP_FILES)
    folder = build_library(options.out, options.files)
    stats, cpu_seconds, tracks, disk_kib = profile_index(warm_up, folder, options.model)
    print(f"{tracks} files, {cpu_seconds:.1f} s CPU: {1000 * cpu_seconds / max(tracks, 1):.0f} ms per file; "
          f"{disk_kib:.1f} KiB on disk per track")
    profiled = sum(row[2] for row in stats.stats.values())  # the profile's own total: shares add up to 100 %
    print("stages, as shares of the profiled time:")
    for stage, (module, function) in STAGES.items():
        cumulative = sum(row[3] for (filename, _, name), row in stats.stats.items()
                         if name == function and Path(filename).name == module and "/engine/" in filename)
        print(f"  {100 * cumulative / profiled:5.1f} %  {stage}")
    print(f"top {TOP_FUNCTIONS} by own time, as shares of the profiled time (cum: with what they call):")
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:TOP_FUNCTIONS]
    for (filename, line, name), (_, calls, own, cumulative, _) in rows:
        where = f"{Path(filename).name}:{line}" if line else filename
        print(f"  {100 * own / profiled:5.1f} %  own  {100 * cumulative / profiled:5.1f} % cum  {calls:>7} calls  "
              f"{name}  ({where})")
    stats.dump_stats(options.out / f"per-file-{options.files}.prof")  # for pstats / snakeviz


if __name__ == "__main__":
    main()
