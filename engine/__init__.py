"""The library engine: everything between a folder of music files and "the tracks most like this one".

Public API (stable; used by the ``engine`` CLI and the Qt app) — ``engine.library.Library``::

    Library(db_path: Path | None = None, model_dir: Path | None = None, read_only=False)   # default db: platformdirs
        # user data dir; read_only: a current library is opened through a connection that cannot write
    .close() / context manager
    .folders() -> list[str];  .add_folder(path) -> bool;  .remove_folder(path) -> int
    .index(paths=None, workers=None, progress=callback(IndexProgress), cancel=threading.Event,
           max_windows=6, batch_windows=64, retry_problems=False) -> IndexReport   # one run per library (lock)
    .track_count(filter_text="") -> int
    .tracks(offset=0, limit=100, order_by="artist", descending=False, filter_text="") -> list[TrackRow]
    .track(track_id) -> TrackRow | None
    .resolve(query: str | int | Path) -> ResolvedQuery   # engine.search: a file decoded once, reused by every search
    .similar(query or ResolvedQuery, k=10, harmonic=False, bpm_range=None) -> list[SimilarTrack]
    .analyze_file(path) -> FileAnalysis;  .analysis_for_path(path) -> FileAnalysis (stored when current)
    .problems() -> list[Problem];  .info() -> LibraryInfo
    .playlist(seed, n) -> list[TrackRow];  .write_m3u8(tracks, path, overwrite=False) -> Path   # atomic
    .write_key(track id or Path, notation="standard", overwrite=False) -> KeyWrite   # into the file, verified
    .write_tags(path, {"genre": [...], "mood": [...]}, on_existing="keep") -> TagWriteResult
    .embeddings() -> (track_ids (N,), embeddings (N, D))
    .models() -> list[ModelInfo];  .use_model(folder) -> model_id;  .model() -> LoadedModel;  .active_model_id

Errors are ``engine.library.LibraryError`` subclasses (``LibraryOpenError``, ``ModelUnavailableError``,
``QueryError``) with one user-facing line. Value types live in ``engine.results``.

Modules, in data-flow order: scan (find + fingerprint files) → planner (what changed) → decoding
(worker stage: windows + tags) → analyzer (model → embedding, key, tags) → store (SQLite, the truth)
→ vector_index (FAISS cache) → search (queries, owned by library) → library (the API) → cli / json_shapes / cli_progress + progress_text (the command).
Writing tags on request: tag_writer (what to write, verified) → tag_fields (per tag format) → safe_replace.
"""
