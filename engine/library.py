"""The ``Library``: the one object the CLI and the Qt app use to index, browse and search a collection.

It ties the store (SQLite, the truth), the active model, the FAISS cache and the indexing pipeline
together. Browsing works without a model; indexing and searching raise ``ModelUnavailableError``
when no usable model is there. Every error it raises is a ``LibraryError`` with one clear line.

Thread use (the app): methods may be called from worker threads; the model and vector index are
guarded by a lock, and SQLite (WAL) lets browsing read while an index run writes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from engine.active_model import (  # noqa: F401 (the settings row and variable re-exported)
    ACTIVE_MODEL_SETTING, MODEL_DIR_ENVIRONMENT, default_model_spec, model_spec_of, named_model_spec,
)
from engine.database import DatabaseOpenError
from engine.index_lock import IndexLockedError, index_lock
from engine.library_errors import (  # noqa: F401 (re-exported: callers import them here)
    LibraryError, LibraryOpenError, ModelUnavailableError, Query, QueryError,
)
from engine.library_location import default_database_path
from engine.library_summary import library_info, model_infos, problem_list
from engine.metadata import read_metadata
from engine.model_spec import ModelLoadError, ModelSpec
from engine.duplicates import DuplicateCopy, DuplicateGroup, connected_groups, keep_order
from engine.playlist import PlaylistWriteError, write_m3u8
from engine.records import Crate, ExcludedFile, TaggedTrack
from engine.results import (
    BpmWrite, FileAnalysis, IndexProgress, IndexReport, KeyInfo, KeyWrite, LibraryInfo, ModelInfo, Problem, SimilarTrack,
    TrackRemoval, TrackRow, TrackSuggestions,
)
from engine.scan import BackgroundScan, display_path, is_within, quick_hash
from engine.search import ResolvedQuery, Search, as_track_id, file_analysis, indexed_file, require_regular_file
from engine.store import Store
from engine.tag_suggestions import DEFAULT_MIN_CONFIDENCE, SUGGESTIBLE_FIELDS, suggest_tags
from engine.track_analysis import DEFAULT_BATCH_WINDOWS, DEFAULT_MAX_WINDOWS, TrackAnalysis
from engine.track_rows import shown_rows, track_row

if TYPE_CHECKING:  # imported where used: torch, FAISS, the landmark index and numpy are not needed to browse
    import numpy as np

    from engine.analyzer import Analyzer
    from engine.landmark_index import LandmarkIndex
    from engine.model_folder import LoadedModel
    from engine.safe_replace import FileState
    from engine.tag_writer import ExistingPolicy, TagWriteResult  # mutagen: imported by the methods that write tags
    from engine.tempo import TempoEstimate
    from engine.vector_index import VectorIndex

class Library:
    """A music library in one SQLite file. Use as a context manager or call ``close()``."""

    def __init__(self, db_path: Path | str | None = None, model_dir: Path | str | None = None,
                 read_only: bool = False) -> None:
        """``read_only``: for reading commands; a current database is then never written (see ``Store``)."""
        self.db_path = Path(db_path) if db_path is not None else default_database_path()
        try:
            self.store = Store(self.db_path, read_only)
        except DatabaseOpenError as error:
            raise LibraryOpenError(str(error)) from None
        self._lock = threading.RLock()
        self._spec: ModelSpec | None = None  # the active model's config and identity (no torch)
        self._model: LoadedModel | None = None  # its network, built on the first analysis
        self._model_problem: ModelUnavailableError | None = None
        self._vector_indexes: dict[str, VectorIndex] = {}
        self._landmark_index: LandmarkIndex | None = None
        self._search = Search(self.store, self.model_spec, self.model, self._vector_index, self.landmark_index,
                              self._rows_by_ids)
        self._explicit_model = model_dir is not None
        if model_dir is not None:
            try:
                spec = named_model_spec(model_dir, self.store.models())
            except ModelUnavailableError:
                self.store.close()
                raise
            self._use_spec(spec)

    # -- lifetime -----------------------------------------------------------------------------------
    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # -- models ---------------------------------------------------------------------------------------
    def use_model(self, folder: Path | str, remember: bool = True) -> str:
        """Load a model folder (its network too, so a broken one is refused here) and make it active; returns its
        model id. Raises ``ModelUnavailableError``."""
        model = _load_model_folder(folder)
        with self._lock:
            self._use_spec(model)
            self._model = model
            if remember:
                self.store.set_setting(ACTIVE_MODEL_SETTING, str(Path(folder).resolve()))
        return model.model_id

    def _use_spec(self, spec: ModelSpec) -> None:
        """Make a model folder active by its config alone; its network is built when something is analysed."""
        with self._lock:
            self._spec, self._model, self._model_problem = spec, None, None
            self._record_model(spec, spec.folder)

    def register_model(self, folder: Path | str) -> str:
        """Check a model folder and list it among the library's models without making it active (the active model,
        its analyses and index stay as they are); returns its model id. Raises ``ModelUnavailableError``."""
        model = _load_model_folder(folder)
        self._record_model(model, folder)
        return model.model_id

    def _record_model(self, model: ModelSpec, folder: Path | str) -> None:
        if self.store.read_only:
            return
        self.store.register_model(model.model_id, model.config.name, model.weights_sha256,
                                  str(Path(folder).resolve()), model.config.embedding_dim, model.config.tag_names)

    def model(self) -> LoadedModel:
        """The active model with its network, built on first use (this imports torch); raises
        ``ModelUnavailableError`` when there is none or its weights do not load."""
        with self._lock:
            spec = self.model_spec()
            if self._model is None:
                self._model = _load_network(spec)
            return self._model

    def model_spec(self) -> ModelSpec:
        """The active model's config and identity, read without building its network: all that browsing and
        searching by track id need. Raises ``ModelUnavailableError`` when there is no usable model folder."""
        with self._lock:
            if self._spec is not None:
                return self._spec
            if self._model_problem is None:
                self._model_problem = self._find_default_model()
            if self._spec is None:
                raise ModelUnavailableError(self._model_problem.reason, self._model_problem.hint)
            return self._spec

    def _find_default_model(self) -> ModelUnavailableError | None:
        """Try the remembered model folder, then the shipped default; returns why neither works."""
        spec, problem = default_model_spec(self.store.get_setting(ACTIVE_MODEL_SETTING))
        if spec is not None:
            self._use_spec(spec)
        return problem

    @property
    def active_model_id(self) -> str | None:
        try:
            return self.model_spec().model_id
        except ModelUnavailableError:
            return None

    def models(self) -> list[ModelInfo]:
        return model_infos(self.store.models(), self.active_model_id)

    def forget_model(self, model_id: str) -> None:
        """Unregister a model (not the active one): its analyses and FAISS cache go; its folder is left alone."""
        if model_id == self.active_model_id:
            raise LibraryError(f"{model_id} is the active model; make another model active first")
        from engine.vector_index import index_paths

        with self._lock:
            self._vector_indexes.pop(model_id, None)
            self.store.forget_model(model_id)
            for path in index_paths(self.db_path, model_id):
                path.unlink(missing_ok=True)

    def _vector_index(self, model: ModelSpec) -> VectorIndex:
        from engine.vector_index import VectorIndex

        with self._lock:
            index = self._vector_indexes.get(model.model_id)
            if index is None:
                index = VectorIndex(self.store, model.model_id, model.config.embedding_dim,
                                    standardise=model.config.library_standardisation)
                self._vector_indexes[model.model_id] = index
            return index

    def landmark_index(self) -> LandmarkIndex:
        from engine.landmark_index import LandmarkIndex

        with self._lock:
            if self._landmark_index is None:
                self._landmark_index = LandmarkIndex(self.store)
            return self._landmark_index

    # -- folders --------------------------------------------------------------------------------------
    def folders(self) -> list[str]:
        return self.store.folders()

    def add_folder(self, path: Path | str) -> bool:
        [folder] = _absolute_paths([path])
        if not os.path.isdir(folder):
            raise LibraryError(f"not a folder: {display_path(folder)}")
        return self.store.add_folder(folder)

    def remove_folder(self, path: Path | str) -> int:
        """Forget a folder and its tracks; returns how many tracks left the library. Refused while an index run
        works on the library (``without_index_run``)."""
        with self.without_index_run("remove a folder"):
            return self.store.remove_folder(_absolute_paths([path])[0])

    def remove_folders(self, paths: Sequence[Path | str]) -> tuple[list[tuple[str, int]], list[str]]:
        """Forget each library folder named (by its path, a link to it or its real path) with its tracks:
        ([(folder, tracks that left)], [paths that are no library folder]). Refused while an index run works on
        the library."""
        removed, not_folders = [], []
        with self.without_index_run("remove a folder"):
            registered = set(self.folders())
            for path in self._as_known_folders(_absolute_paths(paths)):
                if path in registered:
                    removed.append((path, self.store.remove_folder(path)))
                    registered.discard(path)  # named twice: forgotten once
                else:
                    not_folders.append(path)
        return removed, not_folders

    @contextmanager
    def without_index_run(self, doing: str) -> Iterator[None]:
        """Hold the index lock for the body: an index run working meanwhile would store the tracks of a folder
        removed under it, which then belong to no library folder and no later scan removes (``LibraryError``
        naming ``doing`` when a run works now). A library not written yet has no run, and gets no lock file."""
        if self.store.in_memory or not os.path.exists(self.db_path):
            yield
            return
        try:
            with index_lock(self.db_path):
                yield
        except IndexLockedError:
            raise LibraryError(f"an index run is working on this library; {doing} when it has finished, or stop "
                               "it first") from None

    def remove_tracks(self, track_ids: Sequence[int], exclude: bool = True) -> TrackRemoval:
        """Take tracks out of the library: their rows, analyses, landmarks and crate entries go, their files are
        never touched. The FAISS and landmark caches notice the change by their fingerprints and catch up on the
        next search. ``exclude`` (the default) puts the files on the exclusion list so that the next scan of a
        library folder does not add them again; without it (a file already moved to the trash) a file still
        inside a library folder comes back with the next scan."""
        present = self.store.existing_track_ids(list(dict.fromkeys(track_ids)))
        return TrackRemoval(present, self.store.remove_tracks(present, exclude=exclude))

    def excluded_files(self) -> list[ExcludedFile]:
        """The files a scan skips because they were removed from the library, by path."""
        return self.store.excluded_files()

    def restore_excluded(self, paths: Sequence[Path | str]) -> list[str]:
        """Take files (or every excluded file below a folder) off the exclusion list; the next scan of their
        folder adds them again. Returns the paths restored."""
        return self.store.restore_excluded(_absolute_paths(paths))

    # -- indexing -------------------------------------------------------------------------------------
    def _save_caches(self, spec: ModelSpec) -> None:
        """Bring the vector and landmark indexes up to date on disk, here rather than on the first query after
        the run. A run's job is a library ready on disk, so a cache that cannot be saved (a full disk) fails it in
        one line, after both were tried; the tracks stay committed and the next run saves the caches."""
        from engine.cache_files import FULL_DISK_ERRNOS, CacheNotSavedError

        unsaved: list[CacheNotSavedError] = []
        for cache in (self._vector_index(spec), self.landmark_index()):
            try:
                cache.ensure_current(must_save=True)
            except CacheNotSavedError as error:
                unsaved.append(error)
        if unsaved:
            advice = "free some space and run index again" if unsaved[0].errno in FULL_DISK_ERRNOS else "run index again"
            raise LibraryError(f"{unsaved[0].strerror}; the tracks of this run are stored: {advice} to save it") \
                from unsaved[0]

    def index(
        self,
        paths: Sequence[Path | str] | None = None,
        workers: int | None = None,
        progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
        max_windows: int = DEFAULT_MAX_WINDOWS,
        batch_windows: int = DEFAULT_BATCH_WINDOWS,
        retry_problems: bool = False,
    ) -> IndexReport:
        """Scan ``paths`` (default: every library folder), analyse what is new or changed, drop what is gone.

        Folders given here become library folders. Broken files become problems; the run still succeeds.
        Setting ``cancel`` stops after the current batch; the next run resumes from there. ``batch_windows``
        is the inference batch, and each batch is one commit. Problems of the moment (permission denied, I/O
        errors) are always tried again; ``retry_problems`` tries every problem file again.
        """
        if self.store.file_read_only:
            raise LibraryError(f"the library database is read-only, so nothing can be added to it: "
                               f"{display_path(str(self.db_path))}")
        try:
            with index_lock(self.db_path):
                return self._index(paths, workers, progress, cancel, max_windows, batch_windows, retry_problems)
        except IndexLockedError as error:
            raise LibraryError(str(error)) from None

    def _index(self, paths, workers, progress, cancel, max_windows, batch_windows, retry_problems) -> IndexReport:
        """The scan runs ahead on a thread and streams into planning and analysis, so the first tracks are
        stored while the walk goes on; what the scan did not find is removed only once it has seen everything."""
        from engine.pipeline import AnalysisPipeline
        from engine.planner import DecodeSettings, StreamingPlanner

        started = time.monotonic()
        spec = self.model_spec()
        library_folders = self.folders()  # before this run adds any: the folders whose emptiness is not taken for gone
        roots = self._as_known_folders(_absolute_paths(paths)) if paths else library_folders
        if not roots:
            raise LibraryError("the library has no folders yet: give a folder to index")
        missing = [root for root in roots if not os.path.exists(root)]
        if missing and paths:  # a path the user named
            raise LibraryError(f"not found: {', '.join(display_path(root) for root in missing)}")
        roots = [root for root in roots if root not in missing]  # a library folder away (an unmounted drive): its
        # tracks stay, as for a folder that cannot be listed; the others are scanned
        if not roots:  # every library folder is away (the one external drive): nothing to scan, nothing lost
            return IndexReport(added=0, updated=0, unchanged=0, removed=0, problems=self.store.problem_count(missing),
                               seconds=time.monotonic() - started,
                               missing_folders=[display_path(root) for root in missing])
        for root in roots:
            if os.path.isdir(root):
                self.store.add_folder(root)
        self.store.restore_excluded([root for root in roots if not os.path.isdir(root)])  # a file named is wanted
        if progress is not None:
            progress(IndexProgress("scan", 0, 0, 0.0, 0.0, scan_finished=False))
        with BackgroundScan(roots) as scan:  # walks while torch loads and the first files are analysed
            settings = DecodeSettings(spec.config.sample_rate, spec.config.window_samples, max_windows)
            planner = StreamingPlanner(self.store, roots, spec.model_id, settings, retry_problems, library_folders)
            pipeline = AnalysisPipeline(lambda: self._analyzer(max_windows, batch_windows), self.store,
                                        spec.model_id, workers, progress, cancel, max_windows, batch_windows)
            result = pipeline.run(planner.jobs(scan, on_planned=pipeline.report_progress),
                                  lambda: planner.counts(scan.found, scan.finished))
        plan = planner.plan
        for move in plan.moves:
            self.store.move_track(move.track_id, move.new_path, move.mtime_ns, read_metadata(move.new_path))
        self.store.record_problems(plan.new_problems)
        self.store.remove_problems(plan.resolved_problem_keys)
        self.store.follow_exclusions(plan.exclusion_moves, plan.exclusions_dropped)
        if planner.complete:  # a cancelled run has not seen every file: nothing is taken for gone
            self.store.remove_tracks(plan.removed_track_ids)
            self.store.remove_problems(plan.stale_problem_keys)
        self._save_caches(spec)
        return IndexReport(
            added=result.added,
            updated=result.updated + plan.moved_only,
            unchanged=plan.unchanged,
            removed=len(plan.removed_track_ids),
            problems=self.store.problem_count(roots),
            seconds=time.monotonic() - started,
            moved=len(plan.moves),
            analysed=result.analysed,
            audio_seconds=result.audio_seconds,
            cancelled=result.cancelled,
            excluded=plan.excluded,
            missing_folders=[display_path(root) for root in missing],
            empty_folders=[display_path(root) for root in plan.empty_folders],
        )

    def _as_known_folders(self, paths: list[str]) -> list[str]:
        """Each folder named, spelled as the library already knows it when it is a library folder or lies in one under
        another name (a link to it, or its real path when it was added through a link), and by its real path when it
        holds a library folder known by its real path: the same files must not become a second set of tracks. A
        file named keeps its own path (a link inside the library is a track of its own)."""
        known = [(folder, os.path.realpath(folder)) for folder in self.folders()]
        spelled = []
        for path in paths:
            real = os.path.realpath(path)
            if os.path.isdir(path):
                for folder, folder_real in known:
                    if is_within(real, folder_real):
                        path = os.path.normpath(os.path.join(folder, os.path.relpath(real, folder_real)))
                        break
                    if is_within(folder_real, real) and folder == folder_real:
                        path = real
            spelled.append(path)
        return spelled

    def _analyzer(self, max_windows: int, batch_windows: int) -> Analyzer:
        """The active model ready to analyse: torch is imported here, only when an index run has files to analyse."""
        from engine.analyzer import Analyzer

        return Analyzer(self.model(), max_windows, batch_windows)

    # -- browsing -------------------------------------------------------------------------------------
    def track_count(self, filter_text: str = "", bpm_range: tuple[float, float] | None = None) -> int:
        """Tracks matching ``filter_text`` and, when given, whose tempo estimated with the active model lies in
        ``bpm_range`` (low, high BPM, inclusive; tracks without an estimate are left out)."""
        model_id = self._browse_model()[0] if bpm_range is not None else None
        return self.store.track_count(filter_text, model_id, bpm_range)

    def tracks(
        self, offset: int = 0, limit: int = 100, order_by: str = "artist", descending: bool = False,
        filter_text: str = "", bpm_range: tuple[float, float] | None = None,
    ) -> list[TrackRow]:
        """One page of tracks, filtered as ``track_count`` counts. ``order_by``: artist, title, album, genre, year,
        duration, added, path, bpm, or by the active model's analysis: key (Camelot order 1A, 1B, 2A …) and
        top_tag (A-Z); unanalysed tracks last."""
        model_id, tag_names = self._browse_model()
        try:
            rows = self.store.track_rows(model_id, offset, limit, order_by, descending, filter_text, bpm_range)
        except ValueError as error:
            raise LibraryError(str(error)) from None
        return [track_row(row, tag_names) for row in rows]

    def track(self, track_id: int) -> TrackRow | None:
        return self._rows_by_ids([track_id]).get(track_id)

    def track_id_for_path(self, path: Path | str) -> int | None:
        """The id of the indexed track at ``path`` (made absolute), None when it is not in the library."""
        return self.store.track_id_for_path(os.path.abspath(os.fspath(path)))

    def tagged_tracks(self, model_id: str | None = None, track_ids: Sequence[int] | None = None) -> list[TaggedTrack]:
        """Every track's label tags (or only ``track_ids``'), in id order, with the key estimate and tag
        probabilities of its analysis by ``model_id`` (the active model when None)."""
        model_id = model_id or self.active_model_id
        return self.store.track_tags(model_id, None if track_ids is None else list(track_ids))

    def analysis_of(self, track_id: int, model_id: str | None = None) -> TrackAnalysis | None:
        """A track's stored analysis (embedding, key and tag probabilities) by ``model_id`` (default: the active
        model); None when that model has not analysed it."""
        model_id = model_id or self.active_model_id
        return self.store.analysis_of(track_id, model_id) if model_id else None

    def problems(self) -> list[Problem]:
        return self.store.read(problem_list)

    def info(self) -> LibraryInfo:
        return self.store.read(library_info, str(self.db_path), self.active_model_id)

    def embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """Track ids (N,) and unit embeddings (N, D) by the active model, e.g. for a 2-D map."""
        return self.store.embeddings(self.model_spec().model_id)

    def _browse_model(self) -> tuple[str | None, list[str]]:
        try:
            model = self.model_spec()
        except ModelUnavailableError:
            return None, []
        return model.model_id, model.config.tag_names

    def _rows_by_ids(self, track_ids: Sequence[int]) -> dict[int, TrackRow]:
        return shown_rows(self.store, *self._browse_model(), track_ids)

    # -- analysis of single files ---------------------------------------------------------------------
    def analyze_file(self, path: Path | str) -> FileAnalysis:
        """Analyse any audio file with the active model (not stored). Raises ``QueryError`` if undecodable."""
        from engine.analyzer import Analyzer
        from engine.audio import AudioDecodeError

        model = self.model()
        require_regular_file(path, missing="file not found")
        try:
            analysis = Analyzer(model).analyze_file(path)
        except AudioDecodeError as error:
            raise QueryError(path, error.reason) from None
        return file_analysis(str(path), analysis, model)

    def analysis_for_path(self, path: Path | str) -> FileAnalysis:
        """The stored analysis when ``path`` is indexed, unchanged and analysed by the active model; else fresh."""
        model = self.model_spec()
        indexed = indexed_file(self.store, os.path.abspath(os.fspath(path)))
        if indexed.current:
            stored = self.store.analysis_of(indexed.track_id, model.model_id)
            if stored is not None:
                return file_analysis(os.fspath(path), stored, model)
        return self.analyze_file(path)

    def tempo_for_path(self, path: Path | str) -> TempoEstimate:
        """The stored tempo estimate when ``path`` is indexed, unchanged and analysed by the active model; else
        estimated now (no model needed). Raises ``QueryError`` when the file does not decode or has no tempo."""
        return self._search.tempo_of_file(path)

    # -- writing tags into files (only on request) -----------------------------------------------------
    def write_key(self, query: Query, notation: str = "standard", overwrite: bool = False,
                  key: KeyInfo | None = None) -> KeyWrite:
        """Write the active model's key of a track (id or file path) into its file's key tag, safely (see
        ``engine.tag_writer``); ``key`` skips the lookup when the caller has it. Problems come back in the
        result, never raised (except ``ModelUnavailableError``)."""
        from engine import tag_writer

        path = self._path_of(query)
        if path is None:
            return KeyWrite(None, tag_writer.TagWriteResult(str(query), problem="no such track"))
        no_key = "the model has no key head"
        if key is None:
            try:
                analysis = self.analysis_for_path(path)
            except QueryError as error:
                return KeyWrite(None, tag_writer.TagWriteResult(path, problem=error.reason))
            key, no_key = analysis.key, analysis.no_key_reason
        if key is None:
            return KeyWrite(None, tag_writer.TagWriteResult(path, problem=no_key))
        return KeyWrite(key, self._recorded(tag_writer.write_key(path, key.to_key(), notation, overwrite)))

    def write_bpm(self, query: Query, overwrite: bool = False, tempo: TempoEstimate | None = None) -> BpmWrite:
        """Write a track's (id or file path) estimated tempo into its file's tempo tag, safely, like ``write_key``;
        ``tempo`` skips the estimate when the caller has it. Problems come back in the result, never raised."""
        from engine import tag_writer

        path = self._path_of(query)
        if path is None:
            return BpmWrite(None, tag_writer.TagWriteResult(str(query), problem="no such track"))
        if tempo is None:
            try:
                tempo = self.tempo_for_path(path)
            except QueryError as error:
                return BpmWrite(None, tag_writer.TagWriteResult(path, problem=error.reason))
        return BpmWrite(tempo, self._recorded(tag_writer.write_bpm(path, tempo.bpm, overwrite)))

    def write_tags(self, path: Path | str, values_by_field: dict[str, list[str]],
                   on_existing: ExistingPolicy = "keep") -> TagWriteResult:
        """Write text fields (genre, mood, grouping, key) into a file safely; see ``tag_writer.write_tags``."""
        from engine import tag_writer

        return self._recorded(tag_writer.write_tags(os.path.abspath(os.fspath(path)), values_by_field, on_existing))

    def _path_of(self, query: Query) -> str | None:
        track_id = as_track_id(query)
        if track_id is None:
            return os.path.abspath(os.fspath(query))
        row = self.track(track_id)
        return row.path if row is not None else None

    def _recorded(self, result: TagWriteResult) -> TagWriteResult:
        """A track whose row matched the file before the write now matches it after: no re-analysis needed
        (a row that was already stale stays stale, so the next scan still analyses the changed audio). The track
        is found by the path written, or else as the same file under the path the library knows it by (written
        through a symlinked folder, or the real path of a folder indexed through a link)."""
        if not result.changed:
            return result
        track_id = self.store.track_id_for_path(result.path)
        if track_id is None:
            track_id = self._track_of_file(result.path, result.before)
        row = None if track_id is None else self.store.track_rows_by_ids(None, [track_id]).get(track_id)
        if row is None or (row.size, row.mtime_ns) != (result.before.size, result.before.mtime_ns):
            return result
        try:
            digest = quick_hash(row.path, result.after.size)
        except OSError:
            return result
        self.store.update_file_state(track_id, row.path, result.after.size, result.after.mtime_ns, digest,
                                     read_metadata(row.path))
        return result

    def _track_of_file(self, path: str, before: FileState) -> int | None:
        """The track whose row had the file's state before the write and whose path is that file now."""
        for track_id, known_path in self.store.tracks_with_state(before.size, before.mtime_ns):
            try:
                if os.path.samefile(known_path, path):
                    return track_id
            except OSError:
                continue
        return None

    # -- similarity (engine.search) --------------------------------------------------------------------
    def resolve(self, query: Query | ResolvedQuery) -> ResolvedQuery:
        """A file path or track id resolved once (``engine.search.ResolvedQuery``): a file's analysis and landmarks,
        stored or from one decode of it. Give the result to ``similar`` and ``playlist`` as often as needed: they
        do not look at the file again. Raises ``QueryError``."""
        return self._search.resolve(query)

    def similar(self, query: Query | ResolvedQuery, k: int = 10, harmonic: bool = False,
                bpm_range: float | None = None) -> list[SimilarTrack]:
        """The ``k`` most similar tracks to a file (indexed or not), a track id or a resolved query, best first, never
        the query's own track. For a file, tracks that are the same recording (landmark hashes line up: a copy, a
        re-encode, the track an excerpt comes from) come first with score 1.0, then the embedding's neighbours.
        ``harmonic`` keeps only tracks whose key mixes with the query's (Camelot rule); ``bpm_range`` only tracks
        whose tempo is within that many percent of the query's, half and double tempo included
        (``tempo_range.tempos_match``)."""
        return self._search.similar(query, k, harmonic, bpm_range)

    # -- duplicates -----------------------------------------------------------------------------------
    def duplicate_groups(self, cancel: threading.Event | None = None) -> list[DuplicateGroup]:
        """Groups of tracks that are one recording (copies, re-encodes, and an excerpt with its track), each
        track's landmarks looked up in the landmark index as ``similar FILE`` does; in each group the copy most
        worth keeping first (``duplicates.keep_order``). Tracks without landmarks are not looked at. ``cancel``
        stops early (the groups found so far are returned)."""
        index = self.landmark_index()
        pairs: list[tuple[int, int]] = []

        def match(rows) -> None:
            for track_id, matches in index.same_recordings_of_tracks(rows):
                if cancel is not None and cancel.is_set():
                    return
                pairs.extend((track_id, found.track_id) for found in matches)

        self.store.landmarks_since(0, match)
        groups = connected_groups(pairs)
        model_id, tag_names = self._browse_model()
        stored = self.store.track_rows_by_ids(model_id, [track_id for group in groups for track_id in group])
        broken = {path for path, _ in self.store.problems()}  # a track whose file is a problem now (cut short by a
        # sync, say) is no copy to keep, nor one to weigh the others against: its format and size are of before
        found = []
        for group in groups:
            copies = [DuplicateCopy(track_row(stored[t], tag_names), stored[t].size) for t in group
                      if t in stored and stored[t].path not in broken]
            if len(copies) > 1:
                found.append(DuplicateGroup(sorted(copies, key=keep_order)))
        return found

    # -- tag suggestions ------------------------------------------------------------------------------
    def tag_suggestions(
        self, min_confidence: float = DEFAULT_MIN_CONFIDENCE, track_ids: Sequence[int] | None = None,
    ) -> list[TrackSuggestions]:
        """For tracks analysed by the active model (all, or ``track_ids``): labels of its tag head for genre /
        mood / grouping fields the track leaves empty, with probability >= ``min_confidence``. Tracks with no
        suggestion are left out. Only a model trained from the library names its tags by field (``"genre:rock"``)."""
        model = self.model_spec()
        found = []
        for track in self.tagged_tracks(model.model_id, track_ids):
            filled = {name for name in SUGGESTIBLE_FIELDS if (getattr(track, name) or "").strip()}
            suggestions = suggest_tags(model.config.tag_names, track.tag_probs, filled, min_confidence)
            if suggestions:
                found.append(TrackSuggestions(track.id, track.path, track.title, track.artist, suggestions))
        return found

    # -- playlists ------------------------------------------------------------------------------------
    def playlist(self, seed: Query | ResolvedQuery, n: int, bpm_range: float | None = None) -> list[TrackRow]:
        """A radio walk of up to ``n`` tracks from an indexed seed (file path, track id or resolved query).
        ``bpm_range``: every track's tempo is within that many percent of the seed's (half / double included)."""
        return self._search.playlist(seed, n, bpm_range)

    def write_m3u8(self, tracks: Sequence[TrackRow], path: Path | str, overwrite: bool = False) -> Path:
        """Save a playlist (``playlist.write_m3u8``); an existing file only with ``overwrite``, never the
        library's own database files. Raises ``LibraryError`` when the target is refused."""
        return self._write_playlist_file(lambda protected: write_m3u8(tracks, path, overwrite, protected))

    def write_rekordbox_xml(self, tracks: Sequence[TrackRow], playlist_name: str, path: Path | str,
                            overwrite: bool = False) -> Path:
        """Save tracks as a rekordbox XML collection with one playlist (``crate_export``), refused like
        ``write_m3u8``."""
        from engine import crate_export  # ElementTree: only when a crate is exported

        return self._write_playlist_file(
            lambda protected: crate_export.write_rekordbox_xml(tracks, playlist_name, path, overwrite, protected))

    def _write_playlist_file(self, write: Callable[[list[Path]], Path]) -> Path:
        protected = [self.db_path.with_name(self.db_path.name + suffix) for suffix in ("", "-wal", "-shm")]
        try:
            return write(protected)
        except PlaylistWriteError as error:
            raise LibraryError(str(error)) from None

    # -- crates ---------------------------------------------------------------------------------------
    def crates(self) -> list[Crate]:
        return self.store.crates()

    def create_crate(self, name: str, track_ids: Sequence[int] = ()) -> int:
        """A new crate holding ``track_ids`` (those in the library, in that order); returns its id. Raises
        ``LibraryError`` for an empty name or one that is taken."""
        name = name.strip()
        if not name:
            raise LibraryError("a crate needs a name")
        try:
            crate_id = self.store.create_crate(name)
        except ValueError as error:
            raise LibraryError(str(error)) from None
        self.add_to_crate(crate_id, track_ids)
        return crate_id

    def add_to_crate(self, crate_id: int, track_ids: Sequence[int]) -> int:
        """Append the tracks (those in the library and not yet in the crate); returns how many were added."""
        return self.store.add_to_crate(crate_id, self.store.existing_track_ids(list(track_ids)))

    def crate_tracks(self, crate_id: int) -> list[TrackRow]:
        """The crate's tracks in its order, with the active model's key and tempo."""
        order = self.store.crate_track_ids(crate_id)
        rows = self._rows_by_ids(order)
        return [rows[track_id] for track_id in order if track_id in rows]

    def rename_crate(self, crate_id: int, name: str) -> None:
        """Raises ``LibraryError`` for an empty name or one another crate has."""
        name = name.strip()
        if not name:
            raise LibraryError("a crate needs a name")
        try:
            self.store.rename_crate(crate_id, name)
        except ValueError as error:
            raise LibraryError(str(error)) from None

    def move_in_crate(self, crate_id: int, track_ids: Sequence[int], to_position: int) -> list[int]:
        """Move ``track_ids`` (those in the crate, in the crate's order) so that the first of them lands at
        ``to_position`` of the crate without them (clamped: 0 is the top, a large value the end); the others keep
        their order. Returns the crate's new order."""
        order = self.store.crate_track_ids(crate_id)
        moving = set(track_ids)
        kept = [track_id for track_id in order if track_id not in moving]
        moved = [track_id for track_id in order if track_id in moving]
        at = min(max(0, to_position), len(kept))
        new_order = kept[:at] + moved + kept[at:]
        if new_order != order:
            self.store.set_crate_track_ids(crate_id, new_order)
        return new_order

    def remove_from_crate(self, crate_id: int, track_ids: Sequence[int]) -> int:
        """Take tracks out of the crate (they stay in the library); returns how many left it."""
        order = self.store.crate_track_ids(crate_id)
        leaving = set(track_ids)
        kept = [track_id for track_id in order if track_id not in leaving]
        if len(kept) != len(order):
            self.store.set_crate_track_ids(crate_id, kept)
        return len(order) - len(kept)

    def delete_crate(self, crate_id: int) -> None:
        """Forget a crate; its tracks stay in the library."""
        self.store.delete_crate(crate_id)


def _load_model_folder(folder: Path | str) -> LoadedModel:
    return _load_network(model_spec_of(folder))


def _load_network(spec: ModelSpec) -> LoadedModel:
    from engine.model_folder import load_network  # torch: only when something is analysed

    try:
        return load_network(spec)
    except ModelLoadError as error:
        raise ModelUnavailableError(str(error)) from None


def _absolute_paths(paths: Sequence[Path | str]) -> list[str]:
    """Paths a user named, made absolute; an empty one is refused (``abspath("")`` is the working folder, which the
    user did not name)."""
    if any(not os.fspath(path) for path in paths):
        raise LibraryError("an empty path names no file or folder")
    return [os.path.abspath(os.fspath(path)) for path in paths]
