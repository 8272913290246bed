"""Decide what an index run must do, from a scan and what the database already knows.

Unchanged files (same size and mtime, analysed by the active model) cost a stat; a new path whose
(size, block hash) matches a track whose old path is gone is a move, not a new track; known problem
files that did not change are not decoded again.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from engine.decoding import DecodeJob
from engine.scan import ScanResult, path_key, quick_hash
from engine.store import ProblemRecord, Store


@dataclass(frozen=True)
class Move:
    track_id: int
    new_path: str
    mtime_ns: int


@dataclass
class IndexPlan:
    """Everything an index run will change; ``jobs`` go through decode + analysis."""

    jobs: list[DecodeJob] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    removed_track_ids: list[int] = field(default_factory=list)
    new_problems: list[ProblemRecord] = field(default_factory=list)
    stale_problem_keys: list[bytes] = field(default_factory=list)
    unchanged: int = 0
    moved_only: int = 0  # moves of analysed tracks: the row is updated, nothing is re-analysed
    kept_problems: int = 0

    @property
    def replacing(self) -> int:
        return sum(1 for job in self.jobs if job.track_id is not None)


@dataclass(frozen=True)
class DecodeSettings:
    sample_rate: int
    window_samples: int
    max_windows: int


def plan_index(scan: ScanResult, store: Store, roots: list[str], model_id: str, settings: DecodeSettings) -> IndexPlan:
    """Compare the scan of ``roots`` with the database; nothing is written here."""
    plan = IndexPlan()
    known = store.known_files_under(roots)
    known_problems = store.known_problems_under(roots)
    analysed = store.finished_track_ids(model_id)  # analysed by this model, with current landmarks
    present = {path_key(found.path) for found in scan.files} | {path_key(problem.path) for problem in scan.problems}
    claimed_track_ids: set[int] = set()

    def job(found, digest: str, track_id: int | None, file_changed: bool = True) -> DecodeJob:
        return DecodeJob(found.path, found.size, found.mtime_ns, digest, track_id,
                         settings.sample_rate, settings.window_samples, settings.max_windows, file_changed)

    for found in scan.files:
        key = path_key(found.path)
        previous = known.get(key)
        if previous is not None:
            claimed_track_ids.add(previous.track_id)
            same_stat = previous.size == found.size and previous.mtime_ns == found.mtime_ns
            if same_stat and previous.track_id in analysed:
                plan.unchanged += 1
            else:
                plan.jobs.append(job(found, previous.quick_hash if same_stat else "", previous.track_id, not same_stat))
            continue
        remembered = known_problems.get(key)
        if remembered is not None and remembered[:2] == (found.size, found.mtime_ns):
            plan.kept_problems += 1
            continue
        try:
            digest = quick_hash(found.path, found.size)
        except OSError as error:
            reason = "permission denied" if isinstance(error, PermissionError) else f"cannot read ({error.strerror})"
            plan.new_problems.append(ProblemRecord(found.path, reason, found.size, found.mtime_ns))
            continue
        moved_from = _moved_track(store, found.size, digest, present, claimed_track_ids)
        if moved_from is not None:
            claimed_track_ids.add(moved_from)
            plan.moves.append(Move(moved_from, found.path, found.mtime_ns))
            if moved_from in analysed:
                plan.moved_only += 1
            else:
                plan.jobs.append(job(found, digest, moved_from, file_changed=False))
            continue
        plan.jobs.append(job(found, digest, None))

    plan.jobs = [_with_hash(planned) for planned in plan.jobs]
    for problem in scan.problems:
        plan.new_problems.append(ProblemRecord(problem.path, problem.reason))
    plan.removed_track_ids = [
        previous.track_id for key, previous in known.items()
        if key not in present and previous.track_id not in claimed_track_ids
    ]
    plan.stale_problem_keys = [key for key in known_problems if key not in present]
    return plan


def _moved_track(store: Store, size: int, digest: str, present: set[bytes], claimed: set[int]) -> int | None:
    """A track with this identity whose recorded path no longer exists (and was not found by this scan)."""
    for track_id, old_path in store.tracks_with_identity(size, digest):
        if track_id in claimed or path_key(old_path) in present or os.path.lexists(old_path):
            continue
        return track_id
    return None


def _with_hash(planned: DecodeJob) -> DecodeJob:
    """Jobs for changed files need a fresh block hash; an unreadable file keeps an empty one (decode reports it)."""
    if planned.quick_hash:
        return planned
    try:
        digest = quick_hash(planned.path, planned.size)
    except OSError:
        digest = ""
    return dataclasses.replace(planned, quick_hash=digest)
