"""The ``engine`` command: argument parsing and printing on top of the ``Library`` API.

Exit codes: 0 success, 1 bad input (one line on stderr, no traceback), 2 usage, 130 interrupted.
``--json`` prints only JSON on stdout; progress and messages go to stderr. ``train`` and ``eval`` are
handed to ``training/`` lazily, so the engine never imports training code at startup.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.argument_types import at_least
from engine.interrupts import signals_handled_by
from engine.keys import KEY_NOTATIONS
from engine.tag_suggestions import DEFAULT_MIN_CONFIDENCE, SUGGESTIBLE_FIELDS, label_field, values_by_field

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DELEGATED_COMMANDS = {"train": "training.cli", "eval": "training.evaluation.cli"}
DEFAULT_NEIGHBOURS = 10
DEFAULT_PLAYLIST_LENGTH = 20
MAX_WORKERS = 256  # decode processes; past this a machine runs out of process slots and file handles first
GLOBAL_VALUE_OPTIONS, GLOBAL_FLAGS = ("--db", "--model"), ("--json",)  # accepted before or after the command


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    delegated = _delegated_command(arguments)
    if delegated is not None:
        return _delegate(*delegated)
    options = build_parser().parse_args(arguments)
    _print_engine_warnings()
    from engine.cli_faults import fault_message
    from engine.library_errors import LibraryError  # lazy: keeps `engine --help` fast; not engine.library, whose
    # database layer (SQLAlchemy) `info` and `problems` go without

    interrupted = threading.Event()
    with _interrupts_noted(interrupted):
        try:
            return options.handler(options)
        except LibraryError as error:
            _fail(str(error))
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            _fail("interrupted")
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            return EXIT_OK
        except Exception as error:  # a full disk, a damaged database: one line; anything else is a bug and surfaces
            if interrupted.is_set():  # a Ctrl-C that an import caught and turned into its own error (torch's
                _fail("interrupted")  # start-up makes it "ImportError: cannot load module more than once")
                return EXIT_INTERRUPTED
            message = fault_message(error, options.db)
            if message is None:
                raise
            _fail(message)
            return EXIT_BAD_INPUT


@contextlib.contextmanager
def _interrupts_noted(interrupted: threading.Event):
    """Ctrl-C raises KeyboardInterrupt as always, and so does the polite stop of `kill`, `timeout` and service
    managers (SIGTERM), which would otherwise end the process where it stands (a tag write's full-size copy left
    beside the file); both are noted in ``interrupted``. A signal that is ignored or has someone else's handler is
    left alone."""
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    handled = [number for number, default in defaults.items() if signal.getsignal(number) is default]

    def note(signum, frame) -> None:
        interrupted.set()
        signal.default_int_handler(signum, frame)

    with signals_handled_by(note, handled):
        yield


def _delegated_command(arguments: list[str]) -> tuple[str, list[str]] | None:
    """``engine [--db X] [--model M] [--json] train|eval REST`` → (command, REST + those options): global
    options work before the command as after it."""
    position, leading = 0, []
    while position < len(arguments):
        argument = arguments[position]
        step = 1 if argument in GLOBAL_FLAGS or "=" in argument else 2
        if argument.split("=", 1)[0] not in GLOBAL_VALUE_OPTIONS + GLOBAL_FLAGS:
            break
        leading += arguments[position : position + step]
        position += step
    if position < len(arguments) and arguments[position] in DELEGATED_COMMANDS:
        return arguments[position], arguments[position + 1 :] + leading
    return None


def _delegate(command: str, rest: list[str]) -> int:
    module_name = DELEGATED_COMMANDS[command]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        _fail(f"`engine {command}` is unavailable: cannot import {module_name} ({error})")
        return EXIT_BAD_INPUT
    return int(module.main(rest) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engine", description="Index, search and analyse a music library.")
    _add_common_options(parser, None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = _command(commands, "index", "scan, analyse and store files (incremental, resumable)", run_index)
    index.add_argument("paths", nargs="*", metavar="PATH", help="folders or files (default: the library folders)")
    index.add_argument("--workers", type=at_least(0, MAX_WORKERS), default=None, help="decode processes (default: cores - 1)")
    index.add_argument("--max-windows", type=at_least(1), default=None, help="windows analysed per track")
    index.add_argument("--batch-windows", type=at_least(1), default=None,
                       help="windows per inference batch (one commit each)")
    index.add_argument("--retry-problems", action="store_true",
                       help="try every problem file again (unreadable ones are always retried)")

    similar = _command(commands, "similar", "tracks that sound like each query (file or track id)", run_similar)
    similar.add_argument("queries", nargs="+", metavar="QUERY")
    similar.add_argument("-k", type=at_least(1), default=DEFAULT_NEIGHBOURS, help="results per query")
    similar.add_argument("--harmonic", action="store_true", help="only tracks whose keys mix well")
    similar.add_argument("--bpm-range", type=_percent, default=None, metavar="PCT",
                         help="only tracks whose tempo is within PCT %% of the query's (half / double tempo counts)")

    key = _command(commands, "key", "estimate the key of each file", run_key)
    key.add_argument("files", nargs="+", metavar="FILE")
    key.add_argument("--write", action="store_true",
                     help="write the key into each file's key tag (verified copy, then atomic replace)")
    key.add_argument("--notation", choices=KEY_NOTATIONS, default=None,
                     help="with --write: key tag text: standard (Am, the default), camelot (8A) or openkey (1m)")
    key.add_argument("--overwrite", action="store_true", help="with --write: replace an existing key tag")

    bpm = _command(commands, "bpm", "estimate the tempo (BPM) of each file", run_bpm)
    bpm.add_argument("files", nargs="+", metavar="FILE")
    bpm.add_argument("--write", action="store_true",
                     help="write the tempo into each file's BPM tag (TBPM / BPM / tmpo; verified copy, atomic replace)")
    bpm.add_argument("--overwrite", action="store_true", help="with --write: replace an existing BPM tag")

    tag = _command(commands, "tag", "tag probabilities of each file, or suggested tags for empty fields (--suggest)",
                   run_tag)
    tag.epilog = (
        "--suggest lists, for indexed tracks whose genre, mood or grouping tag is empty, the labels the model's tag "
        "head gives at least --min-confidence (a model trained by `engine train from-library`, chosen with --model "
        "NAME). It writes nothing unless --write is given: then every listed suggestion is written, or only those "
        "named with --accept TRACK_ID:FIELD:VALUE (e.g. --accept '12:genre:hip hop'; repeatable). Writing goes "
        "through a verified copy of each file and keeps any value the file has meanwhile."
    )
    tag.add_argument("files", nargs="*", metavar="FILE",
                     help="files to analyse; with --suggest, only these indexed files (default: the whole library)")
    tag.add_argument("--suggest", action="store_true", help="suggest tags for empty genre / mood / grouping fields")
    tag.add_argument("--min-confidence", type=_probability, default=DEFAULT_MIN_CONFIDENCE, metavar="P",
                     help=f"with --suggest: lowest probability listed (default {DEFAULT_MIN_CONFIDENCE})")
    tag.add_argument("--write", action="store_true",
                     help="with --suggest: write the listed suggestions (or only the --accept ones) into the files")
    tag.add_argument("--accept", action="append", type=_accepted_suggestion, default=[],
                     metavar="TRACK_ID:FIELD:VALUE", help="with --suggest --write: write only this suggestion")

    _command(commands, "info", "library summary", run_info)
    _command(commands, "problems", "files that could not be analysed", run_problems)

    remove = _command(commands, "remove", "take tracks out of the library (their files are never touched)", run_remove)
    remove.add_argument("track_ids", nargs="+", type=at_least(1), metavar="TRACK_ID")
    remove.add_argument("--no-exclude", action="store_true",
                        help="do not put the files on the exclusion list: a file inside a library folder then "
                             "returns with the next scan")
    remove_folder = _command(commands, "remove-folder", "forget library folders and their tracks (their files are "
                             "never touched; a library folder inside one keeps its own)", run_remove_folder)
    remove_folder.add_argument("folders", nargs="+", metavar="FOLDER")
    _command(commands, "excluded", "files removed from the library that scans skip", run_excluded)
    restore = _command(commands, "restore", "take files (or every excluded file below a folder) off the exclusion "
                       "list, so the next scan adds them again", run_restore)
    restore.add_argument("paths", nargs="+", metavar="PATH")

    playlist = _command(commands, "playlist", "radio-style M3U8 playlist from a seed track", run_playlist)
    playlist.add_argument("seed", metavar="SEED", help="an indexed file or a track id")
    playlist.add_argument("-n", type=at_least(1), default=DEFAULT_PLAYLIST_LENGTH, help="number of tracks")
    playlist.add_argument("-o", "--output", required=True, type=Path, metavar="FILE.m3u8")
    playlist.add_argument("--overwrite", action="store_true", help="replace FILE.m3u8 if it exists")
    playlist.add_argument("--bpm-range", type=_percent, default=None, metavar="PCT",
                          help="only tracks whose tempo is within PCT %% of the seed's (half / double tempo counts)")

    commands.add_parser("train", help="training subcommands (data, pretrain, finetune, probe, export, from-library)")
    commands.add_parser("eval", help="evaluation reports")
    return parser


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1]: {value}")
    return value


def _percent(text: str) -> float:
    """An argparse type: a percentage > 0 (a tempo range)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0: {value}")
    return value


