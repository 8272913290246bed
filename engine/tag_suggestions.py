"""Tag suggestions from a model's tag head: which empty tag fields of a track its labels could fill in.

A model trained from a library's tags (``engine train from-library``) names its tags ``"<field>:<value>"``
("genre:hip hop", "mood:calm", "key:A minor"); a shipped model's tags have no field ("brass") and are never
suggested. A suggestion fills a field only where the track has no value at all: a tag the user wrote is
never second-guessed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # kept light: the CLI imports this module while parsing arguments
    import numpy as np

LABEL_FIELDS = ("genre", "mood", "grouping", "key")  # the tag fields a library-trained model learns from
SUGGESTIBLE_FIELDS = ("genre", "mood", "grouping")  # the ones `engine tag --suggest` may fill in
DEFAULT_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class TagSuggestion:
    """One label proposed for an empty field of a track; ``confidence`` is the head's probability in [0, 1]."""

    field: str  # "genre"
    value: str  # "hip hop"
    confidence: float

    @property
    def label(self) -> str:
        return make_label(self.field, self.value)


def make_label(field: str, value: str) -> str:
    return f"{field}:{value}"


def label_field(label: str) -> str:
    """"genre:rock" → "genre"; a label without a known field (a shipped model's tag) → ""."""
    field, separator, _ = label.partition(":")
    return field if separator and field in LABEL_FIELDS else ""


def label_value(label: str) -> str:
    return label.partition(":")[2] if label_field(label) else label


def suggest_tags(
    tag_names: Sequence[str], tag_probs: np.ndarray | None, filled_fields: set[str], min_confidence: float,
) -> list[TagSuggestion]:
    """Labels of suggestible fields the track leaves empty with probability >= ``min_confidence``, best first.
    ``tag_probs`` (T,) follows ``tag_names``; None or a length mismatch (another model's vector) gives []."""
    if tag_probs is None or len(tag_probs) != len(tag_names):
        return []
    found = [
        TagSuggestion(label_field(name), label_value(name), float(probability))
        for name, probability in zip(tag_names, tag_probs)
        if label_field(name) in SUGGESTIBLE_FIELDS and label_field(name) not in filled_fields
        and probability >= min_confidence
    ]
    return sorted(found, key=lambda suggestion: (-suggestion.confidence, suggestion.label))


def values_by_field(suggestions: Iterable[TagSuggestion]) -> dict[str, list[str]]:
    """Suggestions → the ``{field: [values]}`` that ``tag_writer.write_tags`` takes, in the given order."""
    values: dict[str, list[str]] = {}
    for suggestion in suggestions:
        values.setdefault(suggestion.field, []).append(suggestion.value)
    return values


__all__ = [
    "DEFAULT_MIN_CONFIDENCE", "LABEL_FIELDS", "SUGGESTIBLE_FIELDS", "TagSuggestion", "label_field", "label_value",
    "make_label", "suggest_tags", "values_by_field",
]
