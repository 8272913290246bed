"""Labels from a library's own file tags: normalise, split and alias tag values, drop rare ones, hold out albums.

A label is ``"<field>:<value>"`` (``"genre:hip hop"``, ``"mood:calm"``, ``"key:A minor"``; the convention is
``engine.tag_suggestions``'s, which reads it back), so the values of two fields never merge.

Normalisation: Unicode NFKC, case-folded, ``-``/``_`` read as spaces, runs of white space folded. Genre,
mood and grouping values are split on ``; / , | \\`` and NUL (ID3 multi-values), except where the whole
value is in the alias table ("singer/songwriter"); "&", "and" and "+" never split ("Drum & Bass"). ID3v1
genre numbers ("(17)", "17") become their names. The alias table (``ALIASES``) is deliberately short: it
only merges spellings of *one* genre ("hiphop", "hip-hop" → "hip hop"; "rnb" → "r&b"; "dnb", "drum & bass"
→ "drum and bass"), never related genres ("electronica" stays apart from "electronic", "rap" from "hip
hop"). Key tags are read with ``engine.keys.parse_key`` ("Am", "8A", "1m" → "A minor"); unreadable ones
are ignored.

Everything here is pure: the caller reads tracks from the store and writes manifests.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any, Iterable

from engine.keys import parse_key
from engine.records import TaggedTrack  # noqa: F401 (re-exported: what the plan reads of a track)
from engine.tag_suggestions import LABEL_FIELDS, label_field, label_value, make_label  # noqa: F401 (re-exported)

SEPARATORS = re.compile(r"[;/,|\\\x00]")
ID3V1_NUMBER = re.compile(r"^\(?(\d{1,3})\)?(.*)$")  # "17", "(17)", "(17)Rock" (ID3v2.3)
DEFAULT_MIN_TRACKS = 10
DEFAULT_HOLDOUT_SHARE = 0.2
DEFAULT_MAX_UNLABELED = 1000  # untagged tracks sampled for training (bounds the audio cache and decode time)
MIN_LABELS = 2  # fewer distinct labels give the contrastive term nothing to separate
MIN_LABELED_TRACKS = 10
MIN_HELD_OUT_TRACKS = 2

# Spellings of one genre (after normalisation: lower case, "-" and "_" as spaces) → the label used.
ALIASES = {
    "hiphop": "hip hop", "hip hop": "hip hop",
    "rnb": "r&b", "r n b": "r&b", "r'n'b": "r&b", "r and b": "r&b", "r & b": "r&b", "rhythm and blues": "r&b",
    "rhythm & blues": "r&b",
    "dnb": "drum and bass", "d&b": "drum and bass", "d & b": "drum and bass", "drum & bass": "drum and bass",
    "drum n bass": "drum and bass", "drum'n'bass": "drum and bass", "drum 'n' bass": "drum and bass",
    "drumnbass": "drum and bass",
    "rock & roll": "rock and roll", "rock n roll": "rock and roll", "rock'n'roll": "rock and roll",
    "rock 'n' roll": "rock and roll", "rocknroll": "rock and roll",
    "triphop": "trip hop",
    "synthpop": "synth pop",
    "lofi": "lo fi",
    "postrock": "post rock",
    "kpop": "k pop", "jpop": "j pop",
    "ost": "soundtrack", "original soundtrack": "soundtrack",
    "singer/songwriter": "singer songwriter", "singer songwriter": "singer songwriter",
}


class NotEnoughLabelsError(ValueError):
    """The library's tags give too little to learn from; the message says what was found and what is needed."""