def _accepted_suggestion(text: str) -> tuple[int, str]:
    """"12:genre:hip hop" → (12, "genre:hip hop")."""
    track_id, _, label = text.partition(":")
    if label_field(label) not in SUGGESTIBLE_FIELDS or not label.partition(":")[2]:
        raise argparse.ArgumentTypeError(
            f"expected TRACK_ID:FIELD:VALUE with FIELD one of {', '.join(SUGGESTIBLE_FIELDS)}, got {text!r}")
    return at_least(1)(track_id), label


def _add_common_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--db", type=Path, default=default, metavar="FILE", help="library database file")
    parser.add_argument("--model", type=Path, default=default, metavar="DIR|NAME",
                        help="model folder, or the name or id of a registered model (see `engine info`)")
    json_default = False if default is None else default
    parser.add_argument("--json", action="store_true", default=json_default, help="print JSON on stdout")


def _command(commands, name: str, help_text: str, handler: Callable) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    _add_common_options(parser, argparse.SUPPRESS)  # given after the command, they override the global ones
    parser.set_defaults(handler=handler)
    return parser


# -- commands -------------------------------------------------------------------------------------------
def run_index(options) -> int:
    from engine.allocator import keep_freed_memory
    from engine.cli_progress import IndexProgressDisplay
    from engine.interrupts import CancelOnInterrupt

    missing = [path for path in options.paths or [] if path and not os.path.lexists(path)]  # "" is the library's
    if missing:  # before the library is opened: a mistyped path must not leave a new, empty library behind
        from engine.scan import display_path

        _fail(f"not found: {', '.join(display_path(os.path.abspath(path)) for path in missing)}")
        return EXIT_BAD_INPUT
    keep_freed_memory()  # this process runs the inference: each batch allocates the same large buffers again
    cancel = threading.Event()
    with _open_library(options) as library, CancelOnInterrupt(cancel), IndexProgressDisplay() as display:
        report = library.index(options.paths or None, workers=options.workers, progress=display.update,
                               cancel=cancel, retry_problems=options.retry_problems,
                               **_optional(max_windows=options.max_windows, batch_windows=options.batch_windows))
    if options.json:
        _print_json(report.to_json())
    else:
        print(f"added {report.added}, updated {report.updated} (moved {report.moved}), unchanged {report.unchanged}, "
              f"removed {report.removed}, problems {report.problems} in {report.seconds:.1f} s "
              f"({report.to_json()['realtime_factor']}x real time)")
        if report.excluded:
            print(f"skipped {report.excluded} file{'s' if report.excluded != 1 else ''} removed from the library "
                  "(`engine excluded` lists them)")
    for folder in report.missing_folders:
        _fail(f"library folder not found, not scanned (its tracks are kept): {folder}")
    for folder in report.empty_folders:
        _fail(f"library folder is empty, not taken for gone (its tracks are kept; a drive not mounted there?): "
              f"{folder}; `engine remove-folder` forgets it and its tracks")
    if report.cancelled:
        _fail("interrupted; run the same command again to continue")
        return EXIT_INTERRUPTED
    return EXIT_OK


