"""What one `engine similar` query costs: CPU time, files opened and decodes, for each kind of query.

    .venv/bin/python benchmarks/bench_query.py                          # the table
    .venv/bin/python benchmarks/bench_query.py --json-out similar.json  # also `engine similar --json` of each query

A small library is synthesised into a temporary folder (``LIBRARY_TRACKS`` chord progressions of 20 s to 4 min, in
MP3, FLAC and Ogg) and indexed with the benchmark model (``bench_engine_data.py``; any model folder with
``--model``). Each query then runs ``Library.similar`` in this process, once to warm up (model load, caches)
and ``--repeats`` times measured: CPU time of the process (``time.process_time``, the comparable figure on a loaded
machine), how many times a file was opened for decoding (``engine.audio._open``) and how many of those decodes
ran to the end of the file (a whole decode, as opposed to seeking a window or span). ``--json-out`` writes what
`engine similar --json` prints for every query (run in-process through ``engine.cli.main``), so two versions of
the code can be checked for byte-identical answers on the same library.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import audio_factory  # noqa: E402
import pytest  # noqa: E402  (its MonkeyPatch installs and removes the decode counter)
from decode_counter import DecodeCounter  # noqa: E402

DEFAULT_MODEL = Path("/work/.bench_data/engine/model")
LIBRARY_TRACKS = 12
TRACK_SECONDS = (20.0, 60.0, 240.0)  # decoded whole; whole for landmarks but windows by seeking; seeking only
FORMATS = ("mp3", "flac", "ogg")
OUTSIDE_SECONDS = {"outside 20 s ogg": (20.0, "ogg"), "outside 60 s mp3": (60.0, "mp3"),
                   "outside 4 min mp3": (240.0, "mp3")}
EXCERPT_OF = 2  # a 4-min library track: an excerpt of it is found as the same recording
EXCERPT_SPAN = (60.0, 120.0)
RESULTS = 10
BPM_RANGE = 6.0


def build_library(folder: Path) -> tuple[Path, dict[str, str]]:
    """The library's files and the outside query files; returns (library folder, query label → path)."""
    from engine.keys import key_from_index

    library = folder / "library"
    library.mkdir()
    for number in range(LIBRARY_TRACKS):
        seconds = TRACK_SECONDS[number % len(TRACK_SECONDS)]
        samples = audio_factory.chord_progression(key_from_index((number * 7) % 24), seconds, seed=number)
        path = audio_factory.write_audio(samples, library / f"track{number:02d}.{FORMATS[number % len(FORMATS)]}")
        audio_factory.write_tags(path, title=f"Track {number}", artist=f"Artist {number % 5}")
    long_track = audio_factory.chord_progression(key_from_index((EXCERPT_OF * 7) % 24), TRACK_SECONDS[EXCERPT_OF],
                                                 seed=EXCERPT_OF)
    rate = audio_factory.SAMPLE_RATE
    excerpt = long_track[int(EXCERPT_SPAN[0] * rate):int(EXCERPT_SPAN[1] * rate)]
    queries = {"outside 60 s excerpt of a library track": str(audio_factory.write_audio(excerpt, folder / "excerpt.mp3"))}
    for offset, (label, (seconds, extension)) in enumerate(OUTSIDE_SECONDS.items()):
        samples = audio_factory.chord_progression(key_from_index(offset * 5), seconds, seed=1000 + offset)
        queries[label] = str(audio_factory.write_audio(samples, folder / f"query{offset}.{extension}"))
    return library, queries


def query_cases(library, queries: dict[str, str]) -> list[tuple[str, object, dict]]:
    """(label, query, keyword arguments of ``similar``) of every measured query."""
    indexed = library.tracks(limit=1, order_by="path")[0]
    cases = [(label, path, {}) for label, path in queries.items()]
    cases += [("outside 60 s mp3, harmonic + BPM", queries["outside 60 s mp3"],
               {"harmonic": True, "bpm_range": BPM_RANGE}),
              ("indexed file (stored analysis)", indexed.path, {}),
              ("track id", indexed.id, {}),
              ("track id, harmonic + BPM", indexed.id, {"harmonic": True, "bpm_range": BPM_RANGE})]
    return cases


def measure(library, query, options: dict, repeats: int) -> dict:
    """CPU ms per query and opens / decodes per query, after one warm-up call."""
    from engine.library import QueryError

    def run():
        try:
            library.similar(query, k=RESULTS, **options)
        except QueryError as error:  # e.g. no tempo in a synthesised file: measured all the same
            return error.reason
        return None

    problem = run()
    with pytest.MonkeyPatch.context() as patch:
        counter = DecodeCounter(patch)
        started = time.process_time()
        for _ in range(repeats):
            run()
        cpu = time.process_time() - started
    totals = {"opened": counter.opened, "whole decodes": counter.whole, "spans": counter.spans}
    per_query = {name: sum(counts.values()) / repeats for name, counts in totals.items() if counts}
    return {"cpu_ms": round(cpu * 1000 / repeats, 1), **per_query, **({"error": problem} if problem else {})}


def cli_json(database: Path, model: Path, query, options: dict) -> object:
    """What `engine similar --json` prints for the query, run in this process."""
    from engine.cli import main

    argv = ["similar", "--json", "--db", str(database), "--model", str(model), "-k", str(RESULTS), str(query)]
    if options.get("harmonic"):
        argv.append("--harmonic")
    if options.get("bpm_range") is not None:
        argv += ["--bpm-range", str(options["bpm_range"])]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        main(argv)
    return json.loads(printed.getvalue())


def without_folder(value: object, folder: str) -> object:
    """``value`` with the temporary folder's name (which differs from run to run) replaced, in paths and in the
    base64 of their bytes."""
    if isinstance(value, dict):
        return {name: (base64.b64encode(base64.b64decode(item).replace(folder.encode(), b"<tmp>")).decode()
                       if name == "path_bytes" else without_folder(item, folder)) for name, item in value.items()}
    if isinstance(value, list):
        return [without_folder(item, folder) for item in value]
    return value.replace(folder, "<tmp>") if isinstance(value, str) else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json-out", type=Path, help="write `engine similar --json` of every query here")
    options = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from engine.library import Library

    with tempfile.TemporaryDirectory() as folder:
        library_folder, queries = build_library(Path(folder))
        database = Path(folder) / "library.db"
        with Library(database, options.model) as library:
            library.index([library_folder], workers=0)
        rows, answers = [], {}
        with Library(database, options.model, read_only=True) as library:
            cases = query_cases(library, queries)
            for label, query, arguments in cases:
                rows.append({"query": label, **measure(library, query, arguments, options.repeats)})
        if options.json_out:
            for label, query, arguments in cases:
                answers[label] = cli_json(database, options.model, query, arguments)
            options.json_out.write_text(json.dumps(without_folder(answers, folder), indent=2, sort_keys=True) + "\n",
                                        encoding="utf-8")
    print(json.dumps({"repeats": options.repeats, "load_average_1min": round(os.getloadavg()[0], 2),
                      "queries": rows}, indent=2))


if __name__ == "__main__":
    main()