def normalise_value(text: str) -> str:
    """One tag value in comparable form: NFKC, case-folded, "-"/"_" as spaces, white space folded, aliases applied."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("_", " ").replace("-", " ")
    folded = " ".join(folded.split()).strip(" .")
    return ALIASES.get(folded, folded)


def _id3v1_genre(value: str) -> str:
    from mutagen._constants import GENRES

    match = ID3V1_NUMBER.match(value.strip())
    if match is None:
        return value
    if match.group(2).strip():
        return match.group(2) if value.strip().startswith("(") else value
    number = int(match.group(1))
    return GENRES[number] if number < len(GENRES) else value


def field_values(field_name: str, raw: str | None) -> list[str]:
    """The normalised values of one tag field of one track (empty when the tag is missing or unreadable)."""
    if raw is None or not raw.strip():
        return []
    if field_name == "key":
        key = parse_key(raw)
        return [key.name] if key else []
    if field_name == "genre":
        raw = _id3v1_genre(raw)
    whole = normalise_value(raw)
    if whole in ALIASES.values() or whole in ALIASES:
        return [whole]
    pieces = [normalise_value(_id3v1_genre(piece) if field_name == "genre" else piece) for piece in SEPARATORS.split(raw)]
    return list(dict.fromkeys(piece for piece in pieces if piece))


def track_labels(track: TaggedTrack, fields: Iterable[str]) -> list[str]:
    """Every ``field:value`` label of one track for the chosen fields, in field order."""
    labels = []
    for field_name in fields:
        raw = track.tag_key if field_name == "key" else getattr(track, field_name)
        labels += [make_label(field_name, value) for value in field_values(field_name, raw)]
    return labels


def album_group(track: TaggedTrack) -> str:
    """What may not sit on both sides of the hold-out: the album (with its album artist), else the folder."""
    if track.album and track.album.strip():
        return f"album:{normalise_value(track.album_artist or '')}|{normalise_value(track.album)}"
    return f"folder:{PurePath(track.path).parent}"


@dataclass
class LabelPlan:
    """The labeled / unlabeled / held-out split of a library, and what was found (for the report)."""

    fields: list[str]
    min_tracks: int
    labels_by_track: dict[int, list[str]]  # kept labels of every labeled track (train and held out)
    label_counts: dict[str, int]  # kept labels → tracks
    dropped_counts: dict[str, int]  # labels with fewer than ``min_tracks`` tracks
    train_labeled: list[int]
    held_out: list[int]  # labeled tracks of the held-out albums
    unlabeled: list[int]  # tracks without a kept label, outside the held-out albums, sampled to max_unlabeled
    held_out_groups: list[str]
    total_tracks: int
    excluded: list[int] = field(default_factory=list)  # unlabeled tracks of held-out albums (in neither side)
    unlabeled_not_sampled: int = 0

    @property
    def labels(self) -> list[str]:
        return sorted(self.label_counts)

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        values["labels_by_track"] = {str(track): labels for track, labels in self.labels_by_track.items()}
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> "LabelPlan":
        labels_by_track = {int(track): labels for track, labels in values["labels_by_track"].items()}
        return cls(**{**values, "labels_by_track": labels_by_track})

    def summary(self) -> dict[str, Any]:
        """The JSON report: labels with counts (train / held out), labeled share, held-out albums."""
        train = Counter(label for track in self.train_labeled for label in self.labels_by_track[track])
        held = Counter(label for track in self.held_out for label in self.labels_by_track[track])
        labeled = len(self.train_labeled) + len(self.held_out)
        return {
            "fields": self.fields,
            "min_tracks": self.min_tracks,
            "tracks": self.total_tracks,
            "labeled_tracks": labeled,
            "labeled_share": round(labeled / self.total_tracks, 4) if self.total_tracks else 0.0,
            "train_labeled_tracks": len(self.train_labeled),
            "held_out_tracks": len(self.held_out),
            "held_out_albums": len(self.held_out_groups),
            "unlabeled_tracks": len(self.unlabeled),
            "unlabeled_not_sampled": self.unlabeled_not_sampled,
            "excluded_tracks": len(self.excluded),
            "labels": [
                {"label": label, "tracks": count, "train": train[label], "held_out": held[label]}
                for label, count in sorted(self.label_counts.items(), key=lambda item: (-item[1], item[0]))
            ],
            "dropped_labels": [
                {"label": label, "tracks": count}
                for label, count in sorted(self.dropped_counts.items(), key=lambda item: (-item[1], item[0]))
            ],
        }


def plan_labels(
    tracks: list[TaggedTrack], fields: list[str], min_tracks: int = DEFAULT_MIN_TRACKS,
    holdout_share: float = DEFAULT_HOLDOUT_SHARE, seed: int = 0, max_unlabeled: int = DEFAULT_MAX_UNLABELED,
) -> LabelPlan:
    """Labels per track (rare ones dropped), then whole albums held out until ``holdout_share`` of the labeled
    tracks is reached, never taking a label's last training album; at most ``max_unlabeled`` untagged tracks
    (a seeded sample) train. Raises ``NotEnoughLabelsError``."""
    unknown = [name for name in fields if name not in LABEL_FIELDS]
    if unknown or not fields:
        raise NotEnoughLabelsError(f"unknown label field(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(LABEL_FIELDS)}")
    raw_labels = {track.id: track_labels(track, fields) for track in tracks}
    counts = Counter(label for labels in raw_labels.values() for label in labels)
    kept = {label: count for label, count in counts.items() if count >= min_tracks}
    dropped = {label: count for label, count in counts.items() if count < min_tracks}
    labels_by_track = {
        track_id: [label for label in labels if label in kept] for track_id, labels in raw_labels.items()
    }
    labels_by_track = {track_id: labels for track_id, labels in labels_by_track.items() if labels}
    _check_enough(kept, counts, labels_by_track, fields, min_tracks)

    groups: dict[str, list[int]] = {}
    for track in tracks:
        groups.setdefault(album_group(track), []).append(track.id)
    labeled_groups = sorted(group for group, members in groups.items() if any(t in labels_by_track for t in members))
    if len(labeled_groups) < 2:
        raise NotEnoughLabelsError(
            f"all {len(labels_by_track)} tagged tracks are in one album or folder: nothing can be held out by album "
            "to measure the result; tag tracks of more albums"
        )
    random.Random(seed).shuffle(labeled_groups)
    held_groups = _held_out_groups(labeled_groups, groups, labels_by_track, holdout_share * len(labels_by_track))
    held_count = sum(1 for group in held_groups for t in groups[group] if t in labels_by_track)
    if held_count < MIN_HELD_OUT_TRACKS:
        raise NotEnoughLabelsError(
            f"cannot hold out at least {MIN_HELD_OUT_TRACKS} tagged tracks by album without taking a label's last "
            "album: tag more albums"
        )
    held_members = {t for group in held_groups for t in groups[group]}
    # By path, not by track id: ids follow the order an index run happened to store its tracks (parallel decoding),
    # so a plan made from id order sampled and ordered the training tracks differently on every fresh library.
    order = [track.id for track in sorted(tracks, key=lambda track: track.path)]
    unlabeled = [t for t in order if t not in labels_by_track and t not in held_members]
    sampled = set(random.Random(seed).sample(unlabeled, min(len(unlabeled), max(0, max_unlabeled))))
    return LabelPlan(
        fields=list(fields), min_tracks=min_tracks, labels_by_track=labels_by_track, label_counts=kept,
        dropped_counts=dropped,
        train_labeled=[t for t in order if t in labels_by_track and t not in held_members],
        held_out=[t for t in order if t in labels_by_track and t in held_members],
        unlabeled=[t for t in unlabeled if t in sampled],
        held_out_groups=held_groups, total_tracks=len(tracks),
        excluded=[t for t in order if t not in labels_by_track and t in held_members],
        unlabeled_not_sampled=len(unlabeled) - len(sampled),
    )


def _held_out_groups(
    shuffled_groups: list[str], groups: dict[str, list[int]], labels_by_track: dict[int, list[str]], target: float,
) -> list[str]:
    """Albums taken in turn for each label (rarest label first, each label's albums in ``shuffled_groups`` order)
    until ``target`` tagged tracks are held out, so every label is evaluated; an album that is some label's last
    one on the training side stays there."""
    labels_of = {group: _group_labels(groups[group], labels_by_track) for group in shuffled_groups}
    train_albums = Counter(label for labels in labels_of.values() for label in labels)
    queues = {label: [group for group in shuffled_groups if label in labels_of[group]]
              for label in sorted(train_albums, key=lambda label: (train_albums[label], label))}
    held: list[str] = []
    held_count = 0
    while held_count < target:
        taken = False
        for queue in queues.values():
            while queue and held_count < target:
                group = queue.pop(0)
                if group in held or any(train_albums[label] <= 1 for label in labels_of[group]):
                    continue
                held.append(group)
                held_count += sum(1 for track in groups[group] if track in labels_by_track)
                train_albums.subtract(labels_of[group])
                taken = True
                break
        if not taken:
            break
    return held


def _group_labels(members: list[int], labels_by_track: dict[int, list[str]]) -> set[str]:
    return {label for track in members for label in labels_by_track.get(track, [])}


def _check_enough(kept: dict[str, int], counts: Counter, labels_by_track: dict, fields: list[str], min_tracks: int) -> None:
    if len(kept) < MIN_LABELS:
        found = ", ".join(f"{label} ({count})" for label, count in counts.most_common(5)) or "no tags at all"
        raise NotEnoughLabelsError(
            f"too little to learn from: {len(kept)} {'/'.join(fields)} label(s) with at least {min_tracks} tracks, "
            f"{MIN_LABELS} needed (most common: {found}); tag more tracks or lower --min-tracks"
        )
    if len(labels_by_track) < MIN_LABELED_TRACKS:
        raise NotEnoughLabelsError(
            f"too little to learn from: {len(labels_by_track)} tagged tracks, {MIN_LABELED_TRACKS} needed"
        )


__all__ = [
    "ALIASES", "DEFAULT_HOLDOUT_SHARE", "DEFAULT_MAX_UNLABELED", "DEFAULT_MIN_TRACKS", "LABEL_FIELDS", "LabelPlan", "NotEnoughLabelsError",
    "TaggedTrack", "album_group", "field_values", "label_field", "label_value",
    "normalise_value", "plan_labels", "track_labels",
]