def run_similar(options) -> int:
    from engine import json_shapes
    from engine.library_errors import QueryError

    outputs, failures = [], 0
    with _similar_search(options) as search:
        for query in options.queries:
            try:
                outputs.append(json_shapes.similar_result(query, search.similar(query, options.k, options.harmonic,
                                                                                 options.bpm_range)))
            except QueryError as error:
                failures += 1
                outputs.append(json_shapes.similar_error(query, error.reason))
                _fail(str(error))
    if options.json:
        _print_json(outputs)
    else:
        for output in (output for output in outputs if "error" not in output):
            _say(f"{output['query']}:")
            for hit in output["results"]:
                same = "  same recording" if hit["same_recording"] else ""
                _say(f"  {hit['score']:.3f}  {hit['artist'] or '?'} - {hit['title'] or '?'}  [{hit['key'] or '-'}]  "
                     f"{hit['path']}  (#{hit['track_id']}){same}")
    return EXIT_BAD_INPUT if failures == len(outputs) else EXIT_OK


def run_key(options) -> int:
    from engine import json_shapes

    def text(row):
        line = f"{row['key']}  {row['camelot']}  {row['open_key']}  ({row['confidence']:.2f})"
        return line + (f"  [{_write_note(row)}]" if "written" in row else "")

    if (options.overwrite or options.notation) and not options.write:
        return _usage(f"key: {'--overwrite' if options.overwrite else '--notation'} goes with --write")
    if options.write:
        return _write_keys(options, text)
    return _per_file(options, json_shapes.key_result, text)


