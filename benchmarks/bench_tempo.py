"""What the tempo adds to indexing, per track: CPU to decode the middle 30 s and to estimate its tempo.

    .venv/bin/python benchmarks/bench_tempo.py [--tracks 40]    # the engine benchmark library (bench_engine_data.py)

CPU time (``process_time``), so the figure holds on a loaded machine; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.audio import probe  # noqa: E402
from engine.scan import scan_paths  # noqa: E402
from engine.tempo import estimate_tempo  # noqa: E402
from engine.tempo_audio import TEMPO_SAMPLE_RATE, middle_span  # noqa: E402

LIBRARY = Path("/work/.bench_data/engine/library")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=40)
    parser.add_argument("--library", type=Path, default=LIBRARY)
    options = parser.parse_args()
    files = sorted(scan_paths([options.library]).files, key=lambda found: found.path)[: options.tracks]
    span_seconds = estimate_seconds = audio_seconds = 0.0
    for found in files:
        duration = probe(found.path).duration_seconds
        audio_seconds += duration
        started = time.process_time()
        span = middle_span(found.path, duration, TEMPO_SAMPLE_RATE)
        span_seconds += time.process_time() - started
        started = time.process_time()
        estimate_tempo(span, TEMPO_SAMPLE_RATE)
        estimate_seconds += time.process_time() - started
    count = max(1, len(files))
    print(json.dumps({"tracks": len(files), "audio_seconds_per_track": round(audio_seconds / count, 1),
                      "span_decode_cpu_ms_per_track": round(1000 * span_seconds / count, 1),
                      "estimate_cpu_ms_per_track": round(1000 * estimate_seconds / count, 1)}, indent=2))


if __name__ == "__main__":
    main()
