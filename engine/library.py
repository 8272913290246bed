"""The ``Library``: the one object the CLI and the Qt app use to index, browse and search a collection.

It ties the store (SQLite, the truth), the active model, the FAISS cache and the indexing pipeline
together. Browsing works without a model; indexing and searching raise ``ModelUnavailableError``
when no usable model is there. Every error it raises is a ``LibraryError`` with one clear line.

Thread use (the app): methods may be called from worker threads; the model and vector index are
guarded by a lock, and SQLite (WAL) lets browsing read while an index run writes.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import platformdirs

from engine import tag_writer
from engine.database import DatabaseOpenError
from engine.index_lock import IndexLockedError, index_lock
from engine.keys import key_from_index, keys_mix_harmonically, parse_key
from engine.metadata import read_metadata
from engine.model_spec import DEFAULT_MODEL_DIR, ModelLoadError, ModelSpec, read_model_spec
from engine.crate_export import write_rekordbox_xml
from engine.duplicates import DuplicateCopy, DuplicateGroup, connected_groups, keep_order
from engine.playlist import PlaylistWriteError, radio_walk, write_m3u8
from engine.records import Crate, ExcludedFile, StoredTrack, TaggedTrack
from engine.results import (
    BpmWrite, FileAnalysis, IndexProgress, IndexReport, KeyInfo, KeyWrite, LibraryInfo, ModelInfo, Problem, SimilarTrack,
    TrackRemoval, TrackRow, TrackSuggestions,
)
from engine.scan import BackgroundScan, display_path, path_from_key, quick_hash
from engine.store import Store, unblob
from engine.tag_suggestions import DEFAULT_MIN_CONFIDENCE, SUGGESTIBLE_FIELDS, suggest_tags
from engine.tag_writer import ExistingPolicy, TagWriteResult
from engine.tempo import TempoError, TempoEstimate
from engine.tempo_range import tempos_match
from engine.track_analysis import DEFAULT_BATCH_WINDOWS, DEFAULT_MAX_WINDOWS, TrackAnalysis, key_estimate

if TYPE_CHECKING:  # imported where used: torch, FAISS and the landmark index are not needed to browse
    from engine.analyzer import Analyzer
    from engine.landmark_index import LandmarkIndex, RecordingMatch
    from engine.model_folder import LoadedModel
    from engine.vector_index import VectorIndex

APP_NAME = "semisup-music"
DATABASE_FILE = "library.db"
ACTIVE_MODEL_SETTING = "active_model_folder"
MODEL_DIR_ENVIRONMENT = "ENGINE_MODEL_DIR"  # overrides the shipped default model folder
TOP_TAG_COUNT = 3
HARMONIC_OVERSAMPLE = 8  # neighbours fetched per wanted result before key filtering

Query = str | int | Path


class LibraryError(Exception):
    """Base of every error the library raises; the message is one line fit for a user."""


class LibraryOpenError(LibraryError):
    """The database cannot be opened."""


class ModelUnavailableError(LibraryError):
    """No usable model: the default is missing or a model folder is invalid."""


class QueryError(LibraryError):
    """A query (file path or track id) cannot be used; ``reason`` is short, ``query`` as given."""

    def __init__(self, query: Query, reason: str) -> None:
        super().__init__(f"{query}: {reason}")
        self.query = query
        self.reason = reason


def default_database_path() -> Path:
    """``<user data dir>/semisup-music/library.db`` (created on first use)."""
    folder = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / DATABASE_FILE


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
        self._model_problem: str | None = None
        self._vector_indexes: dict[str, VectorIndex] = {}
        self._landmark_index: LandmarkIndex | None = None
        self._explicit_model = model_dir is not None
        if model_dir is not None:
            folder = model_dir if Path(model_dir).is_dir() else self.registered_model_folder(model_dir)
            if folder is None:
                self.store.close()
                raise ModelUnavailableError(f"{model_dir}: neither a model folder nor a registered model (see `engine info`)")
            self._use_spec(_read_model_spec(folder))

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
                raise ModelUnavailableError(self._model_problem)
            return self._spec

    def _find_default_model(self) -> str | None:
        """Try the remembered model folder, then the shipped default; returns why neither works."""
        remembered = self.store.get_setting(ACTIVE_MODEL_SETTING)
        for folder in [Path(remembered)] if remembered else []:
            if folder.is_dir():
                try:
                    self._use_spec(_read_model_spec(folder))
                    return None
                except ModelUnavailableError:
                    pass
        default = Path(os.environ.get(MODEL_DIR_ENVIRONMENT) or DEFAULT_MODEL_DIR)
        try:
            self._use_spec(_read_model_spec(default))
            return None
        except ModelUnavailableError as error:
            return f"no usable model: {error} (pass --model DIR or set {MODEL_DIR_ENVIRONMENT})"

    @property
    def active_model_id(self) -> str | None:
        try:
            return self.model_spec().model_id
        except ModelUnavailableError:
            return None

    def models(self) -> list[ModelInfo]:
        active = self.active_model_id
        return [
            ModelInfo(stored.model_id, stored.name, stored.folder, stored.embedding_dim, stored.tag_names,
                      stored.analysed, stored.model_id == active)
            for stored in self.store.models()
        ]

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

    def registered_model_folder(self, reference: Path | str) -> Path | None:
        """The folder of a registered model named by its model id or name (the newest of that name); None when
        no registered model has that id or name."""
        registered = self.store.models()  # oldest first
        matches = [stored for stored in registered if stored.model_id == str(reference)]
        matches = matches or [stored for stored in reversed(registered) if stored.name == str(reference)]
        return Path(matches[0].folder) if matches else None

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
        folder = os.path.abspath(os.fspath(path))
        if not os.path.isdir(folder):
            raise LibraryError(f"not a folder: {display_path(folder)}")
        return self.store.add_folder(folder)

    def remove_folder(self, path: Path | str) -> int:
        """Forget a folder and its tracks; returns how many tracks left the library."""
        return self.store.remove_folder(os.path.abspath(os.fspath(path)))

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
        return self.store.restore_excluded([os.path.abspath(os.fspath(path)) for path in paths])

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
        roots = [os.path.abspath(os.fspath(path)) for path in paths] if paths else self.folders()
        if not roots:
            raise LibraryError("the library has no folders yet: give a folder to index")
        for root in roots:
            if not os.path.exists(root):
                raise LibraryError(f"not found: {display_path(root)}")
        for root in roots:
            if os.path.isdir(root):
                self.store.add_folder(root)
        self.store.restore_excluded([root for root in roots if not os.path.isdir(root)])  # a file named is wanted
        self.store.forget_problems(roots, transient_only=not retry_problems)
        if progress is not None:
            progress(IndexProgress("scan", 0, 0, 0.0, 0.0, scan_finished=False))
        with BackgroundScan(roots) as scan:  # walks while torch loads and the first files are analysed
            settings = DecodeSettings(spec.config.sample_rate, spec.config.window_samples, max_windows)
            planner = StreamingPlanner(self.store, roots, spec.model_id, settings)
            pipeline = AnalysisPipeline(lambda: self._analyzer(max_windows, batch_windows), self.store,
                                        spec.model_id, workers, progress, cancel, max_windows, batch_windows)
            result = pipeline.run(planner.jobs(scan, on_planned=pipeline.report_progress),
                                  lambda: planner.counts(scan.found, scan.finished))
        plan = planner.plan
        for move in plan.moves:
            self.store.move_track(move.track_id, move.new_path, move.mtime_ns)
        self.store.record_problems(plan.new_problems)
        if planner.complete:  # a cancelled run has not seen every file: nothing is taken for gone
            self.store.remove_tracks(plan.removed_track_ids)
            self.store.remove_problems(plan.stale_problem_keys)
        self._save_caches(spec)
        return IndexReport(
            added=result.added,
            updated=result.updated + plan.moved_only,
            unchanged=plan.unchanged,
            removed=len(plan.removed_track_ids) + result.removed,
            problems=self.store.problem_count(roots),
            seconds=time.monotonic() - started,
            moved=len(plan.moves),
            analysed=result.analysed,
            audio_seconds=result.audio_seconds,
            cancelled=result.cancelled,
            excluded=plan.excluded,
        )

    def _analyzer(self, max_windows: int, batch_windows: int) -> Analyzer:
        """The active model ready to analyse: torch is imported here, only when an index run has files to analyse."""
        from engine.analyzer import Analyzer

        return Analyzer(self.model(), max_windows, batch_windows)

    # -- browsing -------------------------------------------------------------------------------------
    def track_count(self, filter_text: str = "") -> int:
        return self.store.track_count(filter_text)

    def tracks(
        self, offset: int = 0, limit: int = 100, order_by: str = "artist", descending: bool = False,
        filter_text: str = "",
    ) -> list[TrackRow]:
        """One page of tracks. ``order_by``: artist, title, album, genre, year, duration, added, path, bpm, or by
        the active model's analysis: key (Camelot order 1A, 1B, 2A …) and top_tag (A-Z); unanalysed tracks last."""
        model_id, tag_names = self._browse_model()
        try:
            rows = self.store.track_rows(model_id, offset, limit, order_by, descending, filter_text)
        except ValueError as error:
            raise LibraryError(str(error)) from None
        return [_track_row(row, tag_names) for row in rows]

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
        return [Problem(path, reason, display_path(path)) for path, reason in self.store.problems()]

    def info(self) -> LibraryInfo:
        model_id = self.active_model_id
        analysed = len(self.store.analysed_track_ids(model_id)) if model_id else 0
        return LibraryInfo(self.store.track_count(), self.store.problem_count(), model_id,
                           [display_path(folder) for folder in self.folders()], analysed, str(self.db_path))

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
        model_id, tag_names = self._browse_model()
        rows = self.store.track_rows_by_ids(model_id, list(track_ids))
        return {track_id: _track_row(row, tag_names) for track_id, row in rows.items()}

    # -- analysis of single files ---------------------------------------------------------------------
    def analyze_file(self, path: Path | str) -> FileAnalysis:
        """Analyse any audio file with the active model (not stored). Raises ``QueryError`` if undecodable."""
        from engine.analyzer import Analyzer
        from engine.audio import AudioDecodeError

        model = self.model()
        _require_regular_file(path, missing="file not found")
        try:
            analysis = Analyzer(model).analyze_file(path)
        except AudioDecodeError as error:
            raise QueryError(path, error.reason) from None
        return _file_analysis(str(path), analysis, model)

    def analysis_for_path(self, path: Path | str) -> FileAnalysis:
        """The stored analysis when ``path`` is indexed, unchanged and analysed by the active model; else fresh."""
        model = self.model_spec()
        absolute = os.path.abspath(os.fspath(path))
        track_id = self.store.track_id_for_path(absolute)
        if track_id is not None and self._is_current(track_id, absolute):
            stored = self.store.analysis_of(track_id, model.model_id)
            if stored is not None:
                return _file_analysis(os.fspath(path), stored, model)
        return self.analyze_file(path)

    def tempo_for_path(self, path: Path | str) -> TempoEstimate:
        """The stored tempo estimate when ``path`` is indexed, unchanged and analysed by the active model; else
        estimated now (no model needed). Raises ``QueryError`` when the file does not decode or has no tempo."""
        absolute = os.path.abspath(os.fspath(path))
        track_id = self.store.track_id_for_path(absolute)
        if track_id is not None and self._is_current(track_id, absolute):
            row = self.track(track_id)
            if row is not None and row.estimated_bpm is not None:
                return TempoEstimate(row.estimated_bpm, row.bpm_confidence or 0.0)
        from engine.audio import AudioDecodeError
        from engine.tempo_audio import file_tempo

        _require_regular_file(path, missing="file not found")  # a FIFO would block the decoder forever
        try:
            return file_tempo(path)
        except (AudioDecodeError, TempoError) as error:
            raise QueryError(path, error.reason) from None

    def _is_current(self, track_id: int, path: str) -> bool:
        row = self.store.track_rows_by_ids(None, [track_id]).get(track_id)
        try:
            stat = os.stat(path)
        except OSError:
            return False
        return row is not None and row.size == stat.st_size and row.mtime_ns == stat.st_mtime_ns

    # -- writing tags into files (only on request) -----------------------------------------------------
    def write_key(self, query: Query, notation: str = "standard", overwrite: bool = False,
                  key: KeyInfo | None = None) -> KeyWrite:
        """Write the active model's key of a track (id or file path) into its file's key tag, safely (see
        ``engine.tag_writer``); ``key`` skips the lookup when the caller has it. Problems come back in the
        result, never raised (except ``ModelUnavailableError``)."""
        path = self._path_of(query)
        if path is None:
            return KeyWrite(None, TagWriteResult(str(query), problem="no such track"))
        if key is None:
            try:
                key = self.analysis_for_path(path).key
            except QueryError as error:
                return KeyWrite(None, TagWriteResult(path, problem=error.reason))
        if key is None:
            return KeyWrite(None, TagWriteResult(path, problem="the model has no key head"))
        return KeyWrite(key, self._recorded(tag_writer.write_key(path, key.to_key(), notation, overwrite)))

    def write_bpm(self, query: Query, overwrite: bool = False, tempo: TempoEstimate | None = None) -> BpmWrite:
        """Write a track's (id or file path) estimated tempo into its file's tempo tag, safely, like ``write_key``;
        ``tempo`` skips the estimate when the caller has it. Problems come back in the result, never raised."""
        path = self._path_of(query)
        if path is None:
            return BpmWrite(None, TagWriteResult(str(query), problem="no such track"))
        if tempo is None:
            try:
                tempo = self.tempo_for_path(path)
            except QueryError as error:
                return BpmWrite(None, TagWriteResult(path, problem=error.reason))
        return BpmWrite(tempo, self._recorded(tag_writer.write_bpm(path, tempo.bpm, overwrite)))

    def write_tags(self, path: Path | str, values_by_field: dict[str, list[str]],
                   on_existing: ExistingPolicy = "keep") -> TagWriteResult:
        """Write text fields (genre, mood, grouping, key) into a file safely; see ``tag_writer.write_tags``."""
        return self._recorded(tag_writer.write_tags(os.path.abspath(os.fspath(path)), values_by_field, on_existing))

    def _path_of(self, query: Query) -> str | None:
        track_id = _as_track_id(query)
        if track_id is None:
            return os.path.abspath(os.fspath(query))
        row = self.track(track_id)
        return row.path if row is not None else None

    def _recorded(self, result: TagWriteResult) -> TagWriteResult:
        """A track whose row matched the file before the write now matches it after: no re-analysis needed
        (a row that was already stale stays stale, so the next scan still analyses the changed audio)."""
        track_id = self.store.track_id_for_path(result.path)
        if not result.changed or track_id is None:
            return result
        row = self.store.track_rows_by_ids(None, [track_id]).get(track_id)
        if row is None or (row.size, row.mtime_ns) != (result.before.size, result.before.mtime_ns):
            return result
        try:
            digest = quick_hash(result.path, result.after.size)
        except OSError:
            return result
        self.store.update_file_state(track_id, result.path, result.after.size, result.after.mtime_ns, digest,
                                     read_metadata(result.path))
        return result

    # -- similarity -----------------------------------------------------------------------------------
    def resolve_query(self, query: Query) -> tuple[int | None, np.ndarray, KeyInfo | None]:
        """(own track id or None, unit embedding (D,), key) of a file path or track id."""
        model = self.model_spec()
        track_id = _as_track_id(query)
        if track_id is not None:
            embedding = self._vector_index(model).vector_of(track_id)
            row = self.track(track_id)
            if embedding is None or row is None:
                reason = "no such track" if row is None else "track not analysed by the active model"
                raise QueryError(query, reason)
            return track_id, embedding, row.key
        path = _require_regular_file(query)
        analysis = self.analysis_for_path(path)
        return self.store.track_id_for_path(path), analysis.embedding, analysis.key

    def similar(self, query: Query, k: int = 10, harmonic: bool = False,
                bpm_range: float | None = None) -> list[SimilarTrack]:
        """The ``k`` most similar tracks to a file (indexed or not) or track id, best first, never the query's own
        track. For a file, tracks that are the same recording (landmark hashes line up: a copy, a re-encode, the
        track an excerpt comes from) come first with score 1.0, then the embedding's neighbours. ``harmonic`` keeps only tracks
        whose key mixes with the query's (Camelot rule); ``bpm_range`` only tracks whose tempo is within that many
        percent of the query's, half and double tempo included (``tempo_range.tempos_match``)."""
        own_track_id, recordings = self._same_recordings(query)
        neighbours, mixes = self._embedding_neighbours(query, k + len(recordings), harmonic, own_track_id, bpm_range)
        if not recordings:
            return neighbours[:k]
        rows = self._rows_by_ids([match.track_id for match in recordings])
        first = [SimilarTrack(rows[m.track_id], 1.0, True, m.aligned_hashes) for m in recordings if m.track_id in rows]
        first = [result for result in first if mixes(result.track)]
        matched = {result.track.id for result in first}
        return (first + [result for result in neighbours if result.track.id not in matched])[:k]

    def _same_recordings(self, query: Query) -> tuple[int | None, list[RecordingMatch]]:
        """(the query's own track id or None, the library tracks its landmarks say are the same recording).
        A track id is answered by the vector index alone (a lookup of its hashes would take a 100k-track query
        past its 2 ms; BENCHMARKS.md, "Same-recording matching"); a file, indexed or not, also by the landmark index."""
        track_id = _as_track_id(query)
        if track_id is not None:
            return track_id, []
        path = _require_regular_file(query)
        own = self.store.track_id_for_path(path)
        found = self.store.landmarks_of(own) if own is not None and self._is_current(own, path) else None
        if found is None:
            from engine.audio import AudioDecodeError
            from engine.landmark_audio import query_landmarks

            model = self.model_spec()
            try:
                found = query_landmarks(path, model.config.sample_rate, model.config.window_samples, DEFAULT_MAX_WINDOWS)
            except AudioDecodeError as error:
                raise QueryError(query, error.reason) from None
        return own, self.landmark_index().same_recordings(found, exclude_track_id=own)

    def _embedding_neighbours(
        self, query: Query, k: int, harmonic: bool, own_track_id: int | None, bpm_range: float | None = None,
    ) -> tuple[list[SimilarTrack], Callable[[TrackRow], bool]]:
        """The embedding's ``k`` nearest tracks to the query (never ``own_track_id``) that mix with it (key and
        tempo filters), and that test of a track."""
        index = self._vector_index(self.model_spec())
        embedding = index.vector_of(own_track_id) if _as_track_id(query) is not None else None
        # An indexed track's own row comes with the first page of hits: one database round trip, not two
        # (they are most of a query's time at 100k tracks).
        own_row_pending = embedding is not None
        filtered = harmonic or bpm_range is not None
        mixes: Callable[[TrackRow], bool] = lambda _row: True  # noqa: E731 (replaced once the query is known)
        if not own_row_pending:
            _, embedding, query_key = self.resolve_query(query)
            query_bpm = self.tempo_for_path(query).bpm if bpm_range is not None else None
            mixes = self._mix_test(query, harmonic, query_key, bpm_range, query_bpm)
        wanted = k * HARMONIC_OVERSAMPLE if filtered else k + 1
        while True:
            # A file outside the library has paid ~150 ms to decode and embed: it gets an exact scan.
            scores, track_ids = index.search(embedding[None, :], wanted, exact=own_track_id is None)
            hits = [(int(t), float(s)) for t, s in zip(track_ids[0], scores[0]) if t >= 0 and t != own_track_id]
            rows = self._rows_by_ids([track_id for track_id, _ in hits] + ([own_track_id] if own_row_pending else []))
            if own_row_pending:
                if own_track_id not in rows:
                    raise QueryError(query, "no such track")
                own = rows[own_track_id]
                mixes, own_row_pending = self._mix_test(query, harmonic, own.key, bpm_range, own.mixing_bpm), False
            results = [SimilarTrack(rows[t], score) for t, score in hits if t in rows]
            results = [result for result in results if mixes(result.track)]
            exhausted = len(track_ids[0]) < wanted or index.size <= wanted
            if len(results) >= k or exhausted or not filtered:
                return results[:k], mixes
            wanted *= HARMONIC_OVERSAMPLE

    @staticmethod
    def _mix_test(query: Query, harmonic: bool, query_key: KeyInfo | None, bpm_range: float | None,
                  query_bpm: float | None) -> Callable[[TrackRow], bool]:
        """Whether a track mixes with the query: its key on the Camelot rule (``harmonic``) and its tempo within
        ``bpm_range`` % (half / double included). Raises ``QueryError`` when the query's key or tempo is unknown."""
        if harmonic and query_key is None:
            raise QueryError(query, "key unknown (the model has no key head and the file no key tag)")
        if bpm_range is not None and query_bpm is None:
            raise QueryError(query, "tempo unknown (no estimate and no BPM tag)")

        def mixes(row: TrackRow) -> bool:
            if harmonic and not (row.key and keys_mix_harmonically(query_key.to_key(), row.key.to_key())):
                return False
            return bpm_range is None or (row.mixing_bpm is not None and tempos_match(query_bpm, row.mixing_bpm, bpm_range))

        return mixes

    # -- duplicates -----------------------------------------------------------------------------------
    def duplicate_groups(self, cancel: threading.Event | None = None) -> list[DuplicateGroup]:
        """Groups of tracks that are one recording (copies, re-encodes, and an excerpt with its track), each
        track's landmarks looked up in the landmark index as ``similar FILE`` does; in each group the copy most
        worth keeping first (``duplicates.keep_order``). Tracks without landmarks are not looked at. ``cancel``
        stops early (the groups found so far are returned)."""
        index = self.landmark_index()
        pairs: list[tuple[int, int]] = []

        def match(rows) -> None:
            for track_id, landmarks in rows:
                if cancel is not None and cancel.is_set():
                    return
                pairs.extend((track_id, found.track_id)
                             for found in index.same_recordings(landmarks, exclude_track_id=track_id))

        self.store.landmarks_since(0, match)
        groups = connected_groups(pairs)
        model_id, tag_names = self._browse_model()
        stored = self.store.track_rows_by_ids(model_id, [track_id for group in groups for track_id in group])
        found = []
        for group in groups:
            copies = [DuplicateCopy(_track_row(stored[t], tag_names), stored[t].size) for t in group if t in stored]
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
    def playlist(self, seed: Query, n: int, bpm_range: float | None = None) -> list[TrackRow]:
        """A radio walk of up to ``n`` tracks from an indexed seed (file path or track id). ``bpm_range``: every
        track's tempo is within that many percent of the seed's (half / double included)."""
        own_track_id, _, _ = self.resolve_query(seed)
        if own_track_id is None:
            raise QueryError(seed, "the seed must be a track in the library (index it first)")
        index = self._vector_index(self.model_spec())
        artists: dict[int, str | None] = {}
        seed_bpm = self.track(own_track_id).mixing_bpm if bpm_range is not None else None
        if bpm_range is not None and seed_bpm is None:
            raise QueryError(seed, "tempo unknown (no estimate and no BPM tag)")

        def in_range(track_ids: list[int]) -> list[int]:
            rows = self._rows_by_ids(track_ids)
            return [t for t in track_ids if t in rows and rows[t].mixing_bpm is not None
                    and tempos_match(seed_bpm, rows[t].mixing_bpm, bpm_range)]

        def neighbours(track_id: int, count: int) -> list[int]:
            """``count`` nearest tracks (fewer only when the library has no more), in the tempo range if any."""
            vector = index.vector_of(track_id)
            if vector is None:
                return []
            wanted = count
            while True:
                _, found = index.search(vector[None, :], wanted + 1)
                found_ids = [int(t) for t in found[0] if t >= 0 and t != track_id]
                kept = found_ids if bpm_range is None else in_range(found_ids)
                if len(kept) >= count or len(found_ids) < wanted or index.size <= wanted:
                    return kept[:count]
                wanted *= HARMONIC_OVERSAMPLE

        def artist_of(track_id: int) -> str | None:
            if track_id not in artists:
                row = self.track(track_id)
                artists[track_id] = row.artist if row else None
            return artists[track_id]

        order = radio_walk(own_track_id, n, neighbours, artist_of)
        rows = self._rows_by_ids(order)
        return [rows[track_id] for track_id in order if track_id in rows]

    def write_m3u8(self, tracks: Sequence[TrackRow], path: Path | str, overwrite: bool = False) -> Path:
        """Save a playlist (``playlist.write_m3u8``); an existing file only with ``overwrite``, never the
        library's own database files. Raises ``LibraryError`` when the target is refused."""
        return self._write_playlist_file(lambda protected: write_m3u8(tracks, path, overwrite, protected))

    def write_rekordbox_xml(self, tracks: Sequence[TrackRow], playlist_name: str, path: Path | str,
                            overwrite: bool = False) -> Path:
        """Save tracks as a rekordbox XML collection with one playlist (``crate_export``), refused like
        ``write_m3u8``."""
        return self._write_playlist_file(
            lambda protected: write_rekordbox_xml(tracks, playlist_name, path, overwrite, protected))

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


