"""The trainer's reasons in the GUI's own words: what failed, and the control to change instead of a CLI flag.

``engine train`` ends a refused or failed run with an ``error`` event (``engine.training_events``): the reason
and the phase it was in. The reason is written for the command line ("lower --min-tracks"); the Training tab
names its own controls instead, and says which step stopped: a run refused before training exported nothing.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from engine.training_events import EVALUATING, EXPORTING, PLANNING, PREPARING, REEMBEDDING, TRAINING

CONTEXT = "TrainingMessages"
# The command's options and the Training tab control that sets each (shown through translate()).
CONTROL_OF_OPTION = {
    "--min-tracks": QT_TRANSLATE_NOOP("TrainingMessages", "“Min. tracks per value”"),
    "--labels": QT_TRANSLATE_NOOP("TrainingMessages", "the tag fields"),
    "--steps": QT_TRANSLATE_NOOP("TrainingMessages", "“Steps”"),
    "--name": QT_TRANSLATE_NOOP("TrainingMessages", "“Model name”"),
    "--base": QT_TRANSLATE_NOOP("TrainingMessages", "“Base model”"),
    "--model": QT_TRANSLATE_NOOP("TrainingMessages", "“Base model”"),
    "--batch-size": QT_TRANSLATE_NOOP("TrainingMessages", "“Batch size”"),
}
ANY_OTHER_OPTION = QT_TRANSLATE_NOOP("TrainingMessages", "the training settings")
OPTION_PATTERN = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
# What stopped, by the phase the command had announced; "Training failed" when it announced none.
PHASE_FAILURES = {
    PLANNING: QT_TRANSLATE_NOOP("TrainingMessages", "Nothing was trained"),  # refused before training (too few tags)
    PREPARING: QT_TRANSLATE_NOOP("TrainingMessages", "Nothing was trained"),  # the data or config refused, or the
    # audio could not be read
    TRAINING: QT_TRANSLATE_NOOP("TrainingMessages", "Training failed"),
    EXPORTING: QT_TRANSLATE_NOOP("TrainingMessages", "Exporting the model failed"),
    REEMBEDDING: QT_TRANSLATE_NOOP("TrainingMessages", "Analysing the library with the new model failed"),
    EVALUATING: QT_TRANSLATE_NOOP("TrainingMessages", "Measuring the new model on the held-out albums failed"),
}


def in_gui_words(reason: str) -> str:
    """``reason`` with each command-line option replaced by the control that sets it, as a sentence. The reason
    itself is the engine's (English); the controls' names are the app's, in the user's language."""
    text = OPTION_PATTERN.sub(
        lambda match: QCoreApplication.translate(CONTEXT, CONTROL_OF_OPTION.get(match.group(0), ANY_OTHER_OPTION)),
        reason)
    return text[:1].upper() + text[1:] if text else text


def failure_message(phase: str, reason: str, exit_code: int) -> str:
    """``"Nothing was trained: Too little to learn from: … lower “Min. tracks per value”."``"""
    what = QCoreApplication.translate(CONTEXT, PHASE_FAILURES.get(phase, PHASE_FAILURES[TRAINING]))
    if not reason:
        return QCoreApplication.translate(
            "TrainingMessages", "{what} (the trainer stopped with exit code {code}; its output is in the log below)."
        ).format(what=what, code=exit_code)
    sentence = in_gui_words(reason)
    return QCoreApplication.translate("TrainingMessages", "{what}: {reason}").format(what=what, reason=sentence) + (
        "" if sentence.endswith((".", "!", "?")) else ".")
