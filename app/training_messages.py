"""The trainer's reasons in the GUI's own words: what failed, and the control to change instead of a CLI flag.

``engine train`` ends a refused or failed run with one ``error: reason`` line (exit code 1). The reason is
written for the command line ("lower --min-tracks"); the Training tab names its own controls instead, and
says which step stopped: a run refused before training has exported nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ERROR_PREFIX = "error:"
# The command's options and the Training tab control that sets each.
CONTROL_OF_OPTION = {
    "--min-tracks": "“Min. tracks per value”",
    "--labels": "the tag fields",
    "--steps": "“Steps”",
    "--name": "“Model name”",
    "--base": "“Base model”",
    "--model": "“Base model”",
    "--batch-size": "“Batch size”",
}
OPTION_PATTERN = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
# What stopped, by the step the run was in (stage, or the phase `train from-library` had announced).
STEP_FAILURES = {
    "": "Nothing was trained",  # refused before training started (e.g. too few tags)
    "finetuning": "Training failed",
    "exporting": "Exporting the model failed",
    "re-embedding": "Analysing the library with the new model failed",
    "train": "Training failed",
    "export": "Exporting the model failed",
}


def engine_reason(output_lines: Iterable[str]) -> str:
    """The reason from the command's output: its last ``error:`` line, else its last line ("" when silent)."""
    lines = [line.strip() for line in output_lines if line.strip()]
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    if errors:
        return errors[-1][len(ERROR_PREFIX):].strip()
    return lines[-1] if lines else ""


def in_gui_words(reason: str) -> str:
    """``reason`` with each command-line option replaced by the control that sets it, as a sentence."""
    text = OPTION_PATTERN.sub(lambda match: CONTROL_OF_OPTION.get(match.group(0), "the training settings"), reason)
    return text[:1].upper() + text[1:] if text else text


def failure_message(step: str, reason: str, exit_code: int) -> str:
    """``"Nothing was trained: Too little to learn from: … lower “Min. tracks per value”."``"""
    what = STEP_FAILURES.get(step, "Training failed")
    if not reason:
        return f"{what} (the trainer stopped with exit code {exit_code}; its output is in the log below)."
    sentence = in_gui_words(reason)
    return f"{what}: {sentence}" + ("" if sentence.endswith((".", "!", "?")) else ".")
