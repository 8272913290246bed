"""Desktop app with a 100k-track library: time to first rows on screen, page latency and GUI stalls while scrolling.

    python benchmarks/bench_app_startup.py [--tracks 100000] [--db PATH] [--runs 3]

The synthetic library is written through the engine's ``Store`` (random unit embeddings, key and tag
probabilities, varied metadata) for a random-initialised model of the default's size; it is reused
from ``--db`` when it already holds the requested number of tracks. Each start is a fresh interpreter
(``main.py``'s path: QApplication, the start-up window, Library, MainWindow), timed from process launch to
the first window on screen and to the first page of rows drawn; the same child then jumps through the table and records page latencies and the
longest event-loop stall (5 ms heartbeat), then sorts by Key and by Tags (first rows, and a row half-way).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

DEFAULT_TRACKS = 100_000
WRITE_BATCH = 5_000
TAG_NAMES = ["rock", "jazz", "electronic", "classical", "calm", "energetic", "vocal", "instrumental"]
JUMP_FRACTIONS = (0.5, 0.99, 0.25, 0.75, 0.0)
ANALYSIS_SORT_HEADERS = ("Key", "Tags")  # sorts over the model's analyses, not over track columns
HEARTBEAT_MS = 5


def build_model(folder: Path) -> Path:
    """A random LogFreqCNN of the default configuration with key and tag heads (benchmark only, never shipped)."""
    from engine.model_folder import ModelConfig, build_network, save_model
    from engine.networks import LogFreqCNNConfig, encoder_config_to_dict

    if (folder / "config.json").is_file():
        return folder
    config = ModelConfig(name="bench-random", architecture=encoder_config_to_dict(LogFreqCNNConfig()),
                         key_head={"hidden_dim": 0}, tag_head={"labels": TAG_NAMES, "hidden_dim": 0})
    return save_model(folder, build_network(config).eval(), config, model_card="Random weights, benchmark only.\n")


def build_database(database: Path, model_dir: Path, track_count: int) -> float:
    """Fill ``database`` with ``track_count`` analysed tracks through the engine's store; returns seconds."""
    import numpy as np

    from engine.analyzer import TrackAnalysis
    from engine.library import Library
    from engine.metadata import TrackMetadata
    from engine.store import NewTrack

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    with Library(database, model_dir) as library:
        existing = library.track_count()
        if existing >= track_count:
            return 0.0
        model = library.model()
        dim = model.config.embedding_dim
        for start in range(existing, track_count, WRITE_BATCH):
            count = min(WRITE_BATCH, track_count - start)
            embeddings = rng.normal(size=(count, dim)).astype(np.float32)
            embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
            key_probs = rng.dirichlet(np.full(24, 0.3), size=count).astype(np.float32)
            tag_probs = rng.random((count, len(TAG_NAMES)), dtype=np.float32)
            items = []
            for offset in range(count):
                number = start + offset
                artist = f"Artist {number % 2_000:04d}"
                metadata = TrackMetadata(
                    title=f"Track {number:06d}", artist=artist, album=f"Album {number % 9_000:04d}",
                    genre=TAG_NAMES[number % len(TAG_NAMES)], year=1960 + number % 60, track_number=number % 14 + 1,
                    duration=120.0 + number % 300, codec="mp3", bitrate=256_000, sample_rate=44_100,
                    bpm=float(80 + number % 90),
                )
                analysis = TrackAnalysis(embeddings[offset], key_probs[offset], tag_probs[offset], 8)
                path = f"/music/{artist}/album-{number % 9_000:04d}/track-{number:06d}.mp3"
                items.append(NewTrack(path, 5_000_000 + number, number, f"{number:032x}", metadata, analysis))
            library.store.save_tracks(items, model.model_id)
    return time.perf_counter() - started


