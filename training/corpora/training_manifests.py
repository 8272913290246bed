"""Training manifests derived from the two corpora, so a training run is reproducible from the product's commands.

The corpus manifests describe files (package, license, key, instrumentation); the trainer reads a smaller
schema (``path``, ``split``, ``labels``, ``key``). Four files are written:

- ``labeled.jsonl``: rendered scores of the training splits, labeled with their exact key (``key:A minor``),
  the SemiSupCon labeled part;
- ``unlabeled.jsonl``: game music and rendered scores of the training splits, no labels, the SSL part;
- ``scores_probe.jsonl``: every rendered clip with its tags (instrument families + solo/ensemble) and key,
  all splits, for probes and finetuning (they pick train and test by split);
- ``labeled_soundtracks.jsonl``: game music of the training splits labeled with every real label its files
  carry (multi-label): its soundtrack (``soundtrack:wesnoth-1.16-music``), and where the tags name them the
  artist (``artist:ryan reilly``), the album within the package (``album:supertux-data/forest``) and the genre
  (``genre:death metal``). A labeled part that teaches what sounds alike: tracks of one soundtrack share a
  production, tracks of one composer a hand. Held-out soundtracks stay out.

Held-out test material never enters the first two files, whatever split a config later asks for.

An optional third corpus, the generated tonal music (``engine train data generated``, train and val splits
only), joins ``labeled.jsonl`` with its key, ``unlabeled.jsonl``, and ``scores_probe.jsonl`` with its key and
tags, as the rendered scores do; its labeled records keep ``tempo_bpm`` and ``style``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.tag_suggestions import make_label
from training.corpora.manifest import read_manifest, write_manifest

LABELED_FILE, UNLABELED_FILE, PROBE_FILE = "labeled.jsonl", "unlabeled.jsonl", "scores_probe.jsonl"
SOUNDTRACKS_FILE = "labeled_soundtracks.jsonl"
TRAINING_SPLITS = ("train", "val")


def _relative(record: dict[str, Any], manifest_folder: Path, corpus_folder: Path) -> str:
    """The record's file relative to the manifests' folder, so a data folder can be moved whole. Corpus
    manifests hold paths as the builder was given them (often relative to where it ran); ``relative_path``,
    where present, is relative to the corpus folder."""
    if record.get("relative_path"):
        located = corpus_folder / record["relative_path"]
    else:
        path = Path(record["path"])
        located = path if path.is_absolute() or path.exists() else corpus_folder / path
    return os.path.relpath(located.resolve(), manifest_folder.resolve())


# Tag values that name no artist or genre (placeholders and "this is game music", which every track here is).
_NOT_A_NAME = {"", "<unknown>", "unknown", "(none)", "none", "various", "various artists"}
_NOT_A_GENRE = _NOT_A_NAME | {"game", "game music", "game soundtrack", "soundtrack", "music", "vgm", "sound fx",
                              "other", "misc"}


def game_music_labels(record: dict[str, Any]) -> list[str]:
    """Every real label of one game-music file: soundtrack, then artist (or composer), album and genre where
    its tags name them. Albums are scoped to their package, since names like "forest" or "misc" recur."""
    package = record.get("soundtrack") or record["package"]
    labels = [make_label("soundtrack", package)]
    artist = " ".join(str(record.get("artist") or record.get("composer") or "").split()).lower()
    if artist not in _NOT_A_NAME and "://" not in artist and not artist.startswith("www."):
        labels.append(make_label("artist", artist))
    album = " ".join(str(record.get("album") or "").split()).lower()
    if album not in _NOT_A_NAME:
        labels.append(make_label("album", f"{record['package']}/{album}"))
    genre = " ".join(str(record.get("genre") or "").split()).lower()
    if genre not in _NOT_A_GENRE:
        labels.append(make_label("genre", genre))
    return labels


def _score_tags(record: dict[str, Any]) -> list[str]:
    """Instrument families and the texture; a generated clip states its texture as ``solo`` (a bool)."""
    texture = record.get("texture") or ("solo" if record.get("solo") else "ensemble")
    return sorted(set(record.get("families", []))) + [texture]


def _generated_records(generated_manifest: Path, out: Path) -> tuple[list[dict[str, Any]], ...]:
    """(labeled, unlabeled, probe) records of the generated corpus's training splits; the probe records carry
    the clip's instrument families and texture as tags, as the rendered scores do."""
    generated = [record for record in read_manifest(generated_manifest) if record["split"] in TRAINING_SPLITS]
    if not generated:
        raise ValueError(f"no generated clips in {generated_manifest}; run `engine train data generated` first")
    labeled, unlabeled, probe = [], [], []
    for record in generated:
        path = _relative(record, out, generated_manifest.parent)
        labeled.append({"path": path, "split": record["split"], "key": record["key"],
                        "labels": [make_label("key", record["key"])], "source": record["source"],
                        "tempo_bpm": record["tempo_bpm"], "style": record["style"]})
        unlabeled.append({"path": path, "split": record["split"], "source": record["source"]})
        probe.append({"path": path, "split": record["split"], "key": record["key"],
                      "labels": _score_tags(record),
                      "source": record["source"], "soundfont_held_out": record.get("soundfont_held_out", False)})
    return labeled, unlabeled, probe


def build_training_manifests(scores_manifest: Path, debian_manifest: Path, out: Path,
                             generated_manifest: Path | None = None) -> dict[str, Any]:
    """Write the four manifests into ``out``; returns counts per file and split."""
    out.mkdir(parents=True, exist_ok=True)
    scores = read_manifest(scores_manifest)
    debian = read_manifest(debian_manifest)
    if not scores:
        raise ValueError(f"no rendered clips in {scores_manifest}; run `engine train data scores` first")
    if not debian:
        raise ValueError(f"no game music in {debian_manifest}; run `engine train data debian` first")

    def score_path(record: dict[str, Any]) -> str:
        return _relative(record, out, scores_manifest.parent)

    labeled = [{"path": score_path(record), "split": record["split"], "key": record["key"],
                "labels": [make_label("key", record["key"])], "source": record["source"]}
               for record in scores if record["split"] in TRAINING_SPLITS]
    unlabeled = [{"path": _relative(record, out, debian_manifest.parent), "split": record["split"],
                  "source": record["package"]}
                 for record in debian if record["split"] in TRAINING_SPLITS]
    unlabeled += [{"path": score_path(record), "split": record["split"], "source": record["source"]}
                  for record in scores if record["split"] in TRAINING_SPLITS]
    generated_probe: list[dict[str, Any]] = []
    if generated_manifest is not None:
        generated_labeled, generated_unlabeled, generated_probe = _generated_records(generated_manifest, out)
        labeled += generated_labeled
        unlabeled += generated_unlabeled
    soundtracks = [{"path": _relative(record, out, debian_manifest.parent), "split": record["split"],
                    "labels": game_music_labels(record), "source": record["package"]}
                   for record in debian if record["split"] in TRAINING_SPLITS]
    probe = [{"path": score_path(record), "split": record["split"], "key": record["key"],
              "labels": _score_tags(record), "source": record["source"],
              "soundfont_held_out": record.get("soundfont_held_out", False)}
             for record in scores] + generated_probe

    summary: dict[str, Any] = {}
    for name, records in ((LABELED_FILE, labeled), (UNLABELED_FILE, unlabeled), (PROBE_FILE, probe),
                          (SOUNDTRACKS_FILE, soundtracks)):
        write_manifest(out / name, records)
        counts: dict[str, int] = {}
        for record in records:
            counts[record["split"]] = counts.get(record["split"], 0) + 1
        summary[name] = counts
    return summary