def _write_keys(options, text: Callable) -> int:
    """``key --write``: each file's key row gains what was written or why not; problems never stop the batch."""
    from engine import json_shapes

    with _open_library(options) as library:
        library.model()  # no usable model: one clear line before any file is touched
        outputs = [
            json_shapes.key_write_result(path, library.write_key(Path(path), options.notation or "standard",
                                                                 options.overwrite))
            for path in options.files
        ]
    return _print_rows(options, outputs, text)


def _write_note(row: dict, tag_field: str = "key_tag") -> str:
    if row["written"]:
        return f"wrote {row[tag_field]}"
    if row["kept_existing"]:
        return f"kept existing {row[tag_field]}"
    return f"not written: {row['write_problem']}"


def run_bpm(options) -> int:
    from engine import json_shapes

    def text(row):
        line = f"{row['bpm']:.1f} BPM  ({row['confidence']:.2f})"
        return line + (f"  [{_write_note(row, 'bpm_tag')}]" if "written" in row else "")

    if options.overwrite and not options.write:
        return _usage("bpm: --overwrite goes with --write")
    if options.write:
        with _open_library(options) as library:
            outputs = [json_shapes.bpm_write_result(path, library.write_bpm(Path(path), options.overwrite))
                       for path in options.files]
        return _print_rows(options, outputs, text)
    return _per_file(options, lambda path, tempo: json_shapes.bpm_result(path, tempo), text,
                     analyse=lambda library, path: library.tempo_for_path(path))


def run_tag(options) -> int:
    from engine import json_shapes
    from engine.tag_calibration import calibration_from_tag_head

    def text(row):
        best = sorted(row["tags"].items(), key=lambda item: -item[1])[:5]
        return ", ".join(f"{name} {probability:.2f}" for name, probability in best) or "(no tag head)"

    if options.suggest:
        return _suggest_tags(options)
    if options.write or options.accept:
        return _usage("tag: --write and --accept go with --suggest")
    if not options.files:
        return _usage("tag: give FILE... or --suggest")
    def analyse(library, path: str):  # the model's analysis, with the calibration of the model that made it
        return library.analysis_for_path(path), calibration_from_tag_head(library.model_spec().config.tag_head)

    return _per_file(options, lambda path, found: json_shapes.tag_result(path, *found), text, analyse, needs_model=True)


def _suggest_tags(options) -> int:
    """``tag --suggest``: one row per track with suggestions; with --write, what was written into its file."""
    from engine import json_shapes

    if options.accept and not options.write:
        return _usage("tag: --accept goes with --write")
    accepted: dict[int, set[str]] = {}
    for track_id, label in options.accept:
        accepted.setdefault(track_id, set()).add(label)
    outputs: list[dict] = []
    with _open_library(options, read_only=not options.write) as library:
        wanted = None
        if options.files:
            wanted = [library.track_id_for_path(path) for path in options.files]
            outputs += [json_shapes.error_result(path, "not in the library (index it first)")
                        for path, track_id in zip(options.files, wanted) if track_id is None]
            wanted = [track_id for track_id in wanted if track_id is not None]
        if accepted:
            wanted = [track_id for track_id in accepted if wanted is None or track_id in wanted]
        minimum = 0.0 if accepted else options.min_confidence
        for track in library.tag_suggestions(minimum, wanted):
            chosen = [s for s in track.suggestions if not accepted or s.label in accepted.get(track.track_id, ())]
            row = json_shapes.tag_suggestions_result(track, chosen)
            if options.write:
                written = library.write_tags(track.path, values_by_field(chosen), "keep")
                row.update(json_shapes.tag_write_fields(written))
            outputs.append(row)
            accepted.get(track.track_id, set()).difference_update(s.label for s in chosen)
        outputs += [{"track_id": track_id, "label": label, "error": "not a suggestion for this track (field not empty, "
                     "label unknown to the model, or track not analysed by it)"}
                    for track_id, labels in accepted.items() for label in sorted(labels)]
    if options.json:
        _print_json(outputs)
    else:
        for row in outputs:
            _print_suggestion(row)
        if not outputs:
            _fail("no suggestions: none reach --min-confidence, or the model's tags name no field (train one with "
                  "`engine train from-library` and pass --model NAME)")
    return _rows_exit_code(outputs, "suggestions")


