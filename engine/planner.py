"""Decide what an index run must do, from a scan and what the database already knows.

Unchanged files (same size and mtime, analysed by the active model) cost a stat; a new path whose
(size, block hash) matches a track whose old path is gone is a move, not a new track; known problem
files that did not change are not decoded again; files the user took out of the library (the exclusion
list) are skipped.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from engine.decoding import DecodeJob
from engine.problem_reasons import is_transient
from engine.scan import ScannedFile, ScanProblem, ScanResult, is_audio_name, path_key, quick_hash
from engine.store import ProblemRecord, Store

PROGRESS_EVERY_FILES = 500  # a rescan plans ~20k unchanged files a second: a few progress updates a second


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
    resolved_problem_keys: list[bytes] = field(default_factory=list)  # seen fine this run: an unchanged track, excluded
    unchanged: int = 0
    moved_only: int = 0  # moves of analysed tracks: the row is updated, nothing is re-analysed
    kept_problems: int = 0
    excluded: int = 0  # files found but skipped: on the exclusion list
    # library folders that are there but in which the scan found nothing while the library knows tracks in them:
    # most often the empty mount point of a drive not mounted (or a cloud folder not synced yet), so not taken for gone
    empty_folders: list[str] = field(default_factory=list)
    exclusion_moves: list[tuple[bytes, str]] = field(default_factory=list)  # an excluded file found moved: (old key, path)
    exclusions_dropped: list[bytes] = field(default_factory=list)  # an excluded path that holds another file now

    @property
    def replacing(self) -> int:
        return sum(1 for job in self.jobs if job.track_id is not None)


@dataclass(frozen=True)
class ScanCounts:
    """How far a streaming index run's scan is: files ``found`` so far, the decode jobs ``expected`` in all (an
    estimate until the scan is ``finished``)."""

    found: int
    expected_jobs: int
    finished: bool


@dataclass(frozen=True)
class DecodeSettings:
    sample_rate: int
    window_samples: int
    max_windows: int


def plan_index(scan: ScanResult, store: Store, roots: list[str], model_id: str, settings: DecodeSettings) -> IndexPlan:
    """Compare the scan of ``roots`` with the database; nothing is written here."""
    planner = StreamingPlanner(store, roots, model_id, settings)
    planner.plan.jobs = list(planner.jobs([*scan.files, *scan.problems]))
    return planner.plan


class StreamingPlanner:
    """Plans an index run file by file, as the scan finds them: ``jobs(entries)`` yields each file that needs
    decoding as soon as it is seen, and fills ``plan`` (moves, problems, counts) on the way. What the scan did
    not find (removed tracks, stale problems) is known only once it is over: ``plan.removed_track_ids`` and
    ``plan.stale_problem_keys`` are filled, and ``complete`` set, when ``jobs`` is exhausted. Nothing is written
    here. The database's view of ``roots`` is read once, up front (a stat-sized record per known file)."""

    def __init__(self, store: Store, roots: list[str], model_id: str, settings: DecodeSettings,
                 retry_problems: bool = False, library_folders: Sequence[str] = ()) -> None:
        """A known problem file, unchanged, is tried again when its reason may pass (``is_transient``) or with
        ``retry_problems``; its row stays until the file's new outcome replaces it (a track, or a problem again),
        so a problem whose file this run does not reach (a folder it cannot list, a cancel) is not lost."""
        self.store = store
        self.roots = roots
        self.library_folders = list(library_folders)  # registered before this run (``_keep_tracks_of_empty_folders``)
        self.retry_problems = retry_problems
        self.settings = settings
        self.plan = IndexPlan()
        self.planned_files = 0  # files found by the scan and classified so far
        self.planned_jobs = 0  # of those, the ones that need decoding
        self.complete = False
        self._known = store.known_files_under(roots)
        self._known_problems = store.known_problems_under(roots)
        self._excluded = store.excluded_keys_under(roots)
        self._excluded_identities = store.excluded_identities()  # everywhere: a file may move in from anywhere
        self._excluded_by_identity: dict[tuple[int, str], list[bytes]] = {}
        for excluded_key, identity in self._excluded_identities.items():
            self._excluded_by_identity.setdefault(identity, []).append(excluded_key)
        # analysed by this model with current landmarks and key: wholly, or but for an older estimator's tempo
        self._analysed, self._tempo_due = store.current_track_ids(model_id)
        self._present: set[bytes] = set()
        self._claimed_track_ids: set[int] = set()
        self._unlisted_folders: list[bytes] = []  # path keys + separator of folders the walk could not list

    def jobs(self, entries: Iterable[ScannedFile | ScanProblem],
             on_planned: Callable[[], None] | None = None) -> Iterator[DecodeJob]:
        """The decode jobs of ``entries``, each as soon as it is planned. ``on_planned`` is called every
        ``PROGRESS_EVERY_FILES`` files, so a progress display moves through long runs of unchanged files."""
        for entry in entries:
            self.planned_files += 1
            if on_planned is not None and self.planned_files % PROGRESS_EVERY_FILES == 0:
                on_planned()
            self._present.add(path_key(entry.path))
            planned = self._classify(entry) if isinstance(entry, ScannedFile) else self._problem(entry)
            if planned is not None:
                self.planned_jobs += 1
                yield _with_hash(planned)
        self._keep_tracks_of_empty_folders()
        self.plan.removed_track_ids = [
            previous.track_id for key, previous in self._known.items()
            if key not in self._present and previous.track_id not in self._claimed_track_ids and not self._unseen(key)
            and not self._named_only(key)
        ]
        self.plan.stale_problem_keys = [key for key in self._known_problems
                                        if key not in self._present and not self._unseen(key)]
        self.complete = True

    def counts(self, found: int, scan_finished: bool) -> ScanCounts:
        """Progress so far, with the jobs still to come estimated from the share of files that needed one."""
        unplanned = max(0, found - self.planned_files)
        share = self.planned_jobs / self.planned_files if self.planned_files else 1.0
        return ScanCounts(found, self.planned_jobs + round(unplanned * share), scan_finished and self.complete)

    def _keep_tracks_of_empty_folders(self) -> None:
        """A library folder (registered before this run; the scanned roots and the library folders inside them) that
        is there but holds nothing the scan found, while the library knows tracks in it that did not move elsewhere,
        is an empty mount point or an unsynced folder far more often than music deleted: its tracks stay, as for a
        folder that is away, and the run says so (``plan.empty_folders``). Deliberately emptied, the folder is
        forgotten with its tracks by ``engine remove-folder`` or the app's Remove folder."""
        scanned = [_inside(root) for root in self.roots]
        for folder in self.library_folders:
            inside = _inside(folder)
            if not os.path.isdir(folder) or not any(inside.startswith(root) for root in scanned):
                continue
            knows_tracks = any(key.startswith(inside) and previous.track_id not in self._claimed_track_ids
                               for key, previous in self._known.items())
            if knows_tracks and not any(key.startswith(inside) for key in self._present):
                self._unlisted_folders.append(inside)
                self.plan.empty_folders.append(folder)

    def _unseen(self, key: bytes) -> bool:
        """Whether ``key`` lies in a folder the walk could not list: not found gone, only not seen this time."""
        return any(key.startswith(folder) for folder in self._unlisted_folders)

    @staticmethod
    def _named_only(key: bytes) -> bool:
        """A track's file that no folder walk picks up (an extension it does not list: the user indexed that file
        by name) and that is still there: not gone."""
        return not is_audio_name(os.fsdecode(key)) and os.path.lexists(key)

    def _resolve_problem(self, key: bytes) -> None:
        """A file seen fine (an unchanged track) or wanted no more (excluded) is no problem: its row, if any, goes."""
        if key in self._known_problems:
            self.plan.resolved_problem_keys.append(key)

    def _another_file_at_excluded(self, key: bytes, found: ScannedFile) -> bool:
        """An excluded path whose exclusion knows its file, and which holds another file now (a different size or
        content): the exclusion goes, and the file is a new one."""
        identity = self._excluded_identities.get(key)
        if identity is None:
            return False
        try:
            now = (found.size, quick_hash(found.path, found.size)) if found.size == identity[0] else None
        except OSError:
            return False  # unreadable now: judged on a later run
        if now == identity:
            return False
        self.plan.exclusions_dropped.append(key)
        return True

    def _excluded_file_moved_here(self, key: bytes, found: ScannedFile, digest: str) -> bool:
        """A new path holding the very file (size and quick hash) of an exclusion whose path is gone: the file was
        moved or renamed, and stays out of the library under its new name."""
        candidates = self._excluded_by_identity.get((found.size, digest), [])
        for excluded_key in candidates:
            if excluded_key != key and not os.path.lexists(excluded_key):
                self.plan.exclusion_moves.append((excluded_key, found.path))
                candidates.remove(excluded_key)  # one exclusion follows one file
                return True
        return False

    def _still_the_same_problem(self, key: bytes, found: ScannedFile) -> bool:
        """The file is a known problem, unchanged since, and its reason is not one to try again."""
        remembered = self._known_problems.get(key)
        return (remembered is not None and remembered[:2] == (found.size, found.mtime_ns)
                and not self._retried(remembered[2]))

    def _retried(self, reason: str) -> bool:
        return self.retry_problems or is_transient(reason)

    def _problem(self, problem: ScanProblem) -> None:
        if problem.folder:
            self._unlisted_folders.append(_inside(problem.path))
        if path_key(problem.path) in self._excluded:
            self.plan.excluded += 1
            self._resolve_problem(path_key(problem.path))
            return
        self.plan.new_problems.append(ProblemRecord(problem.path, problem.reason))

    def _classify(self, found: ScannedFile) -> DecodeJob | None:
        """The decode job ``found`` needs, or None (unchanged, a known problem, a move of an analysed track, or
        unreadable: recorded in ``plan``)."""
        plan = self.plan
        key = path_key(found.path)
        previous = self._known.get(key)
        if previous is not None:
            self._claimed_track_ids.add(previous.track_id)
            same_stat = previous.size == found.size and previous.mtime_ns == found.mtime_ns
            if same_stat and previous.track_id in self._analysed:
                plan.unchanged += 1
                self._resolve_problem(key)  # e.g. a link whose target was away last run and is back
                return None
            if same_stat and previous.track_id in self._tempo_due:
                self._resolve_problem(key)
                return self._job(found, previous.quick_hash, previous.track_id, file_changed=False, tempo_only=True)
            if not same_stat and self._still_the_same_problem(key, found):  # its track stays, beside the problem
                plan.kept_problems += 1
                return None
            return self._job(found, previous.quick_hash if same_stat else "", previous.track_id, not same_stat)
        if key in self._excluded and not self._another_file_at_excluded(key, found):
            plan.excluded += 1
            self._resolve_problem(key)
            return None
        if self._still_the_same_problem(key, found):
            plan.kept_problems += 1
            return None
        try:
            digest = quick_hash(found.path, found.size)
        except OSError as error:
            reason = "permission denied" if isinstance(error, PermissionError) else f"cannot read ({error.strerror})"
            plan.new_problems.append(ProblemRecord(found.path, reason, found.size, found.mtime_ns))
            return None
        if self._excluded_file_moved_here(key, found, digest):
            plan.excluded += 1
            return None
        moved_from = _moved_track(self.store, found.size, digest, self._present, self._claimed_track_ids)
        if moved_from is None:
            return self._job(found, digest, None)
        self._claimed_track_ids.add(moved_from)
        plan.moves.append(Move(moved_from, found.path, found.mtime_ns))
        if moved_from in self._analysed:
            plan.moved_only += 1
            return None
        if moved_from in self._tempo_due:  # analysed but for its tempo: that alone is estimated again
            return self._job(found, digest, moved_from, file_changed=False, tempo_only=True)
        return self._job(found, digest, moved_from, file_changed=False)

    def _job(self, found: ScannedFile, digest: str, track_id: int | None, file_changed: bool = True,
             tempo_only: bool = False) -> DecodeJob:
        settings = self.settings
        return DecodeJob(found.path, found.size, found.mtime_ns, digest, track_id,
                         settings.sample_rate, settings.window_samples, settings.max_windows, file_changed, tempo_only)


def _moved_track(store: Store, size: int, digest: str, present: set[bytes], claimed: set[int]) -> int | None:
    """A track with this identity whose recorded path no longer exists (and was not found by this scan so far; a
    path the scan finds later exists, so it is ruled out). A path that cannot be looked at (a folder without
    permission on the way) is not known gone: its track stays where it is."""
    for track_id, old_path in store.tracks_with_identity(size, digest):
        if track_id in claimed or path_key(old_path) in present or not _known_gone(old_path):
            continue
        return track_id
    return None


def _known_gone(path: str) -> bool:
    """Whether nothing is at ``path``: looked at and absent, not merely out of reach."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def _with_hash(planned: DecodeJob) -> DecodeJob:
    """Jobs for changed files need a fresh block hash; an unreadable file keeps an empty one (decode reports it)."""
    if planned.quick_hash:
        return planned
    try:
        digest = quick_hash(planned.path, planned.size)
    except OSError:
        digest = ""
    return dataclasses.replace(planned, quick_hash=digest)


def _inside(folder: str) -> bytes:
    """The path key prefix of everything inside ``folder``."""
    return path_key(folder).rstrip(os.fsencode(os.sep)) + os.fsencode(os.sep)
