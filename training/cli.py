"""``engine train ...``: cache, pretrain, finetune, probe, export, from-library, and ``data`` (forwarded to training.corpora).

Exit codes follow the engine: 0 success, 1 bad input or a failed run (one clear line on stderr),
2 usage, 130 interrupted (a checkpoint was saved; the same command resumes). pretrain, finetune, export and
from-library take ``--events FILE``: JSON lines for programs (``engine.training_events``, docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from engine.argument_types import at_least
from engine.training_events import EVALUATING, EXPORTING, PLANNING, PREPARING, REEMBEDDING, EventWriter, open_events

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EVENT_COMMANDS = frozenset({"pretrain", "finetune", "export", "from-library"})  # they take --events FILE


def _add_events_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--events", type=Path, metavar="FILE", help="append machine-readable JSON lines (phase, "
                         "progress, metrics, checkpoint, done / error / interrupted) to FILE; see docs/cli.md")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engine train", description="Train, probe and export SemiSupCon encoders.")
    commands = parser.add_subparsers(dest="command", required=True)

    for name, help_text in (("pretrain", "SemiSupCon pretraining (SSL only without a labeled manifest)"),
                            ("finetune", "supervised encoder + heads, optional SemiSupCon term")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--config", required=name == "pretrain", type=Path, help="TOML file (see training/configs/)")
        command.add_argument("--fresh", action="store_true",
                             help="start again at step 0 (the earlier run, its checkpoints, config, labels and "
                             "metrics, is moved to checkpoints.replaced-TIME)")
        command.add_argument("--override", action="store_true",
                             help="resume even though the config changed; the changes are recorded in config.json")
        command.add_argument("--steps", type=_positive_int, help="override run.steps")
        command.add_argument("--output-dir", "--output", dest="output_dir", help="override run.output_dir")
        if name == "finetune":
            command.add_argument("--manifest", help="override finetune.manifest")
            command.add_argument("--init-from", help="override finetune.init_from (model folder or run folder)")
        _add_events_option(command)

    cache = commands.add_parser(
        "cache", help="decode the audio a config trains on into its cache (parallel, resumable)",
        description="Decode every track the config's manifests name into data.cache_dir, in parallel processes, as "
        "a step of its own before a (multi-GPU) training launch. Interrupted, the same command resumes. Under "
        "torchrun every process decodes its part (RANK of WORLD_SIZE) without any collective.",
    )
    cache.add_argument("--config", required=True, type=Path, help="TOML file (see training/configs/)")
    cache.add_argument("--workers", type=_positive_int, help="decode processes (default: data.decode_workers)")
    cache.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")

    calibrate = commands.add_parser(
        "calibrate-tags", help="per-tag thresholds and which tags are shown, from validation material",
        description="Measure each tag's F1-best threshold and AP on the validation renders, raise the threshold until "
        "the tag fires on at most half of a soundtrack's tracks on average (95 % bound over the train and validation "
        "soundtracks), and write the result into the model folder's config.json (heads.tags.calibration).")
    calibrate.add_argument("--model", required=True, type=Path, help="model folder to calibrate (changed in place)")
    calibrate.add_argument("--scores", required=True, type=Path, help="rendered-score manifest (its val split)")
    calibrate.add_argument("--debian", required=True, type=Path, help="game-music manifest (its train and val splits)")
    calibrate.add_argument("--json", action="store_true", help="print the calibration as JSON on stdout")

    centre = commands.add_parser(
        "centre-embedding", help="centre a statistics embedding on real music of the training split",
        description="Measure the mean track vector of the manifest's tracks (on the windows `engine index` reads) "
        "and fold it into a copy of the model, so track vectors compare by what sets them apart; keys and tags "
        "are unchanged.")
    centre.add_argument("--model", required=True, type=Path, help="model folder to centre (left as it is)")
    centre.add_argument("--manifest", required=True, type=Path, help="JSONL of reference tracks (path, split)")
    centre.add_argument("--split", default="train", help="the manifest's split to read (default: train)")
    centre.add_argument("--out", required=True, type=Path, help="new model folder to write")
    centre.add_argument("--strength", type=float, default=1.0,
                        help="share of the mean taken away, in (0, 1] (default 1: all of it; chosen on validation "
                        "with benchmarks/experiments/centring_strength.py)")
    centre.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")

    attach = commands.add_parser(
        "attach-evaluation", help="put an `engine eval` report into the model folder it measured",
        description="Copy an `engine eval` report into the model folder as evaluation.json and set config.json's "
        "metrics from it, so the figures a folder carries are its evaluation's (sections the new report lacks, "
        "e.g. a tempo section measured apart, are kept from the folder's previous report). Weights unchanged.")
    attach.add_argument("model", type=Path, help="model folder (changed in place)")
    attach.add_argument("report", type=Path, help="evaluation.json written by `engine eval --out`")
    attach.add_argument("--stage", help="one line on what the folder's last training stage did (config.json stage)")

    probe = commands.add_parser("probe", help="linear/MLP probes on a frozen encoder (key, tags)")
    probe.add_argument("--checkpoint", required=True, type=Path, help="run folder or checkpoint folder")
    probe.add_argument("--manifest", required=True, type=Path, help="JSONL with split, labels and/or key")
    probe.add_argument("--out", required=True, type=Path, help="probe folder to write")
    probe.add_argument("--cache-dir", type=Path, default=Path("cache/audio"))
    probe.add_argument("--tasks", default="key,tags", help="comma-separated: key, tags")
    probe.add_argument("--hidden-dim", type=_non_negative_int, default=0, help="0 = linear head, else MLP width")
    probe.add_argument("--max-chunks", type=_positive_int, default=16)
    probe.add_argument("--epochs", type=_positive_int, default=300)
    probe.add_argument("--lr", type=_positive_float, default=1e-3)
    probe.add_argument("--train-split", default="train")
    probe.add_argument("--eval-split", default="test")
    probe.add_argument("--device", default="auto")
    probe.add_argument("--json", action="store_true", help="print probe.json on stdout")

    export = commands.add_parser("export", help="write a model folder for `engine index --model DIR`")
    export.add_argument("run", nargs="?", type=Path, help="run folder or checkpoint folder")
    export.add_argument("--checkpoint", type=Path, help="same as the positional RUN")
    export.add_argument("--out", "--output", dest="out", required=True, type=Path, help="model folder to write")
    export.add_argument("--probe", type=Path, help="probe folder whose heads to include")
    export.add_argument("--name", help="model name (default: run.name)")
    export.add_argument("--overwrite", action="store_true", help="replace the model folder --out names")
    _add_events_option(export)

    _from_library_parser(commands)
    commands.add_parser("data", help="corpora and manifests (see `engine train data --help`)", add_help=False)
    return parser


def _from_library_parser(commands) -> None:
    from training.library_labels import DEFAULT_HOLDOUT_SHARE, DEFAULT_MAX_UNLABELED, DEFAULT_MIN_TRACKS, LABEL_FIELDS

    command = commands.add_parser(
        "from-library", help="finetune a custom model from the library's own tags (genre, mood, ...)",
        description="Finetune the active model on the library's own tags with SemiSupCon (tagged tracks labeled, the "
        "rest unlabeled), hold out whole albums to measure it, export it to <database folder>/custom-models/NAME, "
        "register it beside the active model (not made active) and re-embed the library with it. Prints what it "
        "found before training; rerunning the same command resumes. Exit 1 when the tags give too little to learn from.",
    )
    command.add_argument("--labels", required=True, metavar="FIELD[,FIELD...]",
                         help=f"tag fields to learn from: {', '.join(LABEL_FIELDS)}")
    command.add_argument("--name", help="model name (default: library-FIELDS)")
    command.add_argument("--db", type=Path, metavar="FILE", help="library database file")
    command.add_argument("--base", "--model", dest="base", metavar="DIR|NAME",
                         help="model to start from: a folder or a registered name (default: the active model)")
    command.add_argument("--min-tracks", type=_positive_int, default=DEFAULT_MIN_TRACKS, metavar="N",
                         help=f"drop tag values with fewer tracks (default {DEFAULT_MIN_TRACKS})")
    command.add_argument("--holdout", type=_share, default=DEFAULT_HOLDOUT_SHARE, metavar="SHARE",
                         help=f"share of tagged tracks held out, by album, to evaluate (default {DEFAULT_HOLDOUT_SHARE})")
    command.add_argument("--max-unlabeled", type=_non_negative_int, default=DEFAULT_MAX_UNLABELED, metavar="N",
                         help=f"untagged tracks sampled for training (default {DEFAULT_MAX_UNLABELED})")
    command.add_argument("--steps", type=_positive_int, help="training steps (default: run.steps of the config)")
    command.add_argument("--config", type=Path, help="TOML config (default: training/configs/from_library.toml)")
    command.add_argument("--workers", type=_positive_int, help="decode processes for re-embedding (default: cores - 1)")
    command.add_argument("--dry-run", action="store_true", help="only report what the tags give; train nothing")
    command.add_argument("--fresh", action="store_true", help="discard an earlier run of the same name")
    command.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    _add_events_option(command)


def _number(test, wanted: str):
    """An argparse type: a float, refused (a usage error, exit 2) unless ``test`` holds."""
    def read(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value
    return read


_positive_int = at_least(1)
_non_negative_int = at_least(0)
_positive_float = _number(lambda value: value > 0 and value != float("inf"), "more than 0")
_share = _number(lambda value: 0 < value < 1, "a share between 0 and 1 (0.2: a fifth)")


def _interrupt_on_stop_signals() -> None:
    """SIGTERM and SIGINT both stop a run through KeyboardInterrupt, so it saves a checkpoint first. SIGINT
    is set explicitly because a shell starts background jobs with it ignored, and then Ctrl-C-style stops
    (``kill -INT``) would be lost."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _train(args: argparse.Namespace, events: EventWriter) -> int:
    events.announce(PREPARING)
    import torch.distributed

    from engine.run_folder import latest_step
    from training.config import TrainConfig, load_config
    from training.resolve import resolve_training
    from training.trainer import Trainer

    config = load_config(args.config) if args.config else TrainConfig()
    if args.command == "finetune":
        config.finetune.manifest = args.manifest or config.finetune.manifest
        config.finetune.init_from = args.init_from if args.init_from is not None else config.finetune.init_from
    if args.steps is not None:
        config.run.steps = args.steps
    if args.output_dir:
        config.run.output_dir = args.output_dir
    trainer = Trainer(resolve_training(config, args.command), fresh=args.fresh, override=args.override, events=events)
    try:
        trainer.fit()
    except KeyboardInterrupt:
        saved = latest_step(trainer.run_dir)  # trainer.step, unless a second Ctrl-C stopped it inside a step
        events.interrupted(saved)
        print("interrupted: checkpoint saved; run the same command to resume" if saved == trainer.step else
              f"interrupted at once: the step under way is not saved; the same command resumes from step "
              f"{saved or 0}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    events.done(trainer.run_dir, trainer.step, config.run.steps)
    if trainer.rank == 0:
        print(f"{args.command}: {trainer.step} steps; run folder {trainer.run_dir}", file=sys.stderr)
    return EXIT_OK


def _cache(args: argparse.Namespace) -> int:
    """Build the audio cache for a config; each torchrun process (RANK of WORLD_SIZE) takes its part."""
    import os

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from training.config import load_config
    from training.data import AudioCache
    from training.resolve import cache_plan

    config = load_config(args.config)
    sample_rate, entries = cache_plan(config)
    part = (int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))
    cache = AudioCache(config.data.cache_dir, sample_rate, config.data.max_seconds)
    missing = len(cache.missing(entries)[part[0]::part[1]])
    with Progress(TextColumn("[bold]decoding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), disable=missing == 0) as progress:
        task = progress.add_task("decode", total=missing)
        problems = cache.build(entries, workers=args.workers or config.data.decode_workers,
                               on_progress=lambda done, total: progress.update(task, completed=done), part=part)
    summary = {"folder": str(cache.folder), "tracks": len(cache.usable(entries)), "entries": len(entries),
               "decoded": missing - len([p for p in problems if problems[p] != "file not found"]),
               "problems": [{"path": path, "reason": reason} for path, reason in problems.items()]}
    if args.json:
        print(json.dumps(summary))
    else:
        for problem in summary["problems"][:5]:
            print(f"skipped {problem['path']}: {problem['reason']}", file=sys.stderr)
        print(f"cache: {summary['tracks']} of {len(entries)} tracks ready in {cache.folder} ({summary['decoded']} decoded "
              f"now, {len(problems)} problems)", file=sys.stderr)
    if not summary["tracks"]:  # nothing a run could train on: not a success
        print("error: no track of the config's manifests could be decoded" if entries else
              "error: the config's manifests list no tracks", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _probe(args: argparse.Namespace) -> int:
    from training.probes import ProbeSettings, run_probes

    settings = ProbeSettings(
        tasks=tuple(task.strip() for task in args.tasks.split(",") if task.strip()), hidden_dim=args.hidden_dim,
        max_chunks=args.max_chunks, epochs=args.epochs, lr=args.lr, train_split=args.train_split,
        eval_split=args.eval_split,
    )
    report = run_probes(args.checkpoint, args.manifest, args.cache_dir, args.out, settings, device=args.device)
    if args.json:
        print(json.dumps(report))
    else:
        for task, info in report["tasks"].items():
            print(f"{task}: {info['metrics']}")
    return EXIT_OK


def _export(args: argparse.Namespace, events: EventWriter) -> int:
    events.announce(EXPORTING)
    from training.export import export_model

    checkpoint = args.checkpoint or args.run
    if checkpoint is None:
        reason = "give the run folder (engine train export RUN --out DIR)"
        events.error(reason)
        print(f"error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    folder = export_model(checkpoint, args.out, args.probe, args.name, overwrite=args.overwrite)
    events.done(folder)
    print(f"model folder written: {folder}", file=sys.stderr)
    return EXIT_OK


def _attach_evaluation(args: argparse.Namespace) -> int:
    from training.evaluation.attach import AttachError, attach_evaluation

    try:
        metrics = attach_evaluation(args.model, args.report, args.stage)
    except AttachError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(metrics, indent=2))
    return EXIT_OK


def _calibrate_tags(args: argparse.Namespace) -> int:
    from training.tag_calibration import calibrate, write_calibration

    calibration = calibrate(args.model, args.scores, args.debian)
    write_calibration(args.model, calibration, {"scores": str(args.scores), "debian": str(args.debian),
                                                "split": "val", "real_music_splits": "train+val"})
    for tag, entry in calibration.items():
        state = "shown" if entry["shown"] else f"hidden ({entry['reason']})"
        bound = entry.get("real_fire_rate_bound")
        per_soundtrack = f" (per-soundtrack bound {100 * bound:.0f} %)" if bound is not None else ""
        print(f"{tag}: threshold {entry['threshold']}, AP {entry['held_out_ap']}, fires on "
              f"{100 * entry['real_fire_rate']:.0f} % of reference tracks{per_soundtrack}: {state}", file=sys.stderr)
    if args.json:
        print(json.dumps(calibration, indent=2))
    return EXIT_OK


def _centre_embedding(args: argparse.Namespace) -> int:
    from training.embedding_centre import centre_model

    def progress(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            print(f"reference tracks: {done}/{total}", file=sys.stderr, flush=True)

    summary = centre_model(args.model, args.manifest, args.out, args.split, progress, args.strength)
    print(f"centred on {summary['tracks']} tracks (centre norm {summary['centre_norm']}, strength "
          f"{summary['strength']}): {args.out}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2))
    return EXIT_OK


def _from_library(args: argparse.Namespace, events: EventWriter) -> int:
    """Plan (reported on stderr before training) → train → re-embed → evaluate; the report on stdout."""
    import threading

    from engine.cli_progress import IndexProgressDisplay
    from engine.run_folder import latest_step
    from engine.interrupts import CancelOnInterrupt
    from engine.results import IndexProgress
    from training.from_library import DEFAULT_CONFIG, FromLibrarySettings, LibraryTraining, plan_text, result_text

    events.announce(PLANNING)
    fields = tuple(name.strip().lower() for name in args.labels.split(",") if name.strip())
    settings = FromLibrarySettings(fields, args.name or "", args.min_tracks, args.holdout, args.max_unlabeled,
                                   steps=args.steps, config_path=args.config or DEFAULT_CONFIG)
    say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    with LibraryTraining(settings, args.db, args.base, args.fresh, say=say) as run:
        report = run.report()
        if args.dry_run:
            events.done()
            print(json.dumps(report, indent=2) if args.json else plan_text(report))
            return EXIT_OK
        say(plan_text(report))
        try:
            report["training"] = run.train(events)
        except KeyboardInterrupt:
            events.interrupted(latest_step(run.planned.folders.run_dir))  # the checkpoint just saved
            say("interrupted: checkpoint saved; run the same command again to continue")
            return EXIT_INTERRUPTED
        events.announce(REEMBEDDING)
        say("re-embedding the library with the new model (its own index; the active model is unchanged) ...")
        cancel = threading.Event()

        def show(progress: IndexProgress) -> None:
            display.update(progress)
            events.progress(progress.files_done, progress.files_total)

        with CancelOnInterrupt(cancel), IndexProgressDisplay() as display:
            embedded = run.embed(args.workers, show, cancel)
        report["reembedding"] = embedded.to_json()
        if embedded.cancelled:
            events.interrupted()
            say("interrupted; run the same command again to continue")
            return EXIT_INTERRUPTED
        events.announce(EVALUATING)
        report["evaluation"] = run.evaluate()
        run.write_report(report)
    events.done(run.model_dir)
    print(json.dumps(report, indent=2) if args.json else result_text(report))
    return EXIT_OK


def _known_errors() -> tuple[type[BaseException], ...]:
    from engine.model_folder import ModelLoadError
    from engine.run_folder import RunFolderError
    from training.checkpoints import CheckpointError
    from training.config import ConfigError
    from training.embedding_centre import CentreError
    from training.data import ManifestError
    from training.export import ExportError
    from training.probes import ProbeError
    from engine.library import LibraryError
    from training.from_library import FromLibraryError
    from training.library_labels import NotEnoughLabelsError
    from training.trainer import TrainingError
    from training.corpora.manifest import ManifestReadError
    from training.tag_calibration import TagCalibrationError

    return (CentreError, ConfigError, ManifestError, CheckpointError, ProbeError, ExportError, TrainingError, ModelLoadError,
            LibraryError, FromLibraryError, NotEnoughLabelsError, ManifestReadError, TagCalibrationError, RunFolderError)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "data":
        from training.corpora.cli import main as corpora_main

        return corpora_main(argv[1:])
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:
        return EXIT_OK if stop.code in (0, None) else EXIT_USAGE
    handlers = {"cache": _cache, "pretrain": _train, "finetune": _train, "probe": _probe, "export": _export, "from-library": _from_library,
                "calibrate-tags": _calibrate_tags, "attach-evaluation": _attach_evaluation, "centre-embedding": _centre_embedding}
    try:
        events = _open_events(getattr(args, "events", None))
    except OSError as error:
        print(f"error: cannot write the events file {args.events}: {error.strerror or error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _interrupt_on_stop_signals()  # from the first step: decoding before training stops too, and leaves no process
    with events:
        try:
            handler = handlers[args.command]
            return handler(args, events) if args.command in EVENT_COMMANDS else handler(args)
        except KeyboardInterrupt:
            events.interrupted()
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except _known_errors() as error:
            events.error(str(error))
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except OSError as error:  # a path that cannot be written or read (an --out that is a file, a full disk)
            reason = f"{error.filename}: {error.strerror}" if error.filename and error.strerror else str(error)
            events.error(reason)
            print(f"error: {reason}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except Exception as error:  # a bug: the traceback is for people, the reason for a program reading events
            events.error(f"unexpected {type(error).__name__}: {error}")
            raise


def _open_events(destination: Path | None) -> EventWriter:
    """The writer for ``--events``; under torchrun only rank 0 writes, so a run has one stream."""
    if destination is None or int(os.environ.get("RANK", "0")) != 0:
        return open_events(None)
    return open_events(destination)


if __name__ == "__main__":
    sys.exit(main())