def child(database: Path, model_dir: Path, launched_at: float) -> None:
    """Runs in a fresh interpreter: start the app as main.py does and report timings as one JSON line."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt, QTimer

    from app.application import make_application, open_main_window, show_startup_window

    application = make_application()
    startup = show_startup_window(database)  # what main.py shows before the engine and the views are imported
    window_shown_at = time.time()
    from app.library_model import COLUMNS
    from app.main_window import MainWindow  # noqa: F401 (imported here so the figures below exclude imports)
    from engine.library import Library  # noqa: F401

    qt_ready_at = time.time()
    library, window = open_main_window(database, model_dir)
    window.show()
    startup.close()
    model, table = window.library_view.model, window.library_view.table
    timings: dict[str, float] = {}
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    jumps: list[float] = []

    def first_rows_drawn() -> None:
        if "first_rows" not in timings and model.rowCount() and model.track_at(0) is not None:
            table.viewport().repaint()
            timings["first_rows"] = time.time()
            heartbeat.start()
            QTimer.singleShot(200, lambda: jump(0))

    sorted_by_analysis: dict[str, dict[str, float]] = {}

    def when_row_loaded(row: int, asked: float, record: Callable[[float], None], then: Callable[[], None]) -> None:
        if model.track_at(row) is None:
            QTimer.singleShot(1, lambda: when_row_loaded(row, asked, record, then))
            return
        table.viewport().repaint()
        record(time.perf_counter() - asked)
        QTimer.singleShot(150, then)

    def jump(position: int) -> None:
        if position == len(JUMP_FRACTIONS):
            sort_by(0)
            return
        row = int(JUMP_FRACTIONS[position] * (model.rowCount() - 1))
        asked = time.perf_counter()
        table.scrollTo(model.index(row, 0))
        when_row_loaded(row, asked, jumps.append, lambda: jump(position + 1))

    def sort_by(position: int) -> None:
        """Sort by an analysis column (Key, Tags): time to the first rows, then to a row half-way down."""
        if position == len(ANALYSIS_SORT_HEADERS):
            heartbeat.stop()
            application.quit()
            return
        header = ANALYSIS_SORT_HEADERS[position]
        figures = sorted_by_analysis.setdefault(header, {})

        def half_way() -> None:
            model.loaded.disconnect(first_rows_sorted)
            row = model.rowCount() // 2
            started = time.perf_counter()
            table.scrollTo(model.index(row, 0))
            when_row_loaded(row, started, lambda seconds: figures.update(half_way_ms=round(1000 * seconds, 1)),
                            lambda: sort_by(position + 1))

        def first_rows_sorted(_count: int) -> None:
            when_row_loaded(0, asked, lambda seconds: figures.update(first_rows_ms=round(1000 * seconds, 1)), half_way)

        table.scrollToTop()
        model.loaded.connect(first_rows_sorted)
        asked = time.perf_counter()
        table.sortByColumn([column.header for column in COLUMNS].index(header), Qt.SortOrder.AscendingOrder)

    model.loaded.connect(lambda _: QTimer.singleShot(0, first_rows_drawn))
    model.dataChanged.connect(lambda *_: QTimer.singleShot(0, first_rows_drawn))
    application.exec()
    gaps_ms = [1000 * (later - earlier) for earlier, later in zip(ticks, ticks[1:])]
    result = {
        "rows": model.rowCount(),
        "launch_to_window_s": window_shown_at - launched_at,
        "interpreter_and_imports_s": qt_ready_at - launched_at,
        "launch_to_first_rows_s": timings["first_rows"] - launched_at,
        "qt_ready_to_first_rows_s": timings["first_rows"] - qt_ready_at,
        "page_jump_ms": [round(1000 * seconds, 1) for seconds in jumps],
        "max_stall_while_scrolling_ms": round(max(gaps_ms, default=0.0), 1),
        "sorted_by": sorted_by_analysis,
    }
    window.shutdown()
    library.close()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=DEFAULT_TRACKS)
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "bench-app" / "library-100k.db")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--launched-at", type=float, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.db, arguments.model, arguments.launched_at)
        return
    arguments.db.parent.mkdir(parents=True, exist_ok=True)
    model_dir = build_model(arguments.db.parent / "bench-model")
    build_seconds = build_database(arguments.db, model_dir, arguments.tracks)
    print(f"database: {arguments.db} ({arguments.tracks:,} tracks; built in {build_seconds:.1f} s)")
    results = []
    for _ in range(arguments.runs):
        launched_at = time.time()
        command = [sys.executable, __file__, "--child", "--db", str(arguments.db), "--model", str(model_dir),
                   "--launched-at", str(launched_at)]
        output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
        print(json.dumps(results[-1]))
    best = min(results, key=lambda result: result["launch_to_first_rows_s"])
    median = sorted(result["qt_ready_to_first_rows_s"] for result in results)[len(results) // 2]
    window_median = sorted(result["launch_to_window_s"] for result in results)[len(results) // 2]
    print(f"launch → a window on screen: median {window_median:.2f} s")
    print(f"launch → first rows: best {best['launch_to_first_rows_s']:.2f} s "
          f"(interpreter + Qt/torch/engine imports {best['interpreter_and_imports_s']:.2f} s); "
          f"window + library → first rows: median {median:.3f} s (target ≤ 1 s)")
    for header in ANALYSIS_SORT_HEADERS:
        first = sorted(result["sorted_by"][header]["first_rows_ms"] for result in results)
        half = sorted(result["sorted_by"][header]["half_way_ms"] for result in results)
        print(f"sorted by {header}: first rows {first[len(first) // 2]:.0f} ms, row {results[0]['rows'] // 2:,} "
              f"{half[len(half) // 2]:.0f} ms (medians)")


if __name__ == "__main__":
    main()
