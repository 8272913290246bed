"""The trainer's reasons in the GUI's own words: what failed, and the control to change instead of a CLI flag.

``engine train`` ends a refused or failed run with an ``error`` event (``engine.training_events``): the reason
and the phase it was in. The reason is written for the command line ("lower --min-tracks"); the Training tab
names its own controls instead, and says which step stopped: a run refused before training exported nothing.
"""

from __future__ import annotations

import re

from engine.training_events import EVALUATING, EXPORTING, PLANNING, PREPARING, REEMBEDDING, TRAINING

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
# What stopped, by the phase the command had announced; "Training failed" when it announced none.
PHASE_FAILURES = {
    PLANNING: "Nothing was trained",  # refused before training started (e.g. too few tags)
    PREPARING: "Nothing was trained",  # the data or the config refused, or the audio could not be read
    TRAINING: "Training failed",
    EXPORTING: "Exporting the model failed",
    REEMBEDDING: "Analysing the library with the new model failed",
    EVALUATING: "Measuring the new model on the held-out albums failed",
}


def in_gui_words(reason: str) -> str:
    """``reason`` with each command-line option replaced by the control that sets it, as a sentence."""
    text = OPTION_PATTERN.sub(lambda match: CONTROL_OF_OPTION.get(match.group(0), "the training settings"), reason)
    return text[:1].upper() + text[1:] if text else text


def failure_message(phase: str, reason: str, exit_code: int) -> str:
    """``"Nothing was trained: Too little to learn from: … lower “Min. tracks per value”."``"""
    what = PHASE_FAILURES.get(phase, "Training failed")
    if not reason:
        return f"{what} (the trainer stopped with exit code {exit_code}; its output is in the log below)."
    sentence = in_gui_words(reason)
    return f"{what}: {sentence}" + ("" if sentence.endswith((".", "!", "?")) else ".")
