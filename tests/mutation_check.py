"""Does the suite catch a wrong answer? Re-plants each bug of issue 19's audit in a temporary copy of the
repository and runs the tests that should notice it: every mutation must turn them red.

    .venv/bin/python tests/mutation_check.py            # the committed tree (HEAD)
    .venv/bin/python tests/mutation_check.py --rev REV  # another commit; --only WORD runs the matching bugs

The copy is ``git archive`` of the revision (uncommitted edits are not part of it, nothing in the checkout
changes). It first runs every selected test unmutated (they must pass, or a "catch" would mean nothing), then
each mutation alone. Exit status 0 only when the baseline is green and every mutation is caught.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
PYTEST_ARGUMENTS = ("-q", "-x", "-p", "no:cacheprovider", "--no-header")
PYTEST_TESTS_FAILED = 1  # pytest's exit code when tests ran and some failed; other non-zero codes are errors
RUN_TIMEOUT_SECONDS = 1200


@dataclass(frozen=True)
class Mutation:
    """A planted bug: ``original`` (which must occur exactly once in ``path``) replaced by ``planted``."""

    name: str
    path: str
    original: str
    planted: str
    tests: tuple[str, ...]


MUTATIONS = (
    Mutation("Camelot numbers of Db and Eb major swapped", "engine/keys.py",
             "_CAMELOT_NUMBER_OF_MAJOR = (8, 3, 10, 5,", "_CAMELOT_NUMBER_OF_MAJOR = (8, 5, 10, 3,",
             ("tests/engine/test_key_notation.py",)),
    Mutation("keys_mix_harmonically also accepts +-2 steps on the wheel", "engine/keys.py",
             "return step in (1, 11)", "return step in (1, 2, 10, 11)",
             ("tests/engine/test_key_notation.py",)),
    Mutation("the radio takes the farthest neighbour first", "engine/playlist.py",
             "        for candidate in candidates:\n", "        for candidate in reversed(candidates):\n",
             ("tests/engine/test_similarity_oracle.py",)),
    Mutation("'unchanged' ignores mtime in plan_index", "engine/planner.py",
             "same_stat = previous.size == found.size and previous.mtime_ns == found.mtime_ns",
             "same_stat = previous.size == found.size",
             ("tests/engine/test_rescan.py",)),
    Mutation("safe_replace compares size only (the file just before the replace)", "engine/safe_replace.py",
             "    if now != before:\n", "    if now.size != before.size:\n",
             ("tests/engine/test_tag_writer.py",)),
    Mutation("safe_replace compares size only (the file the caller inspected)", "engine/safe_replace.py",
             "if expected is not None and before != expected:",
             "if expected is not None and before.size != expected.size:",
             ("tests/engine/test_tag_writer.py",)),
    Mutation("tag verify without the audio digest", "engine/tag_writer.py",
             "    if decoded_audio_digest(copy) != original_digest:\n", "    if False:\n",
             ("tests/engine/test_tag_writer.py",)),
    Mutation("quick_hash skips the middle block", "engine/scan.py",
             "{0, max(0, size // 2 - HASH_BLOCK_BYTES // 2), max(0, size - HASH_BLOCK_BYTES)}",
             "{0, max(0, size - HASH_BLOCK_BYTES)}",
             ("tests/engine/test_scan.py",)),
    Mutation("dice loss weights lose their factor 2", "training/losses.py",
             "torch.where(sharing, 2 * shared /", "torch.where(sharing, shared /",
             ("tests/training/test_losses.py",)),
    Mutation("DDP gather backward keeps only its own rank's gradient", "training/losses.py",
             "        dist.all_reduce(gradient, op=dist.ReduceOp.SUM)\n", "        pass\n",
             ("tests/training/test_losses_distributed.py",)),
    Mutation("no optimizer step in training", "training/trainer.py",
             "        self.optimizer.step()\n", "        pass  # the optimizer never steps\n",
             ("tests/training/test_training_run.py::test_pretraining_steps_every_weight_and_lowers_the_loss_of_its_untrained_twin",
              "tests/training/test_training_run.py::test_a_pitch_class_key_path_is_trained_onto_a_frozen_model")),
)


class StaleMutationError(Exception):
    """The code a mutation replaces is no longer in the file (exactly once): the mutation needs updating."""


def export_revision(revision: str, target: Path) -> None:
    """The committed tree of ``revision`` under ``target`` (no .git, no uncommitted edits)."""
    archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", "--format=tar", revision],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def environment_for(copy: Path) -> dict[str, str]:
    """The tests import the copy's packages first (the venv's editable install points at the checkout)."""
    return {**os.environ, "PYTHONPATH": str(copy), "QT_QPA_PLATFORM": "offscreen", "PYTHONDONTWRITEBYTECODE": "1"}


def check_imports_come_from(copy: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", "import engine, training; print(engine.__file__); print(training.__file__)"],
                           cwd=copy, env=environment_for(copy), capture_output=True, text=True, check=True)
    if any(not line.startswith(str(copy)) for line in probe.stdout.split()):
        raise SystemExit(f"the copy's packages are not the ones imported:\n{probe.stdout}")


def run_tests(copy: Path, tests: tuple[str, ...]) -> tuple[int, str, float]:
    """(pytest's exit code, its last summary lines, seconds)."""
    started = time.monotonic()
    completed = subprocess.run([sys.executable, "-m", "pytest", *PYTEST_ARGUMENTS, *tests], cwd=copy,
                               env=environment_for(copy), capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS)
    summary = [line for line in completed.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    tail = completed.stdout.strip().splitlines()[-1:] if completed.stdout.strip() else [completed.stderr.strip()[-200:]]
    return completed.returncode, "; ".join(summary[:1] or tail), time.monotonic() - started


def plant(copy: Path, mutation: Mutation) -> str:
    """Writes the mutated file; returns the original text to put back."""
    path = copy / mutation.path
    text = path.read_text(encoding="utf-8")
    if text.count(mutation.original) != 1:
        raise StaleMutationError(f"{mutation.path}: {mutation.original.strip()!r} occurs {text.count(mutation.original)} times")
    path.write_text(text.replace(mutation.original, mutation.planted), encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="the commit to check (default HEAD)")
    parser.add_argument("--only", default="", help="run only the mutations whose name contains this text")
    arguments = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if arguments.only.lower() in m.name.lower()]
    with tempfile.TemporaryDirectory(prefix="mutation-check-") as folder:
        copy = Path(folder)
        export_revision(arguments.rev, copy)
        check_imports_come_from(copy)
        baseline_tests = tuple(dict.fromkeys(test for mutation in chosen for test in mutation.tests))
        code, summary, seconds = run_tests(copy, baseline_tests)
        print(f"baseline (unmutated, {len(baseline_tests)} test selections): exit {code} in {seconds:.0f} s: {summary}", flush=True)
        if code != 0:
            print("the selected tests fail without any mutation: fix them first")
            return 1
        caught = 0
        for mutation in chosen:
            try:
                original = plant(copy, mutation)
            except StaleMutationError as error:
                print(f"STALE     {mutation.name}: {error}", flush=True)
                continue
            try:
                code, summary, seconds = run_tests(copy, mutation.tests)
            finally:
                (copy / mutation.path).write_text(original, encoding="utf-8")
            verdict = "caught" if code == PYTEST_TESTS_FAILED else ("SURVIVED" if code == 0 else f"ERROR {code}")
            caught += verdict == "caught"
            print(f"{verdict:9} {mutation.name} ({seconds:.0f} s): {summary}", flush=True)
    print(f"{caught} of {len(chosen)} planted bugs caught")
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
