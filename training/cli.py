"""``engine train ...``: pretrain, finetune, probe, export, and ``data`` (forwarded to training.corpora).

Exit codes follow the engine: 0 success, 1 bad input or a failed run (one clear line on stderr),
2 usage, 130 interrupted (a checkpoint was saved; the same command resumes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engine train", description="Train, probe and export SemiSupCon encoders.")
    commands = parser.add_subparsers(dest="command", required=True)

    for name, help_text in (("pretrain", "SemiSupCon pretraining (SSL only without a labeled manifest)"),
                            ("finetune", "supervised encoder + heads, optional SemiSupCon term")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--config", required=name == "pretrain", type=Path, help="TOML file (see training/configs/)")
        command.add_argument("--fresh", action="store_true", help="ignore checkpoints in run.output_dir")
        command.add_argument("--steps", type=int, help="override run.steps")
        command.add_argument("--output-dir", "--output", dest="output_dir", help="override run.output_dir")
        if name == "finetune":
            command.add_argument("--manifest", help="override finetune.manifest")
            command.add_argument("--init-from", help="override finetune.init_from (model folder or run folder)")

    probe = commands.add_parser("probe", help="linear/MLP probes on a frozen encoder (key, tags)")
    probe.add_argument("--checkpoint", required=True, type=Path, help="run folder or checkpoint folder")
    probe.add_argument("--manifest", required=True, type=Path, help="JSONL with split, labels and/or key")
    probe.add_argument("--out", required=True, type=Path, help="probe folder to write")
    probe.add_argument("--cache-dir", type=Path, default=Path("cache/audio"))
    probe.add_argument("--tasks", default="key,tags", help="comma-separated: key, tags")
    probe.add_argument("--hidden-dim", type=int, default=0, help="0 = linear head, else MLP width")
    probe.add_argument("--max-chunks", type=int, default=16)
    probe.add_argument("--epochs", type=int, default=300)
    probe.add_argument("--lr", type=float, default=1e-3)
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

    commands.add_parser("data", help="corpora and manifests (see `engine train data --help`)", add_help=False)
    return parser


def _train(args: argparse.Namespace) -> int:
    import torch.distributed

    from training.config import TrainConfig, load_config
    from training.trainer import Trainer

    config = load_config(args.config) if args.config else TrainConfig()
    if args.command == "finetune":
        config.finetune.manifest = args.manifest or config.finetune.manifest
        config.finetune.init_from = args.init_from if args.init_from is not None else config.finetune.init_from
    if args.steps is not None:
        config.run.steps = args.steps
    if args.output_dir:
        config.run.output_dir = args.output_dir
    trainer = Trainer(config, mode=args.command, fresh=args.fresh)
    try:
        trainer.fit()
    except KeyboardInterrupt:
        print("interrupted: checkpoint saved; run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    if trainer.rank == 0:
        print(f"{args.command}: {trainer.step} steps; run folder {trainer.run_dir}", file=sys.stderr)
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


def _export(args: argparse.Namespace) -> int:
    from training.export import export_model

    checkpoint = args.checkpoint or args.run
    if checkpoint is None:
        print("error: give the run folder (engine train export RUN --out DIR)", file=sys.stderr)
        return EXIT_USAGE
    folder = export_model(checkpoint, args.out, args.probe, args.name)
    print(f"model folder written: {folder}", file=sys.stderr)
    return EXIT_OK


def _known_errors() -> tuple[type[BaseException], ...]:
    from engine.model_folder import ModelLoadError
    from training.checkpoints import CheckpointError
    from training.config import ConfigError
    from training.data import ManifestError
    from training.export import ExportError
    from training.probes import ProbeError
    from training.trainer import TrainingError

    return (ConfigError, ManifestError, CheckpointError, ProbeError, ExportError, TrainingError, ModelLoadError)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "data":
        from training.corpora.cli import main as corpora_main

        return corpora_main(argv[1:])
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:
        return EXIT_OK if stop.code in (0, None) else EXIT_USAGE
    handlers = {"pretrain": _train, "finetune": _train, "probe": _probe, "export": _export}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _known_errors() as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