def _read_model_spec(folder: Path | str) -> ModelSpec:
    try:
        return read_model_spec(folder)
    except ModelLoadError as error:
        raise ModelUnavailableError(str(error)) from None


def _load_model_folder(folder: Path | str) -> LoadedModel:
    return _load_network(_read_model_spec(folder))


def _load_network(spec: ModelSpec) -> LoadedModel:
    from engine.model_folder import load_network  # torch: only when something is analysed

    try:
        return load_network(spec)
    except ModelLoadError as error:
        raise ModelUnavailableError(str(error)) from None


def _require_regular_file(query: Query, missing: str = "no such file or track id") -> str:
    """The absolute path of a query file; ``QueryError`` for a missing one (reason ``missing``) and for a FIFO,
    device or folder, which decoding would block on forever or misread."""
    path = os.path.abspath(os.fspath(query))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise QueryError(query, missing) from None
    except OSError as error:
        raise QueryError(query, f"cannot stat ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise QueryError(query, "not a regular file")
    return path


def _as_track_id(query: Query) -> int | None:
    """An int, or a string of digits that is not an existing file, is a track id."""
    if isinstance(query, bool):
        return None
    if isinstance(query, int):
        return query
    if isinstance(query, str) and query.strip().isdigit() and not os.path.exists(query):
        return int(query)
    return None


def _key_info(key_index: int | None, confidence: float | None, tag_key: str | None) -> KeyInfo | None:
    if key_index is not None:
        return KeyInfo.from_key(key_from_index(key_index), confidence, "analysis")
    parsed = parse_key(tag_key) if tag_key else None
    return KeyInfo.from_key(parsed, None, "tag") if parsed else None


def _top_tags(tag_probs: bytes | None, tag_names: list[str]) -> list[tuple[str, float]]:
    probabilities = unblob(tag_probs)
    if probabilities is None or len(probabilities) != len(tag_names):
        return []
    order = np.argsort(-probabilities)[:TOP_TAG_COUNT]
    return [(tag_names[i], float(probabilities[i])) for i in order]


def _track_row(stored: StoredTrack, tag_names: list[str]) -> TrackRow:
    return TrackRow(
        id=stored.id, path=path_from_key(stored.path_key), title=stored.title, artist=stored.artist,
        album=stored.album, album_artist=stored.album_artist, genre=stored.genre, year=stored.year,
        track_number=stored.track_number, duration=stored.duration, codec=stored.codec, bitrate=stored.bitrate,
        bpm=stored.bpm, key=_key_info(stored.key_index, stored.key_confidence, stored.tag_key),
        top_tags=_top_tags(stored.tag_probs, tag_names), analysed=stored.analysed, display_path=stored.path,
        estimated_bpm=stored.estimated_bpm, bpm_confidence=stored.bpm_confidence,
    )


def _file_analysis(path: str, analysis: TrackAnalysis, model: ModelSpec) -> FileAnalysis:
    estimate = key_estimate(analysis.key_probs)
    key = KeyInfo.from_key(estimate.key, estimate.confidence, "analysis") if estimate else None
    tags = {}
    if analysis.tag_probs is not None:
        tags = {name: float(p) for name, p in zip(model.config.tag_names, analysis.tag_probs)}
    return FileAnalysis(path, analysis.embedding, key, tags, analysis.window_count, model.model_id)
