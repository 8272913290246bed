"""Which tags of a model are worth showing: per-tag thresholds from the model's held-out evaluation.

A tag head can fire on nearly everything in real music (a "choir" above 0.5 on 75 of 90 game tracks);
such a tag tells tracks apart no better than no tag. A model folder may carry, in ``config.json`` at
``heads.tags.calibration``, one entry per label: ``{"threshold": float, "shown": bool, "held_out_ap":
float, "real_fire_rate": float}``. A tag is informative for a track when its label is ``shown`` and its
probability reaches its ``threshold``. A model without calibration keeps the plain probabilities (every
tag shown, as before), so older model folders read as they always did.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILE_NAME = "config.json"


class TagCalibrationError(ValueError):
    """A calibration entry that is not a mapping with a numeric threshold."""


@dataclass(frozen=True)
class TagCalibration:
    """One label's calibration from the held-out evaluation; ``shown`` False means never show it."""

    threshold: float
    shown: bool
    held_out_ap: float | None = None
    real_fire_rate: float | None = None


Calibrations = dict[str, TagCalibration]


def calibration_from_tag_head(tag_head: Mapping[str, Any] | None) -> Calibrations | None:
    """The ``calibration`` of a config's ``heads.tags`` entry, or None when the model has none."""
    entries = (tag_head or {}).get("calibration")
    if not entries:
        return None
    calibrations: Calibrations = {}
    for label, entry in entries.items():
        try:
            calibrations[str(label)] = TagCalibration(
                threshold=float(entry["threshold"]), shown=bool(entry.get("shown", True)),
                held_out_ap=_optional_float(entry.get("held_out_ap")),
                real_fire_rate=_optional_float(entry.get("real_fire_rate")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise TagCalibrationError(f"tag calibration of {label!r}: {entry!r} ({error})") from None
    return calibrations


def load_tag_calibration(model_folder: Path | str) -> Calibrations | None:
    """Read ``heads.tags.calibration`` from a model folder's config.json (None when absent)."""
    path = Path(model_folder) / CONFIG_FILE_NAME
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TagCalibrationError(f"{path}: {error}") from None
    return calibration_from_tag_head(config.get("heads", {}).get("tags"))


def informative_tags(tags: Mapping[str, float] | Iterable[tuple[str, float]],
                     calibrations: Calibrations | None) -> list[tuple[str, float]]:
    """``(name, probability)`` pairs worth showing, most probable first.

    Without calibration every tag is kept. With it, a tag is kept when its label is shown and its
    probability reaches the label's threshold; a label the calibration does not list is not shown.
    """
    pairs = list(tags.items()) if isinstance(tags, Mapping) else [(name, p) for name, p in tags]
    ordered = sorted(((str(name), float(p)) for name, p in pairs), key=lambda pair: -pair[1])
    if calibrations is None:
        return ordered
    return [(name, p) for name, p in ordered
            if name in calibrations and calibrations[name].shown and p >= calibrations[name].threshold]


def calibrated_probability(probability: float, threshold: float) -> float:
    """The probability moved on the logit scale so that the label's threshold lands on 0.5: a reader who
    thresholds at 0.5 (as most do) then gets the calibrated decision, and the order of tracks is unchanged."""
    def logit(value: float) -> float:
        value = min(max(value, 1e-6), 1.0 - 1e-6)
        return math.log(value / (1.0 - value))

    return 1.0 / (1.0 + math.exp(-(logit(probability) - logit(threshold))))


def shown_tag_probabilities(tags: Mapping[str, float], calibrations: Calibrations | None) -> dict[str, float]:
    """The tags a model asserts, as ``engine tag`` reports them: without calibration every tag with its plain
    probability; with it only the shown labels, each with its calibrated probability."""
    if calibrations is None:
        return {name: float(p) for name, p in tags.items()}
    return {name: calibrated_probability(float(p), calibrations[name].threshold) for name, p in tags.items()
            if name in calibrations and calibrations[name].shown}


def has_shown_tags(calibrations: Calibrations | None) -> bool:
    """False when a calibrated model has no label worth showing at all (its tags would only mislead)."""
    return calibrations is None or any(entry.shown for entry in calibrations.values())


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