def _print_suggestion(row: dict) -> None:
    if "suggestions" not in row:
        _say(f"{row.get('path') or row.get('track_id')}: {row.get('label', '')} {row['error']}".replace("  ", " "))
        return
    listed = ", ".join(f"{s['field']}: {s['value']} {s['confidence']:.2f}" for s in row["suggestions"])
    written = ", ".join(f"{name}={'; '.join(values)}" for name, values in row.get("written", {}).items())
    note = f"  [wrote {written}]" if written else (f"  [not written: {row['write_problem']}]" if row.get("write_problem") else "")
    _say(f"#{row['track_id']} {row['artist'] or '?'} - {row['title'] or '?'}: {listed}{note}  ({row['path']})")


def _per_file(options, shape: Callable, text: Callable, analyse: Callable | None = None,
              needs_model: bool = False) -> int:
    """Analyse each file (stored analysis when indexed); an undecodable file gives {"path", "error"}.
    ``analyse(library, path)`` replaces the model's analysis (a tempo needs no model unless ``needs_model``)."""
    from engine import json_shapes
    from engine.library import QueryError

    outputs = []
    with _open_library(options, read_only=True) as library:
        if analyse is None or needs_model:
            library.model()  # no usable model: one clear line before any file is touched
        for path in options.files:
            try:
                outputs.append(shape(path, (analyse or _model_analysis)(library, path)))
            except QueryError as error:
                outputs.append(json_shapes.error_result(path, error.reason))
    return _print_rows(options, outputs, text)


def _model_analysis(library, path: str):
    return library.analysis_for_path(path)


def _print_rows(options, outputs: list[dict], text: Callable) -> int:
    """Per-file rows as JSON or one line each; the exit code of ``_rows_exit_code``."""
    if options.json:
        _print_json(outputs)
    else:
        for row in outputs:
            _say(f"{row['path']}: {row['error'] if 'error' in row else text(row)}")
    return _rows_exit_code(outputs, "files")


def _rows_exit_code(outputs: list[dict], noun: str) -> int:
    """Exit 1 only when every row failed (no result, or a write asked for and refused), with the one line on stderr
    the contract promises; else 0."""
    failed = [row.get("error") or row.get("write_problem") for row in outputs]
    if not outputs or not all(failed):
        return EXIT_OK
    first = outputs[0].get("path") or f"#{outputs[0].get('track_id')}"
    _fail(f"{first}: {failed[0]}" if len(outputs) == 1 else f"all {len(outputs)} {noun} failed (each row says why)")
    return EXIT_BAD_INPUT


def run_info(options) -> int:
    from engine import json_shapes
    from engine.library_summary import current_summary

    summary = current_summary(_database_path(options), options.model)
    if summary is None:  # a file to create or upgrade: the library's database layer does that
        with _open_library(options, read_only=True) as library:
            summary = library.info(), library.models()
    info, models = summary
    if options.json:
        _print_json(json_shapes.info_result(info, models))
    else:
        print(f"database: {info.database}\ntracks: {info.tracks} ({info.analysed_tracks} analysed)\n"
              f"problems: {info.problems}\nmodel: {info.model or '(none usable)'}\nfolders:")
        for folder in info.folders:
            print(f"  {folder}")
        print("models (engine similar --model NAME):")
        for model in models:
            print(f"  {'*' if model.active else ' '} {model.name}  {model.model_id}  {model.analysed_tracks} tracks analysed"
                  f"  {model.folder}")
    _note_if_no_library(options)
    return EXIT_OK


