"""``engine eval``: evaluate a model folder (or the baselines alone) on the held-out manifests.

    engine eval [--model DIR] [--scores MANIFEST] [--debian MANIFEST] --out DIR
                [--max-clips N] [--max-tracks N] [--no-corruptions] [--no-essentia] [--json]
                [--tonal-test MANIFEST] [--skip-tempo] [--incumbent EVALUATION_JSON]

Tempo: Acc1 / Acc2 on the --tonal-test renders and time-stretch consistency on the --debian test tracks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

# where `engine train data scores` / `debian` put them when run, as the README's commands are, from the folder that
# holds data/ (relative: no machine's own folders in the help)
DEFAULT_SCORES_MANIFEST = Path("data/scores/manifest.jsonl")
DEFAULT_DEBIAN_MANIFEST = Path("data/debian/manifest.jsonl")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engine eval", description="Held-out evaluation report (Markdown + JSON).")
    parser.add_argument("--model", type=Path, help="model folder; without it only the baselines are evaluated")
    parser.add_argument("--scores", type=Path, help=f"rendered-score manifest (default {DEFAULT_SCORES_MANIFEST} in the "
                        "working folder, when it is there)")
    parser.add_argument("--debian", type=Path, help=f"game-music manifest (default {DEFAULT_DEBIAN_MANIFEST} in the "
                        "working folder, when it is there)")
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--max-clips", type=int, help="evaluate a seeded sample of held-out renders")
    parser.add_argument("--max-tracks", type=int, help="evaluate a seeded sample of held-out tracks")
    parser.add_argument("--no-corruptions", action="store_true")
    parser.add_argument("--no-essentia", action="store_true")
    parser.add_argument("--skip-renders", action="store_true")
    parser.add_argument("--skip-soundtracks", action="store_true")
    parser.add_argument("--tonal-test", type=Path, metavar="MANIFEST",
                        help="also score key on the tonal test set (`engine train data tonal-test`), with error kinds")
    parser.add_argument("--skip-tempo", action="store_true",
                        help="no tempo section (renders of --tonal-test; stretched excerpts of --debian tracks)")
    parser.add_argument("--incumbent", type=Path, metavar="EVALUATION_JSON",
                        help="the shipped model's evaluation.json made in the same conditions: adds the floors a new "
                        "default model must clear and the targets it is measured against")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    return parser


def main(argv: list[str]) -> int:
    """Entry point forwarded from ``engine eval``; returns the exit code."""
    arguments = _parser().parse_args(argv)
    if arguments.out.exists() and not arguments.out.is_dir():  # found before an hour of evaluation, not after
        print(f"error: --out {arguments.out} is a file, not a report folder", file=sys.stderr)
        return 1
    for named in (arguments.scores, arguments.debian, arguments.tonal_test, arguments.incumbent):
        if named is not None and not named.is_file():  # a typo found now, not after the renders are scored
            print(f"error: {named}: no such file", file=sys.stderr)
            return 1
    from engine.model_folder import ModelLoadError, load_model
    from training.corpora.manifest import ManifestReadError, read_given_manifest
    from training.evaluation.evaluate import EvaluationSettings, evaluate_renders, evaluate_soundtracks
    from training.evaluation.report import write_report

    try:
        loaded = load_model(arguments.model) if arguments.model else None
    except ModelLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    results: dict = {"model": loaded.config.name if loaded else "baselines only",
                     "command": "engine eval " + " ".join(argv)}
    if loaded:
        results["weights_sha256"] = loaded.weights_sha256  # which weights were measured, not only their name
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True)) as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            tasks.setdefault(stage, progress.add_task(stage, total=total))
            progress.update(tasks[stage], completed=done)

        settings = EvaluationSettings(max_clips=arguments.max_clips, max_tracks=arguments.max_tracks,
                                      corruptions=() if arguments.no_corruptions else EvaluationSettings().corruptions,
                                      essentia=not arguments.no_essentia, progress=report)
        try:
            if not arguments.skip_renders:
                results["renders"] = evaluate_renders(_records(arguments.scores, DEFAULT_SCORES_MANIFEST), loaded,
                                                      settings)
            if not arguments.skip_soundtracks:
                results["soundtracks"] = evaluate_soundtracks(_records(arguments.debian, DEFAULT_DEBIAN_MANIFEST),
                                                              loaded, settings)
            if arguments.tonal_test:
                from training.evaluation.key_breakdown import TonalTestManifestError, evaluate_tonal_test

                try:
                    results["tonal_test"] = evaluate_tonal_test(read_given_manifest(arguments.tonal_test), loaded,
                                                                settings)
                except TonalTestManifestError as error:
                    print(f"error: {error}", file=sys.stderr)
                    return 1
            if not arguments.skip_tempo:
                results["tempo"] = _tempo_results(arguments, settings)
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
            return 130
        except ManifestReadError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    if arguments.incumbent:
        from training.evaluation.floors import checks_json, floor_checks, floors_hold

        try:
            incumbent = json.loads(arguments.incumbent.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"error: cannot read {arguments.incumbent}: {error}", file=sys.stderr)
            return 1
        checks = floor_checks(results, incumbent)
        results["floors"] = {"incumbent": incumbent.get("model", "?"), "incumbent_report": str(arguments.incumbent),
                             "all_floors_hold": floors_hold(checks), "checks": checks_json(checks)}
    json_path, markdown_path = write_report(results, arguments.out)
    print(f"report: {markdown_path} and {json_path}", file=sys.stderr)
    if arguments.json:
        print(json.dumps(results, indent=2, default=float))
    return 0


def _tempo_results(arguments, settings) -> dict:
    """The tempo section: renders when a tonal test manifest is given; stretched excerpts of the game-music test
    tracks (even with --skip-soundtracks, which skips the key and similarity figures on them)."""
    from training.corpora.manifest import read_given_manifest
    from training.evaluation.tempo_eval import evaluate_tempo_renders, evaluate_tempo_stretch

    tempo: dict = {}
    if arguments.tonal_test:
        tempo["renders"] = evaluate_tempo_renders(read_given_manifest(arguments.tonal_test), settings.essentia,
                                                  arguments.max_clips, settings.seed, settings.progress)
    tempo["stretch"] = evaluate_tempo_stretch(_records(arguments.debian, DEFAULT_DEBIAN_MANIFEST), settings.essentia,
                                              arguments.max_tracks, settings.seed, settings.progress)
    return tempo


def _records(given: Path | None, default: Path) -> list[dict]:
    """A manifest named on the command line must be there and readable (``read_given_manifest``); the default one
    is read when it is there, so a machine without that corpus evaluates what it has."""
    from training.corpora.manifest import read_given_manifest

    if given is None and not default.exists():
        return []
    return read_given_manifest(given if given is not None else default)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

