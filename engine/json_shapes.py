"""The JSON shapes of the ``engine`` CLI (DESIGN.md's contract): fields may be added, never renamed or dropped.

Paths are shown in their printable form (undecodable bytes of non-UTF-8 names become U+FFFD), so the
output is valid UTF-8 JSON for every consumer; ``path_bytes`` beside each ``path`` holds the exact bytes.
"""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING, Any

from engine.results import (
    BpmWrite, FileAnalysis, KeyInfo, KeyWrite, LibraryInfo, ModelInfo, Problem, SimilarTrack, TrackRow, TrackSuggestions,
)
from engine.scan import display_path
from engine.tag_calibration import Calibrations, shown_tag_probabilities
from engine.tag_suggestions import TagSuggestion

if TYPE_CHECKING:  # annotations only: printing a listing imports neither mutagen nor the tempo estimator
    from engine.tag_writer import TagWriteResult
    from engine.tempo import TempoEstimate

SCORE_DECIMALS = 6
PROBABILITY_DECIMALS = 4
BPM_DECIMALS = 2


def path_fields(path: str, shown: str | None = None) -> dict[str, str]:
    """``path``: printable (``shown``, or undecodable bytes as U+FFFD); ``path_bytes``: the exact bytes of the
    file name, base64-encoded, so a consumer can open a non-UTF-8 name the printable form cannot reach."""
    return {"path": shown or display_path(path), "path_bytes": base64.b64encode(os.fsencode(path)).decode("ascii")}


def key_fields(key: KeyInfo) -> dict[str, Any]:
    """``tonic``, ``pitch_class``, ``mode``, ``camelot``, ``confidence`` (+ ``key``, ``open_key``, ``source``)."""
    confidence = None if key.confidence is None else round(key.confidence, PROBABILITY_DECIMALS)
    return {
        "key": key.name, "tonic": key.tonic, "pitch_class": key.pitch_class, "mode": key.mode,
        "camelot": key.camelot, "open_key": key.open_key, "confidence": confidence, "source": key.source,
    }


def key_result(path: str, analysis: FileAnalysis) -> dict[str, Any]:
    if analysis.key is None:
        return error_result(path, analysis.no_key_reason)
    return {**path_fields(path), **key_fields(analysis.key)}


def key_write_result(path: str, outcome: KeyWrite) -> dict[str, Any]:
    """``key_result`` (or ``error_result``) plus ``written``, ``key_tag`` (the key tag now in the file),
    ``kept_existing`` and ``write_problem`` (why nothing was written)."""
    write = outcome.write
    if outcome.key is None:
        row = error_result(path, write.problem)
    else:
        row = {**path_fields(path), **key_fields(outcome.key)}
    key_tag = (write.written or write.kept).get("key")
    return {
        **row, "written": write.changed, "key_tag": key_tag[0] if key_tag else None,
        "kept_existing": "key" in write.kept and write.problem is None, "write_problem": write.problem,
    }


def bpm_result(path: str, tempo: TempoEstimate) -> dict[str, Any]:
    """``{"path", "bpm", "confidence"}``: the tempo estimated from the audio (quarter-note beats per minute)."""
    return {**path_fields(path), "bpm": round(tempo.bpm, BPM_DECIMALS),
            "confidence": round(tempo.confidence, PROBABILITY_DECIMALS)}


def bpm_write_result(path: str, outcome: BpmWrite) -> dict[str, Any]:
    """``bpm_result`` (or ``error_result``) plus ``written``, ``bpm_tag`` (the tempo tag now in the file),
    ``kept_existing`` and ``write_problem`` (why nothing was written), as ``key_write_result``."""
    write = outcome.write
    row = error_result(path, write.problem) if outcome.tempo is None else bpm_result(path, outcome.tempo)
    bpm_tag = (write.written or write.kept).get("bpm")
    return {
        **row, "written": write.changed, "bpm_tag": bpm_tag[0] if bpm_tag else None,
        "kept_existing": "bpm" in write.kept and write.problem is None, "write_problem": write.problem,
    }


def tag_result(path: str, analysis: FileAnalysis, calibrations: Calibrations | None = None) -> dict[str, Any]:
    """``tags``: what the model asserts (with a calibrated model only its shown labels, 0.5 at each label's
    threshold); ``tag_probabilities``: every label's plain probability from the tag head."""
    def rounded(tags: dict[str, float]) -> dict[str, float]:
        return {name: round(probability, PROBABILITY_DECIMALS) for name, probability in tags.items()}

    return {**path_fields(path), "tags": rounded(shown_tag_probabilities(analysis.tags, calibrations)),
            "tag_probabilities": rounded(analysis.tags)}


def tag_suggestions_result(track: TrackSuggestions, suggestions: list[TagSuggestion] | None = None) -> dict[str, Any]:
    """``{"track_id", "path", "title", "artist", "suggestions": [{"field", "value", "label", "confidence"}...]}``,
    best first; ``suggestions`` narrows the track's own list (e.g. to the accepted ones)."""
    chosen = track.suggestions if suggestions is None else suggestions
    return {
        "track_id": track.track_id, **path_fields(track.path), "title": track.title, "artist": track.artist,
        "suggestions": [
            {"field": s.field, "value": s.value, "label": s.label, "confidence": round(s.confidence, PROBABILITY_DECIMALS)}
            for s in chosen
        ],
    }


def tag_write_fields(write: TagWriteResult) -> dict[str, Any]:
    """What a tag write did, to merge into a row: ``written`` / ``kept`` (field → values) and ``write_problem``."""
    return {"written": write.written if write.problem is None else {}, "kept": write.kept, "write_problem": write.problem}


def error_result(path: str, reason: str) -> dict[str, Any]:
    return {**path_fields(path), "error": reason}


def track_summary(track: TrackRow) -> dict[str, Any]:
    return {
        **path_fields(track.path, track.display_path), "track_id": track.id, "title": track.title,
        "artist": track.artist, "album": track.album, "duration": track.duration,
        "key": track.key.name if track.key else None, "camelot": track.key.camelot if track.key else None,
        "bpm": None if track.estimated_bpm is None else round(track.estimated_bpm, BPM_DECIMALS),
        "tag_bpm": track.bpm,  # the file's own BPM tag, kept apart from the estimate
    }


def similar_result(query: str, results: list[SimilarTrack]) -> dict[str, Any]:
    return {
        "query": query,
        "results": [{**track_summary(hit.track), "score": round(hit.score, SCORE_DECIMALS),
                     "same_recording": hit.same_recording} for hit in results],
    }


def similar_error(query: str, reason: str) -> dict[str, Any]:
    return {"query": query, "results": [], "error": reason}


def info_result(info: LibraryInfo, models: list[ModelInfo] | None = None) -> dict[str, Any]:
    """The library summary; ``models`` adds every registered model (``similar --model NAME`` chooses one)."""
    result = {
        "tracks": info.tracks, "problems": info.problems, "model": info.model, "folders": info.folders,
        "analysed": info.analysed_tracks, "database": info.database,
    }
    if models is not None:
        result["models"] = [
            {"model_id": model.model_id, "name": model.name, "folder": model.folder, "analysed": model.analysed_tracks,
             "active": model.active, "tags": len(model.tag_names)}
            for model in models
        ]
    return result


def problems_result(problems: list[Problem]) -> list[dict[str, Any]]:
    return [{**path_fields(problem.path, problem.display_path), "reason": problem.reason} for problem in problems]