def run_problems(options) -> int:
    from engine import json_shapes
    from engine.library_summary import current_problems

    problems = current_problems(_database_path(options), options.model)
    if problems is None:  # a file to create or upgrade: the library's database layer does that
        with _open_library(options, read_only=True) as library:
            problems = library.problems()
    rows = json_shapes.problems_result(problems)
    if options.json:
        _print_json(rows)
    else:
        for row in rows:
            _say(f"{row['path']}: {row['reason']}")
    _note_if_no_library(options)
    return EXIT_OK


def run_remove(options) -> int:
    """Rows, analyses and crate entries go; the caches catch up on the next search. The files go on the exclusion
    list (unless --no-exclude), so the next scan of their folder does not add them again."""
    from engine import json_shapes

    with _open_library_to_change(options) as library:
        removal = library.remove_tracks(options.track_ids, exclude=not options.no_exclude)
    removed = set(removal.removed)
    not_found = [track_id for track_id in dict.fromkeys(options.track_ids) if track_id not in removed]
    if options.json:
        _print_json({"removed": removal.removed, "not_found": not_found,
                     "excluded": [json_shapes.path_fields(path) for path in removal.excluded]})
    else:
        count = len(removal.removed)
        print(f"removed {count} track{'s' if count != 1 else ''} from the library (files untouched)")
        if removal.excluded:
            print("the next scan skips these files; `engine excluded` lists them, `engine restore PATH` brings one back")
        elif removal.removed:
            print("a file inside a library folder comes back with the next scan")
        for track_id in not_found:
            print(f"not in the library: {track_id}")
    return EXIT_OK


def run_remove_folder(options) -> int:
    """The library folders named are forgotten with their tracks (an emptied folder the index runs keep, a drive
    given up); a path that is no library folder is named on stderr, and exit 1 when none was one."""
    from engine import json_shapes
    from engine.scan import display_path

    with _open_library_to_change(options) as library:
        removed, not_folders = library.remove_folders(options.folders)
    if options.json:
        _print_json({"removed": [{**json_shapes.path_fields(folder), "tracks": count} for folder, count in removed],
                     "not_library_folders": [json_shapes.path_fields(path) for path in not_folders]})
    else:
        for folder, count in removed:
            print(f"forgot {display_path(folder)} and its {count} track{'s' if count != 1 else ''} (files untouched)")
    for path in not_folders:
        _fail(f"not a library folder: {display_path(path)}")
    return EXIT_OK if removed or not not_folders else EXIT_BAD_INPUT


def run_excluded(options) -> int:
    from engine import json_shapes
    from engine.scan import display_path

    with _open_library(options, read_only=True) as library:
        excluded = library.excluded_files()
    if options.json:
        _print_json([{**json_shapes.path_fields(entry.path), "excluded_at": round(entry.excluded_at, 3),
                      "exists": os.path.lexists(entry.path)} for entry in excluded])
    else:
        for entry in excluded:
            print(display_path(entry.path) + ("" if os.path.lexists(entry.path) else "  (file gone)"))
        if not excluded:
            print("no files are excluded")
    return EXIT_OK


def run_restore(options) -> int:
    """Only the list changes; the next ``engine index`` (or the app's scan) adds the files again."""
    from engine import json_shapes
    from engine.scan import display_path

    with _open_library_to_change(options) as library:
        restored = library.restore_excluded(options.paths)
    not_excluded = [path for path in options.paths if not _restored_any(os.path.abspath(path), restored)]
    if options.json:
        _print_json({"restored": [json_shapes.path_fields(path) for path in restored],
                     "not_excluded": [display_path(path) for path in not_excluded]})
    else:
        count = len(restored)
        print(f"restored {count} file{'s' if count != 1 else ''}: the next scan of their folder adds "
              f"{'it' if count == 1 else 'them'} to the library")
        for path in not_excluded:
            print(f"not excluded: {display_path(path)}")
    return EXIT_OK


def _restored_any(path: str, restored: list[str]) -> bool:
    """Whether ``path`` itself, or a file below it (a folder given), came off the list."""
    from engine.scan import is_within

    return any(is_within(entry, path) for entry in restored)


