"""Retrieval through the product itself: the held-out tracks indexed by ``Library.index`` into a temporary
library. Each excerpt is written as a real 96 kbps MP3 and asked for with ``Library.similar``, which is what
``engine similar`` answers (the embedding's neighbours, with same-recording matches first); excerpts of tracks
outside the library measure false same-recording matches. Same-soundtrack retrieval is scored on the library's
own answers to ``similar`` by track id: the vectors it stored, from the windows ``engine index`` analyses (6,
inside the track's first and last 5 %), searched as the model says (library standardisation included), where the
model row of the report embeds 16 windows spread edge to edge."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.library import Library
from training.corpora.audio_files import write_audio
from training.evaluation.corruptions import EXCERPT_BITRATE
from training.evaluation.bootstrap import retrieval_difference, retrieval_with_intervals
from training.evaluation.metrics import per_query_label_retrieval, per_query_ranked_retrieval
from training.evaluation.per_item import PER_ITEM, per_item, retrieval_per_item

RESULTS_CHECKED = 5  # how many results of each query are checked for false same-recording matches


def library_excerpt_retrieval(track_paths: list[str], excerpts: list[np.ndarray], strangers: list[np.ndarray],
                              sample_rate: int, model_folder: Path, soundtracks: list[str] | None = None,
                              baseline_by_path: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Top-1 rate of ``excerpts[i]`` (clean audio at ``sample_rate``, encoded here at 96 kbps) finding
    ``track_paths[i]`` among all of them; how often that answer was a same-recording match; how often another
    track, or any track for an excerpt of a ``strangers`` track (not in the library), was called the same
    recording; with ``soundtracks`` (a label per path), same-soundtrack retrieval on the stored vectors, and
    with ``baseline_by_path`` its paired difference to that baseline embedding on the very same tracks."""
    with tempfile.TemporaryDirectory(prefix="eval-library-") as folder:
        with Library(Path(folder) / "library.db", model_folder) as library:
            report = library.index(track_paths, workers=0)
            stored = (_same_soundtrack_on_stored_vectors(library, track_paths, soundtracks, baseline_by_path)
                      if soundtracks else None)

            def ask(samples: np.ndarray, number: int) -> list:
                query = Path(folder) / f"excerpt{number:04d}.mp3"
                write_audio(query, samples, sample_rate, codec="mp3", bit_rate=EXCERPT_BITRATE)
                return library.similar(str(query), k=RESULTS_CHECKED)

            hits, same_recording, others_flagged = [], [], []
            for number, (path, excerpt) in enumerate(zip(track_paths, excerpts)):
                results = ask(excerpt, number)
                own = [Path(r.track.path).resolve() == Path(path).resolve() for r in results]
                hits.append(bool(own) and own[0])
                same_recording.append(bool(own) and own[0] and results[0].same_recording)
                others_flagged.append(any(r.same_recording and not mine for r, mine in zip(results, own)))
            strangers_flagged = [any(r.same_recording for r in ask(samples, len(excerpts) + number))
                                 for number, samples in enumerate(strangers)]

    def share(values: list[bool]) -> float:
        return float(np.mean(values)) if values else float("nan")

    return {"top1": share(hits), "same_recording_top1": share(same_recording), "same_soundtrack": stored,
            PER_ITEM: {"same_recording_top1": per_item([str(path) for path in track_paths], same_recording)},
            "other_track_called_same_recording": share(others_flagged),
            "stranger_called_same_recording": share(strangers_flagged), "strangers": len(strangers),
            "queries": len(hits), "indexed": report.added, "problems": report.problems}


def _same_soundtrack_on_stored_vectors(library: Library, track_paths: list[str], soundtracks: list[str],
                                       baseline_by_path: dict[str, np.ndarray] | None) -> dict | None:
    """R-precision and mAP (with 95 % intervals) of the library's own ranking (``Library.similar`` by track id, so
    whatever the model's search does, library standardisation included), labelled by soundtrack; minus the
    baseline's on the same tracks when ``baseline_by_path`` is given."""
    label_of = {Path(path).resolve(): label for path, label in zip(track_paths, soundtracks)}
    baseline_of = {Path(path).resolve(): vector for path, vector in (baseline_by_path or {}).items()}
    track_ids, _ = library.embeddings()
    stored_paths = [Path(library.track(int(track_id)).path).resolve() for track_id in track_ids]
    kept = [position for position, path in enumerate(stored_paths) if path in label_of]
    if len(kept) < 2:
        return None
    labels = [label_of[stored_paths[position]] for position in kept]
    row_of = {int(track_ids[position]): row for row, position in enumerate(kept)}
    similarities = np.full((len(kept), len(kept)), -np.inf)
    for row, position in enumerate(kept):
        for result in library.similar(int(track_ids[position]), k=len(track_ids) - 1):
            if result.track.id in row_of:
                similarities[row, row_of[result.track.id]] = result.score
    stored = per_query_ranked_retrieval(similarities, labels)
    result = retrieval_with_intervals(*stored)
    name_of = {Path(path).resolve(): str(path) for path in track_paths}
    result[PER_ITEM] = retrieval_per_item([name_of[stored_paths[position]] for position in kept], labels, stored)
    if baseline_of and all(stored_paths[position] in baseline_of for position in kept):
        baseline = per_query_label_retrieval(np.stack([baseline_of[stored_paths[p]] for p in kept]), labels)
        result["minus_logmel_stats"] = retrieval_difference(stored, baseline)
    return result
