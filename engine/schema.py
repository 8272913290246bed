"""The library database schema (SQLAlchemy Core tables): what SQLite holds as the source of truth.

Paths are stored twice: ``path_key`` (the exact bytes, unique, so non-UTF-8 names round-trip) and
``path`` (printable text for showing and filtering). Analyses are keyed by (track, model_id), so the
vectors of two models never mix; their ``id`` is AUTOINCREMENT so (count, max id) fingerprints them.
"""

from __future__ import annotations

from sqlalchemy import (
    Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table, Text, UniqueConstraint,
)

from engine.schema_version import SCHEMA_VERSION  # noqa: F401 (re-exported)

metadata = MetaData()

settings = Table(
    "settings", metadata,
    Column("name", String, primary_key=True),
    Column("value", Text, nullable=False),
)

folders = Table(
    "folders", metadata,
    Column("id", Integer, primary_key=True),
    Column("path_key", LargeBinary, nullable=False, unique=True),
    Column("path", Text, nullable=False),
    Column("added_at", Float, nullable=False),
)

tracks = Table(
    "tracks", metadata,
    Column("id", Integer, primary_key=True),
    Column("path_key", LargeBinary, nullable=False, unique=True),
    Column("path", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("mtime_ns", Integer, nullable=False),
    Column("quick_hash", String, nullable=False),
    Column("title", Text),
    Column("artist", Text),
    Column("album", Text),
    Column("album_artist", Text),
    Column("genre", Text),
    Column("year", Integer),
    Column("track_number", Integer),
    Column("duration", Float),
    Column("codec", String),
    Column("bitrate", Integer),
    Column("sample_rate", Integer),
    Column("tag_key", String),
    Column("bpm", Float),
    Column("mood", Text),
    Column("grouping", Text),
    Column("added_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("search_text", Text),  # what the search box matches (engine.text_match; schema 9)
)
Index("ix_tracks_identity", tracks.c.size, tracks.c.quick_hash)
# One index per browse order, covering the whole ORDER BY (``store.SORT_ORDERS`` + id), so a page at any offset
# is an index walk, not a sort of the table.
_nocase = {name: tracks.c[name].collate("NOCASE") for name in ("artist", "album", "title", "genre")}
Index("ix_tracks_by_artist", _nocase["artist"], _nocase["album"], tracks.c.track_number, _nocase["title"], tracks.c.id)
Index("ix_tracks_by_title", _nocase["title"], _nocase["artist"], tracks.c.id)
Index("ix_tracks_by_album", _nocase["album"], tracks.c.track_number, _nocase["title"], tracks.c.id)
Index("ix_tracks_by_genre", _nocase["genre"], _nocase["artist"], _nocase["title"], tracks.c.id)
Index("ix_tracks_by_year", tracks.c.year, _nocase["artist"], _nocase["album"], tracks.c.id)
Index("ix_tracks_by_duration", tracks.c.duration, tracks.c.id)
Index("ix_tracks_by_added", tracks.c.added_at, tracks.c.id)
Index("ix_tracks_by_path", tracks.c.path, tracks.c.id)
Index("ix_tracks_by_bpm", tracks.c.bpm, tracks.c.id)

models = Table(
    "models", metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", String, nullable=False, unique=True),
    Column("name", String, nullable=False),
    Column("weights_sha256", String, nullable=False),
    Column("folder", Text, nullable=False),
    Column("embedding_dim", Integer, nullable=False),
    Column("tag_names", Text, nullable=False),  # JSON list
    Column("registered_at", Float, nullable=False),
)

analyses = Table(
    "analyses", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("track_id", Integer, ForeignKey("tracks.id", ondelete="CASCADE"), nullable=False),
    Column("model_id", String, nullable=False),
    Column("embedding", LargeBinary, nullable=False),  # float32 (D,)
    Column("key_index", Integer),
    Column("key_confidence", Float),
    Column("key_probs", LargeBinary),  # float32 (24,)
    Column("tag_probs", LargeBinary),  # float32 (T,)
    Column("top_tag_index", Integer),  # argmax of tag_probs, so the library can be sorted by top tag
    # The tempo estimated from the audio (engine.tempo); the file's own BPM tag stays in tracks.bpm, never replaced.
    Column("bpm", Float),
    Column("bpm_confidence", Float),
    Column("tempo_version", Integer),  # engine.tempo.TEMPO_VERSION that estimated it (set even when it found none)
    Column("window_count", Integer, nullable=False),
    Column("key_version", Integer),  # engine.track_analysis.KEY_WINDOWS_VERSION: which windows the key was read from
    Column("analyzed_at", Float, nullable=False),
    UniqueConstraint("track_id", "model_id", name="uq_analyses_track_model"),
    sqlite_autoincrement=True,
)
Index("ix_analyses_model", analyses.c.model_id, analyses.c.id)
# Sorting by key / top tag: per-category counts and each category's tracks in id order are index walks.
Index("ix_analyses_by_key", analyses.c.model_id, analyses.c.key_index, analyses.c.track_id)
Index("ix_analyses_by_top_tag", analyses.c.model_id, analyses.c.top_tag_index, analyses.c.track_id)
Index("ix_analyses_by_bpm", analyses.c.model_id, analyses.c.bpm, analyses.c.track_id)

# Kept by triggers (see ``database.py``) so that the FAISS cache can check staleness with a one-row read.
analysis_counts = Table(
    "analysis_counts", metadata,
    Column("model_id", String, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("max_id", Integer, nullable=False),
)



def counting_triggers(counted: str, counts: str, key: str) -> tuple[str, str]:
    """Triggers that keep ``counts`` (``key``, count, max_id) in step with the rows of table ``counted``."""
    return (
        f"""CREATE TRIGGER IF NOT EXISTS {counted}_counted_insert AFTER INSERT ON {counted} BEGIN
        INSERT INTO {counts} ({key}, count, max_id) VALUES (NEW.{key}, 0, 0) ON CONFLICT ({key}) DO NOTHING;
        UPDATE {counts} SET count = count + 1, max_id = max(max_id, NEW.id) WHERE {key} = NEW.{key};
    END""",
        f"""CREATE TRIGGER IF NOT EXISTS {counted}_counted_delete AFTER DELETE ON {counted} BEGIN
        UPDATE {counts} SET count = count - 1 WHERE {key} = OLD.{key};
    END""",
    )


ANALYSIS_COUNT_TRIGGERS = counting_triggers("analyses", "analysis_counts", "model_id")

problems = Table(
    "problems", metadata,
    Column("id", Integer, primary_key=True),
    Column("path_key", LargeBinary, nullable=False, unique=True),
    Column("path", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("size", Integer),
    Column("mtime_ns", Integer),
    Column("recorded_at", Float, nullable=False),
)

# Landmark hashes of each track's audio (``engine.landmarks``): they belong to the file, not to a model. The
# AUTOINCREMENT id changes whenever a track's row is replaced, so (count, max id) says whether the on-disk
# landmark index is current.
track_landmarks = Table(
    "track_landmarks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("track_id", Integer, ForeignKey("tracks.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("version", Integer, nullable=False),  # engine.landmarks.LANDMARK_VERSION that made them
    Column("hashes", LargeBinary, nullable=False),  # uint32 (N,)
    Column("frames", LargeBinary, nullable=False),  # int32 (N,): anchor times in landmark frames
    sqlite_autoincrement=True,
)

# Kept by triggers (see ``database.py``), like ``analysis_counts``: the landmark index checks staleness with a
# one-row read instead of counting the table.
landmark_counts = Table(
    "landmark_counts", metadata,
    Column("version", Integer, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("max_id", Integer, nullable=False),
)

LANDMARK_COUNT_TRIGGERS = counting_triggers("track_landmarks", "landmark_counts", "version")

# Crates: named, ordered lists of tracks a user keeps in the library (from a selection, the similar list, a radio
# walk) and exports for DJ software. A track that leaves the library leaves its crates too (ON DELETE CASCADE);
# a rescan or a move keeps the track's id, so crates follow files that are retagged or moved.
crates = Table(
    "crates", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

crate_tracks = Table(
    "crate_tracks", metadata,
    Column("crate_id", Integer, ForeignKey("crates.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),  # 0, 1, 2 … in the crate's order
    Column("track_id", Integer, ForeignKey("tracks.id", ondelete="CASCADE"), nullable=False),
)
Index("ix_crate_tracks_track", crate_tracks.c.track_id)  # the cascade from a removed track is an index seek

# Files the user took out of the library while they still lie inside a library folder: a scan skips them, so a
# removal lasts. Keyed by the exact path bytes like ``tracks`` (a file moved or renamed is a new file to the scan);
# an explicit ``index FILE`` or a restore takes a path off the list, forgetting its folder drops the entries below it.
excluded_files = Table(
    "excluded_files", metadata,
    Column("path_key", LargeBinary, primary_key=True),
    Column("path", Text, nullable=False),
    Column("excluded_at", Float, nullable=False),
    # the file's identity when it was taken out (as tracks.size / quick_hash): the exclusion follows the file when it
    # is moved or renamed, and leaves a path where another file now is; None for entries older than schema 8
    Column("size", Integer),
    Column("quick_hash", String),
)