def run_playlist(options) -> int:
    from engine import json_shapes
    from engine.playlist import fits_one_line

    with _open_library(options, read_only=True) as library:
        tracks = library.playlist(options.seed, options.n, options.bpm_range)
        try:
            library.write_m3u8(tracks, options.output, options.overwrite)
        except OSError as error:
            _fail(f"cannot write {options.output}: {error.strerror or error}")
            return EXIT_BAD_INPUT
    written = [track for track in tracks if fits_one_line(track)]
    skipped = [track for track in tracks if not fits_one_line(track)]
    for track in skipped:
        _fail(f"warning: left out {json_shapes.track_summary(track)['path']!r}: its path cannot be one playlist line")
    if options.json:
        _print_json({"seed": options.seed, "output": str(options.output),
                     "tracks": [json_shapes.track_summary(track) for track in written],
                     "skipped": [json_shapes.track_summary(track) for track in skipped]})
    else:
        print(f"wrote {len(written)} tracks to {options.output}")
    return EXIT_OK


# -- helpers --------------------------------------------------------------------------------------------
def _similar_search(options):
    """What answers ``similar``: track ids alone are read with ``sqlite3`` (``engine.track_search``: no SQLAlchemy
    to import), a file or a library to create or upgrade goes through the ``Library``."""
    from engine.track_search import TrackIdSearch, all_track_ids

    search = TrackIdSearch.open(_database_path(options), options.model) if all_track_ids(options.queries) else None
    return search if search is not None else _open_library(options, read_only=True)


def _open_library(options, read_only: bool = False):
    """The library of ``--db`` with ``--model``; ``read_only`` for commands that only read it (never written; where
    no file is, an empty library in memory answers and none is created: a mistyped ``--db`` leaves nothing behind)."""
    from engine.library import Library

    return Library(options.db, options.model, read_only=read_only)


def _note_if_no_library(options) -> None:
    """After a summary of an empty library: say when that is because ``--db`` names no library file at all."""
    if options.db is not None and not Path(options.db).exists():
        _fail(f"note: no library at {options.db} (nothing indexed there yet: `engine index FOLDER --db "
              f"{options.db}` makes one)")


def _open_library_to_change(options):
    """``_open_library`` for commands that change what a library holds (remove, restore): where there is no library
    there is nothing to change, so none is created."""
    return _open_library(options, read_only=not _database_path(options).exists())


def _database_path(options) -> Path:
    """The library database ``--db`` names, else the default one (as ``Library`` finds it)."""
    from engine.library_location import default_database_path

    return Path(options.db) if options.db is not None else default_database_path()


def _optional(**values) -> dict:
    return {name: value for name, value in values.items() if value is not None}


def _print_json(value: Any) -> None:
    """Strict JSON: a non-finite number (NaN from a broken model) is written as null, never as ``NaN``."""
    json.dump(_finite(value), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _finite(value: Any) -> Any:
    """``value`` as strict JSON holds it: non-finite floats as null, and text that is not Unicode (a file name's
    undecodable bytes, kept as lone surrogates) with U+FFFD in their place (paths keep their exact bytes in
    ``path_bytes``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _unicode(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _unicode(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")  # the bytes a file name's escapes stand for
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "replace")
        return raw.decode("utf-8", "replace")


# C0 and C1 control characters and DEL, as escapes: a tag or file name holding a newline, an ANSI escape or a bell
# must not split a line or drive the terminal.
_CONTROL_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}


def _say(line: str) -> None:
    """One line of human output, with the library's text (tags, file names) unable to break it."""
    print(line.translate(_CONTROL_ESCAPES))


def _usage(message: str) -> int:
    _fail(message)
    return EXIT_USAGE


class _WarningLine(logging.Handler):
    """The engine's warnings (e.g. a cache that could not be saved) as ``engine: warning: ...`` on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        _fail(f"warning: {record.getMessage()}")


def _print_engine_warnings() -> None:
    logger = logging.getLogger("engine")
    if not any(isinstance(handler, _WarningLine) for handler in logger.handlers):
        logger.addHandler(_WarningLine(logging.WARNING))
        logger.propagate = False


def _fail(message: str) -> None:
    print(f"engine: {message}", file=sys.stderr)


def run() -> None:
    """The ``engine`` console command: ``main``, then leave (``engine.process_exit``: without unloading torch).
    ``train`` and ``eval`` end as Python ends: their runs are long and write many files, and an exit's memory does
    not matter to them."""
    from engine.process_exit import exit_process

    code = main()
    if _delegated_command(sys.argv[1:]) is not None:
        sys.exit(code)
    exit_process(code)


if __name__ == "__main__":
    run()
