"""``engine train data ...``: build the corpora into a data folder outside the repository.

    engine train data scores --out DIR [--train-hours H] [--val-hours H] [--test-hours H] [--workers N]
    engine train data debian --out DIR [--packages P ...] [--skip P ...] [--test-packages P ...]
    engine train data generated --out DIR [--hours H] [--seed S] [--workers N] [--styles STYLE...]
                                [--tempo-range LOW HIGH]
    engine train data manifests --scores FILE --debian FILE [--generated FILE] --out DIR
    engine train data tonal-test --out DIR [--pieces N] [--seed S] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engine train data", description="Build training/evaluation corpora.")
    commands = parser.add_subparsers(dest="command", required=True)
    scores = commands.add_parser("scores", help="render music21 scores with exact key/instrument labels")
    scores.add_argument("--out", type=Path, required=True)
    scores.add_argument("--train-hours", type=float, default=5.0)
    scores.add_argument("--val-hours", type=float, default=0.5)
    scores.add_argument("--test-hours", type=float, default=1.0)
    scores.add_argument("--workers", type=int, default=2)
    scores.add_argument("--seed", type=int, default=5)
    scores.add_argument("--json", action="store_true", help="print the summary as JSON")
    debian = commands.add_parser("debian", help="fetch free game soundtracks from Debian packages")
    debian.add_argument("--out", type=Path, required=True)
    debian.add_argument("--packages", nargs="*", help="only these packages (default: all known)")
    debian.add_argument("--skip", nargs="*", default=[], help="leave these packages out")
    debian.add_argument("--test-packages", nargs="*", help="soundtracks held out whole as the test split")
    debian.add_argument("--json", action="store_true")
    generated = commands.add_parser("generated", help="render procedural tonal music with exact key and tempo labels")
    generated.add_argument("--out", type=Path, required=True)
    generated.add_argument("--hours", type=float, default=4.0)
    generated.add_argument("--seed", type=int, default=11)
    generated.add_argument("--workers", type=int, default=2)
    generated.add_argument("--styles", nargs="+", metavar="STYLE",
                           help="the styles clips are dealt from (default: the ten of the default corpus); also "
                                "breakbeat (drum & bass, 160-180 BPM) and hiphop (70-100 BPM), which only a corpus "
                                "that names them plays")
    generated.add_argument("--tempo-range", type=int, nargs=2, metavar=("LOW", "HIGH"),
                           help="draw every clip's tempo log-uniformly in LOW-HIGH BPM whatever its style (default: "
                                "each style's own range)")
    generated.add_argument("--json", action="store_true")
    manifests = commands.add_parser("manifests", help="training manifests (labeled, unlabeled, scores_probe) from both corpora")
    manifests.add_argument("--scores", type=Path, required=True, help="manifest.jsonl written by `data scores`")
    manifests.add_argument("--debian", type=Path, required=True, help="manifest.jsonl written by `data debian`")
    manifests.add_argument("--generated", type=Path, help="manifest.jsonl written by `data generated` (optional): its "
                           "clips join the key-labeled and unlabeled manifests")
    manifests.add_argument("--out", type=Path, required=True, help="folder for the training manifests")
    manifests.add_argument("--json", action="store_true")
    tonal = commands.add_parser("tonal-test", help="the independent tonal key TEST set (held-out sound font, evaluation only)")
    tonal.add_argument("--out", type=Path, required=True, help="folder for the audio, MIDI and manifest.jsonl")
    tonal.add_argument("--pieces", type=int, default=240, help="pieces 0..N-1 (24 keys balanced per 24 pieces)")
    tonal.add_argument("--seed", type=int, default=20)
    tonal.add_argument("--workers", type=int, default=2)
    tonal.add_argument("--json", action="store_true")
    return parser


class _RichProgress:
    """Adapter from the corpus builders' (stage, done, total) callbacks to one rich progress bar per stage."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=total)
        self._progress.update(self._tasks[stage], completed=done, total=total)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=False, redirect_stdout=False)


def _run_scores(arguments: argparse.Namespace) -> dict:
    from training.corpora.score_corpus import build_score_corpus
    from training.corpora.score_plan import ScoreCorpusConfig

    hours = {"train": arguments.train_hours, "val": arguments.val_hours, "test": arguments.test_hours}
    with _progress() as progress:
        return build_score_corpus(arguments.out, hours, arguments.workers, ScoreCorpusConfig(seed=arguments.seed),
                                  _RichProgress(progress))


def _run_debian(arguments: argparse.Namespace) -> dict:
    from training.corpora.game_music import DEFAULT_TEST_PACKAGES, GAME_MUSIC_PACKAGES, build_game_music_corpus

    names = arguments.packages or [package.name for package in GAME_MUSIC_PACKAGES]
    names = [name for name in names if name not in set(arguments.skip)]
    test_packages = arguments.test_packages if arguments.test_packages is not None else list(DEFAULT_TEST_PACKAGES)
    with _progress() as progress:
        return build_game_music_corpus(arguments.out, names, test_packages, _RichProgress(progress))


def _run_generated(arguments: argparse.Namespace) -> dict:
    from training.corpora.tonal_corpus import build_tonal_corpus
    from training.corpora.tonal_plan import TonalCorpusConfig

    with _progress() as progress:
        options = {"styles": tuple(arguments.styles)} if arguments.styles else {}
        if arguments.tempo_range:
            options["tempo_range"] = tuple(arguments.tempo_range)
        return build_tonal_corpus(arguments.out, arguments.hours, arguments.workers,
                                  TonalCorpusConfig(seed=arguments.seed, **options), _RichProgress(progress))


def _run_manifests(arguments: argparse.Namespace) -> dict:
    from training.corpora.training_manifests import build_training_manifests

    return build_training_manifests(arguments.scores, arguments.debian, arguments.out, arguments.generated)


def _run_tonal_test(arguments: argparse.Namespace) -> dict:
    from training.evaluation.tonal_test_set import build_tonal_test_set

    with _progress() as progress:
        return build_tonal_test_set(arguments.out, arguments.pieces, arguments.seed, arguments.workers,
                                    _RichProgress(progress))


def main(argv: list[str]) -> int:
    """Entry point forwarded from ``engine train data``; returns the exit code."""
    arguments = _parser().parse_args(argv)
    try:
        run = {"scores": _run_scores, "debian": _run_debian, "generated": _run_generated,
               "manifests": _run_manifests, "tonal-test": _run_tonal_test}[arguments.command]
        summary = run(arguments)
    except KeyboardInterrupt:
        print("stopped; run the same command again to resume", file=sys.stderr)
        return 130
    except (OSError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if arguments.json:
        print(json.dumps(summary, indent=2))
    else:
        print(json.dumps(summary, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
