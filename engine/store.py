"""The music-domain operations on the library database: tracks, analyses, problems, folders, models.

Every write that belongs together is one transaction: a track row and its analysis are committed
together, so a killed run leaves either a finished track or nothing, and the next run resumes.
Reads hand out typed records (``engine.records``), not rows keyed by column names.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import and_, bindparam, delete, false, func, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement

from engine import library_reads
from engine.library_reads import EMBEDDING_BATCH_ROWS, Consumed, EmbeddingBatch, id_chunks, unblob
from engine.database import inspect_database, open_database
from engine.keys import KEY_INDICES_IN_CAMELOT_ORDER
from engine.metadata import TrackMetadata
from engine.records import Crate, ExcludedFile, StoredModel, StoredTrack, TaggedTrack
from engine.scan import display_path, path_from_key, path_key, under_prefix_bounds
from engine.schema import (
    analyses, crate_tracks, crates, excluded_files, folders, landmark_counts, models, problems,
    settings, track_landmarks, tracks,
)
from engine.text_match import search_pattern, search_text
from engine.track_analysis import KEY_WINDOWS_VERSION, TrackAnalysis, top_tag_index

if TYPE_CHECKING:  # imported where arrays are read or written: ``engine info`` / ``problems`` start without numpy
    import numpy as np

    from engine.landmarks import Landmarks
    from engine.tempo import TempoEstimate

Read = TypeVar("Read")  # what a read of ``engine.library_reads`` returns
ConsumedRows = TypeVar("ConsumedRows")  # what a caller of ``landmarks_since`` makes of the rows
SORT_ORDERS = {
    "artist": ("artist", "album", "track_number", "title"),
    "title": ("title", "artist"),
    "album": ("album", "track_number", "title"),
    "genre": ("genre", "artist", "title"),
    "year": ("year", "artist", "album"),
    "duration": ("duration",),
    "added": ("added_at",),
    "path": ("path",),
    "tag_bpm": ("bpm",),  # the file's own BPM tag; "bpm" sorts by the estimated tempo (``_page_ids_by_tempo``)
}
TEXT_SORT_COLUMNS = frozenset({"artist", "album", "title", "genre"})
# Sorts by what the active model found: a small category per analysis, shown in a musical or alphabetical order
# (Camelot wheel; tag names A-Z), each category's tracks in id order; tracks without one come last.
ANALYSIS_SORT_ORDERS = {"key": "key_index", "top_tag": "top_tag_index"}
TEMPO_SORT_ORDER = "bpm"  # by the active model's estimated tempo, slowest first; tracks without one last


@dataclass(frozen=True)
class KnownFile:
    """What the database remembers about a path, to decide unchanged / changed / moved."""

    track_id: int
    size: int
    mtime_ns: int
    quick_hash: str


@dataclass
class NewTrack:
    """A decoded and analysed file ready to store; ``track_id`` set when it replaces an existing row."""

    path: str
    size: int
    mtime_ns: int
    quick_hash: str
    metadata: TrackMetadata
    analysis: TrackAnalysis
    track_id: int | None = None
    file_changed: bool = True  # False: keep other models' analyses of this track
    landmarks: Landmarks | None = None  # None: the stored ones stay
    tempo: TempoEstimate | None = None
    tempo_estimated: bool = False  # the tempo was looked for (``tempo`` None: the audio gave none)


@dataclass(frozen=True)
class ProblemRecord:
    path: str
    reason: str
    size: int | None = None
    mtime_ns: int | None = None


def _blob(array: np.ndarray | None) -> bytes | None:
    import numpy as np

    return None if array is None else np.ascontiguousarray(array, dtype=np.float32).tobytes()


def _landmark_version() -> int:
    """The landmark version this code extracts (``engine.landmarks`` needs numpy: imported by the queries that ask)."""
    from engine.landmarks import LANDMARK_VERSION

    return LANDMARK_VERSION


def _tempo_version() -> int:
    """The tempo estimator's version (``engine.tempo`` needs numpy: imported by the queries that ask)."""
    from engine.tempo import TEMPO_VERSION

    return TEMPO_VERSION


def _under(column, roots: Iterable[str]) -> ColumnElement:
    """Rows whose path key is a root itself or lies below a root folder."""
    clauses = []
    for root in roots:
        low, high = under_prefix_bounds(root)
        clauses.append(or_(column == path_key(root.rstrip(os.sep) or os.sep), and_(column >= low, column < high)))
    return or_(*clauses) if clauses else false()


class Store:
    """One open library database. Not thread-safe per call sequence; open one per thread or guard it."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        """``read_only``: a current library is opened through a connection that cannot write (see
        ``database.open_database``), or where there is no file an empty one in memory; ``self.read_only`` says
        whether that happened."""
        self.path = Path(path)
        # Read only where no file is: an empty library in memory answers, and nothing (not its caches) is created.
        self.in_memory = read_only and not self.path.exists()
        # A library file this user may not change (read-only media, another user's library) is opened read-only
        # even by a writer: browsing and searching work, and what would write says why it cannot.
        self.file_read_only = (not read_only and self.path.is_file() and not os.access(self.path, os.W_OK)
                               and inspect_database(self.path).current)
        self.engine = open_database(self.path, read_only or self.file_read_only)
        self.read_only = self.file_read_only or (read_only and (self.in_memory or inspect_database(self.path).current))
        self._category_counts_cache: dict[tuple[str, str], tuple[tuple[int, int], dict[int, int]]] = {}

    def close(self) -> None:
        self.engine.dispose()

    def read(self, read: Callable[..., Read], *arguments) -> Read:
        """``read(connection, *arguments)`` on the driver's own (``sqlite3``) connection: the reads of
        ``engine.library_reads`` and ``engine.library_summary``, which the reading commands also run without
        SQLAlchemy."""
        with self.engine.connect() as connection:
            return read(connection.connection.driver_connection, *arguments)

    # -- settings ---------------------------------------------------------------------------------
    def get_setting(self, name: str) -> str | None:
        return self.read(library_reads.setting, name)

    def set_setting(self, name: str, value: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(settings).where(settings.c.name == name))
            connection.execute(settings.insert().values(name=name, value=value))

    # -- folders ----------------------------------------------------------------------------------
    def folders(self) -> list[str]:
        return [path_from_key(key) for key in self.read(library_reads.folder_keys)]

    def add_folder(self, path: str) -> bool:
        """Register a library folder; False if it was already registered."""
        key = path_key(path)
        with self.engine.begin() as connection:
            if connection.execute(select(folders.c.id).where(folders.c.path_key == key)).first():
                return False
            connection.execute(folders.insert().values(path_key=key, path=display_path(path), added_at=time.time()))
        return True

    def remove_folder(self, path: str) -> int:
        """Forget a folder and the tracks and problems below it, but for those another library folder covers (one
        above it: all of them; one inside it: that folder's)."""
        remaining = [folder for folder in self.folders() if folder != path]
        covered = [folder for folder in remaining if path.startswith(folder.rstrip(os.sep) + os.sep)]
        inside = [folder for folder in remaining if folder.startswith(path.rstrip(os.sep) + os.sep)]
        with self.engine.begin() as connection:
            connection.execute(delete(folders).where(folders.c.path_key == path_key(path)))
            if covered:
                return 0
            def below_only(table):
                return _under(table.c.path_key, [path]) & ~_under(table.c.path_key, inside)

            removed = connection.execute(delete(tracks).where(below_only(tracks))).rowcount
            connection.execute(delete(problems).where(below_only(problems)))
            connection.execute(delete(excluded_files).where(below_only(excluded_files)))
        return removed

    # -- what is known under some roots -------------------------------------------------------------
    def known_files_under(self, roots: Sequence[str]) -> dict[bytes, KnownFile]:
        query = select(tracks.c.path_key, tracks.c.id, tracks.c.size, tracks.c.mtime_ns, tracks.c.quick_hash).where(
            _under(tracks.c.path_key, roots)
        )
        with self.engine.connect() as connection:
            return {row[0]: KnownFile(row[1], row[2], row[3], row[4]) for row in connection.execute(query)}

    def known_problems_under(self, roots: Sequence[str]) -> dict[bytes, tuple[int | None, int | None, str]]:
        query = select(problems.c.path_key, problems.c.size, problems.c.mtime_ns, problems.c.reason).where(
            _under(problems.c.path_key, roots)
        )
        with self.engine.connect() as connection:
            return {row[0]: (row[1], row[2], row[3]) for row in connection.execute(query)}

    def analysed_track_ids_up_to(self, model_id: str, up_to_analysis_id: int) -> np.ndarray:
        """Track ids (N,) int64 of the model's analyses with id <= ``up_to_analysis_id`` (``library_reads``)."""
        return self.read(library_reads.analysed_track_ids_up_to, model_id, up_to_analysis_id)

    def current_track_ids(self, model_id: str) -> tuple[set[int], set[int]]:
        """Tracks whose analysis by ``model_id`` has a key and landmarks of the current versions, split in two: those
        with a tempo of this estimator too (nothing left to do), and those with an older estimator's tempo or none
        estimated (a new estimate of the tempo alone brings them up to date)."""
        query = select(analyses.c.track_id, analyses.c.tempo_version).join(
            track_landmarks, track_landmarks.c.track_id == analyses.c.track_id).where(
            analyses.c.model_id == model_id, track_landmarks.c.version == _landmark_version(),
            analyses.c.key_version == KEY_WINDOWS_VERSION)
        finished: set[int] = set()
        tempo_due: set[int] = set()
        current = _tempo_version()
        with self.engine.connect() as connection:
            for track_id, tempo_version in connection.execute(query):
                (finished if tempo_version == current else tempo_due).add(track_id)
        return finished, tempo_due

    def save_tempos(self, tempos: Sequence[tuple[int, TempoEstimate | None]], model_id: str) -> None:
        """Replace the tempo of each track's analysis by ``model_id`` (None: its audio gives none) with this
        estimator's, in one transaction; the rest of the analysis (its row, its vector) stays as it is."""
        with self.engine.begin() as connection:
            for track_id, tempo in tempos:
                connection.execute(update(analyses).where(analyses.c.track_id == track_id,
                                                          analyses.c.model_id == model_id).values(
                    bpm=tempo.bpm if tempo else None, bpm_confidence=tempo.confidence if tempo else None,
                    tempo_version=_tempo_version()))

    def tracks_with_identity(self, size: int, quick_hash: str) -> list[tuple[int, str]]:
        query = select(tracks.c.id, tracks.c.path_key).where(tracks.c.size == size, tracks.c.quick_hash == quick_hash)
        with self.engine.connect() as connection:
            return [(row[0], path_from_key(row[1])) for row in connection.execute(query)]

    # -- writes -----------------------------------------------------------------------------------
    def save_tracks(self, items: Sequence[NewTrack], model_id: str) -> list[int]:
        """Insert or replace track rows with their analysis by ``model_id``, in one transaction."""
        now = time.time()
        track_ids = []
        with self.engine.begin() as connection:
            for item in items:
                values = _track_values(item, now)
                if item.track_id is None:
                    track_id = connection.execute(tracks.insert().values(added_at=now, **values)).inserted_primary_key[0]
                else:
                    track_id = item.track_id
                    if not connection.execute(update(tracks).where(tracks.c.id == track_id).values(**values)).rowcount:
                        continue  # removed while it was analysed (another process, the app): it stays removed
                    stale = analyses.c.track_id == track_id
                    if not item.file_changed:
                        stale = and_(stale, analyses.c.model_id == model_id)
                    connection.execute(delete(analyses).where(stale))
                connection.execute(analyses.insert().values(**_analysis_values(item, track_id, model_id, now)))
                if item.landmarks is not None and (item.file_changed or not _has_current_landmarks(connection, track_id)):
                    # an unchanged file (another model's analysis) keeps its rows, so the landmark index stays valid
                    connection.execute(delete(track_landmarks).where(track_landmarks.c.track_id == track_id))
                    connection.execute(track_landmarks.insert().values(**_landmark_values(item.landmarks, track_id)))
                connection.execute(delete(problems).where(problems.c.path_key == values["path_key"]))
                track_ids.append(track_id)
        return track_ids

    def move_track(self, track_id: int, path: str, mtime_ns: int, metadata: TrackMetadata) -> None:
        """A known file found under another name: its path, and what follows the name, from ``metadata`` (its tags,
        read again): its title (a file without a title tag is titled by its name) and its search text."""
        key = path_key(path)
        with self.engine.begin() as connection:
            connection.execute(update(tracks).where(tracks.c.id == track_id).values(
                path_key=key, path=display_path(path), mtime_ns=mtime_ns, updated_at=time.time(),
                title=stored_title(path, metadata), search_text=_search_text(path, metadata)))
            connection.execute(delete(problems).where(problems.c.path_key == key))

    def update_file_state(
        self, track_id: int, path: str, size: int, mtime_ns: int, quick_hash: str, metadata: TrackMetadata
    ) -> None:
        """After the engine rewrote a track's tags: its identity and tags follow the file, and its analyses
        stay (the audio is unchanged), so the next scan sees an unchanged file."""
        values = _file_values(path, size, mtime_ns, quick_hash, metadata)
        with self.engine.begin() as connection:
            connection.execute(update(tracks).where(tracks.c.id == track_id).values(updated_at=time.time(), **values))

    def remove_tracks(self, track_ids: Sequence[int], exclude: bool = False) -> list[str]:
        """Delete the tracks' rows (analyses, landmarks; crate entries by cascade). ``exclude`` puts their paths on
        the exclusion list in the same transaction, so a scan never sees them half gone; returns those paths."""
        excluded: list[str] = []
        now = time.time()
        with self.engine.begin() as connection:
            for chunk in id_chunks(track_ids):
                if exclude:
                    identities = connection.execute(select(tracks.c.path_key, tracks.c.size, tracks.c.quick_hash)
                                                    .where(tracks.c.id.in_(chunk))).all()
                    excluded.extend(_exclude(connection, identities, now))
                connection.execute(delete(analyses).where(analyses.c.track_id.in_(chunk)))
                connection.execute(delete(track_landmarks).where(track_landmarks.c.track_id.in_(chunk)))
                connection.execute(delete(tracks).where(tracks.c.id.in_(chunk)))
        return excluded

    def existing_track_ids(self, track_ids: Sequence[int]) -> list[int]:
        """Those of ``track_ids`` that are in the library, in the order given."""
        found: set[int] = set()
        with self.engine.connect() as connection:
            for chunk in id_chunks(list(track_ids)):
                found.update(connection.execute(select(tracks.c.id).where(tracks.c.id.in_(chunk))).scalars())
        return [track_id for track_id in track_ids if track_id in found]

    # -- the exclusion list ---------------------------------------------------------------------------
    def excluded_files(self) -> list[ExcludedFile]:
        """Every excluded file, by path."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(excluded_files.c.path_key, excluded_files.c.excluded_at)
                                      .order_by(excluded_files.c.path_key)).all()
        return [ExcludedFile(path_from_key(key), float(excluded_at)) for key, excluded_at in rows]

    def excluded_keys_under(self, roots: Sequence[str]) -> set[bytes]:
        """Path keys of the excluded files that are a root or lie below one (what a scan of ``roots`` skips)."""
        with self.engine.connect() as connection:
            return set(connection.execute(select(excluded_files.c.path_key)
                                          .where(_under(excluded_files.c.path_key, roots))).scalars())

    def excluded_identities(self) -> dict[bytes, tuple[int, str]]:
        """Path key → (size, quick hash) of every exclusion that knows its file's identity."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(excluded_files.c.path_key, excluded_files.c.size,
                                             excluded_files.c.quick_hash).where(excluded_files.c.quick_hash.isnot(None)))
            return {key: (int(size), digest) for key, size, digest in rows}

    def follow_exclusions(self, moves: Sequence[tuple[bytes, str]], dropped: Sequence[bytes]) -> None:
        """Exclusions whose file moved (old path key, new path) take the new path; ``dropped`` ones go (another file
        is at the path now)."""
        with self.engine.begin() as connection:
            for key, new_path in moves:
                connection.execute(update(excluded_files).where(excluded_files.c.path_key == key).values(
                    path_key=path_key(new_path), path=display_path(new_path)))
            for key in dropped:
                connection.execute(delete(excluded_files).where(excluded_files.c.path_key == key))

    def restore_excluded(self, paths: Sequence[str]) -> list[str]:
        """Take each path, and every excluded file below a folder path, off the list; returns the paths restored."""
        with self.engine.begin() as connection:
            matching = _under(excluded_files.c.path_key, paths)
            keys = connection.execute(select(excluded_files.c.path_key).where(matching)
                                      .order_by(excluded_files.c.path_key)).scalars().all()
            connection.execute(delete(excluded_files).where(matching))
        return [path_from_key(key) for key in keys]

    # -- crates ---------------------------------------------------------------------------------------
    def crates(self) -> list[Crate]:
        """Every crate, by name (case-insensitive), with its track count."""
        counted = (select(crates.c.id, crates.c.name, func.count(crate_tracks.c.track_id))
                   .select_from(crates.outerjoin(crate_tracks, crate_tracks.c.crate_id == crates.c.id))
                   .group_by(crates.c.id).order_by(crates.c.name.collate("NOCASE"), crates.c.id))
        with self.engine.connect() as connection:
            return [Crate(int(crate_id), name, int(count)) for crate_id, name, count in connection.execute(counted)]

    def create_crate(self, name: str) -> int:
        """A new empty crate; ``ValueError`` when one of that name exists."""
        with self.engine.begin() as connection:
            taken = connection.execute(select(crates.c.id).where(crates.c.name == name)).first()
            if taken is not None:
                raise ValueError(f"a crate named {name!r} exists already")
            return int(connection.execute(crates.insert().values(name=name, created_at=time.time()))
                       .inserted_primary_key[0])

    def add_to_crate(self, crate_id: int, track_ids: Sequence[int]) -> int:
        """Append the tracks not yet in the crate, in the order given; returns how many were added."""
        with self.engine.begin() as connection:
            present = set(connection.execute(select(crate_tracks.c.track_id)
                                             .where(crate_tracks.c.crate_id == crate_id)).scalars())
            last = connection.execute(select(func.max(crate_tracks.c.position))
                                      .where(crate_tracks.c.crate_id == crate_id)).scalar()
            position = -1 if last is None else int(last)
            added = []
            for track_id in dict.fromkeys(track_ids):
                if track_id not in present:
                    position += 1
                    added.append({"crate_id": crate_id, "position": position, "track_id": track_id})
            if added:
                connection.execute(crate_tracks.insert(), added)
        return len(added)

    def crate_track_ids(self, crate_id: int) -> list[int]:
        with self.engine.connect() as connection:
            return [int(track_id) for track_id in connection.execute(
                select(crate_tracks.c.track_id).where(crate_tracks.c.crate_id == crate_id)
                .order_by(crate_tracks.c.position)).scalars()]

    def rename_crate(self, crate_id: int, name: str) -> None:
        """``ValueError`` when another crate has that name."""
        with self.engine.begin() as connection:
            taken = connection.execute(select(crates.c.id).where(crates.c.name == name, crates.c.id != crate_id)).first()
            if taken is not None:
                raise ValueError(f"a crate named {name!r} exists already")
            connection.execute(update(crates).where(crates.c.id == crate_id).values(name=name))

    def set_crate_track_ids(self, crate_id: int, track_ids: Sequence[int]) -> None:
        """Replace the crate's list with ``track_ids`` in that order (positions 0, 1, 2 … again), in one transaction."""
        with self.engine.begin() as connection:
            connection.execute(delete(crate_tracks).where(crate_tracks.c.crate_id == crate_id))
            if track_ids:
                connection.execute(crate_tracks.insert(), [{"crate_id": crate_id, "position": position,
                                                            "track_id": track_id}
                                                           for position, track_id in enumerate(track_ids)])

    def delete_crate(self, crate_id: int) -> None:
        """The crate and its list go; the tracks stay in the library."""
        with self.engine.begin() as connection:
            connection.execute(delete(crate_tracks).where(crate_tracks.c.crate_id == crate_id))
            connection.execute(delete(crates).where(crates.c.id == crate_id))

    def record_problems(self, records: Sequence[ProblemRecord]) -> None:
        now = time.time()
        with self.engine.begin() as connection:
            for record in records:
                key = path_key(record.path)
                connection.execute(delete(problems).where(problems.c.path_key == key))
                connection.execute(
                    problems.insert().values(
                        path_key=key, path=display_path(record.path), reason=record.reason,
                        size=record.size, mtime_ns=record.mtime_ns, recorded_at=now,
                    )
                )

    def remove_problems(self, keys: Sequence[bytes]) -> None:
        with self.engine.begin() as connection:
            for chunk in id_chunks(keys):
                connection.execute(delete(problems).where(problems.c.path_key.in_(chunk)))

    # -- reads ------------------------------------------------------------------------------------
    def track_count(self, filter_text: str = "", model_id: str | None = None,
                    bpm_range: tuple[float, float] | None = None) -> int:
        """Tracks matching ``filter_text`` and, when given, whose tempo estimated by ``model_id`` is in
        ``bpm_range`` (low, high; inclusive)."""
        if not filter_text and bpm_range is None:
            return self.read(library_reads.track_total)
        track_filter = TrackFilter(filter_text, bpm_range, model_id or "")
        with self.engine.connect() as connection:
            return int(connection.execute(_filtered(select(func.count()).select_from(tracks), track_filter)).scalar())

    def track_rows(
        self, model_id: str | None, offset: int, limit: int, order_by: str = "artist",
        descending: bool = False, filter_text: str = "", bpm_range: tuple[float, float] | None = None,
    ) -> list[StoredTrack]:
        """A page of tracks with their analysis by ``model_id`` (if any); filtered as ``track_count`` counts."""
        track_filter = TrackFilter(filter_text, bpm_range, model_id or "")
        if order_by in ANALYSIS_SORT_ORDERS:
            track_ids = self._page_ids_by_category(model_id, order_by, offset, limit, descending, track_filter)
        elif order_by == TEMPO_SORT_ORDER:
            track_ids = self._page_ids_by_tempo(model_id, offset, limit, descending, track_filter)
        else:
            track_ids = self._page_ids(order_by, offset, limit, descending, track_filter)
        rows = self.track_rows_by_ids(model_id, track_ids)
        return [rows[track_id] for track_id in track_ids if track_id in rows]

    def _page_ids(self, order_by: str, offset: int, limit: int, descending: bool, track_filter: TrackFilter
                  ) -> list[int]:
        """Track ids of one page in a metadata order: an index-only walk (``schema`` has an index per order)."""
        if order_by not in SORT_ORDERS:
            choices = sorted([*SORT_ORDERS, *ANALYSIS_SORT_ORDERS, TEMPO_SORT_ORDER])
            raise ValueError(f"unknown sort order {order_by!r}; choose from {choices}")
        ordering = []
        for name in SORT_ORDERS[order_by] + ("id",):
            column = tracks.c[name]
            if name in TEXT_SORT_COLUMNS:
                column = column.collate("NOCASE")
            ordering.append(column.desc() if descending else column.asc())
        page = _filtered(select(tracks.c.id), track_filter).order_by(*ordering).offset(max(0, offset)).limit(max(0, limit))
        with self.engine.connect() as connection:
            return list(connection.execute(page).scalars())

    def _page_ids_by_category(
        self, model_id: str | None, order_by: str, offset: int, limit: int, descending: bool, track_filter: TrackFilter,
    ) -> list[int]:
        """Track ids of one page sorted by an analysis category: per-category counts (an index walk), then only
        the categories the page overlaps are read, each by its own index range, so any offset stays cheap."""
        column = analyses.c[ANALYSIS_SORT_ORDERS[order_by]]
        model_id = model_id or ""
        with self.engine.connect() as connection, connection.begin():  # counts and pages from one snapshot
            counts = self._category_counts(connection, column, model_id, track_filter)
            total = connection.execute(_filtered(select(func.count()).select_from(tracks), track_filter)).scalar()
            order = self._category_order(connection, order_by, model_id)
            order += sorted(set(counts) - set(order))
            buckets = [(category, counts[category]) for category in order if counts.get(category)]
            buckets.append((None, int(total) - sum(counts.values())))
            if descending:
                buckets.reverse()
            track_ids: list[int] = []
            skip = max(0, offset)
            for category, size in buckets:
                if len(track_ids) >= limit:
                    break
                if skip >= size:
                    skip -= size
                    continue
                query = _category_members(column, category, model_id, track_filter, descending)
                track_ids += connection.execute(query.offset(skip).limit(limit - len(track_ids))).scalars()
                skip = 0
        return track_ids

    def _page_ids_by_tempo(self, model_id: str | None, offset: int, limit: int, descending: bool,
                           track_filter: TrackFilter) -> list[int]:
        """Track ids of one page by estimated tempo (an index walk of ``ix_analyses_by_bpm``); tracks without an
        estimate by ``model_id`` come last in either direction, in id order."""
        model_id = model_id or ""
        column = analyses.c.bpm
        estimated = select(analyses.c.track_id).where(analyses.c.model_id == model_id, column.is_not(None))
        if track_filter:
            estimated = estimated.join(tracks, tracks.c.id == analyses.c.track_id).where(_filter_clause(track_filter))
        ordering = (column.desc(), analyses.c.track_id.desc()) if descending else (column, analyses.c.track_id)
        offset, limit = max(0, offset), max(0, limit)
        with self.engine.connect() as connection, connection.begin():  # count and pages from one snapshot
            count = int(connection.execute(select(func.count()).select_from(estimated.subquery())).scalar())
            track_ids = list(connection.execute(estimated.order_by(*ordering).offset(offset).limit(limit)).scalars()) \
                if offset < count else []
            if len(track_ids) < limit:
                rest = _category_members(column, None, model_id, track_filter, descending=False)
                track_ids += connection.execute(rest.offset(max(0, offset - count)).limit(limit - len(track_ids))).scalars()
        return track_ids

    def _category_counts(self, connection, column, model_id: str, track_filter: TrackFilter) -> dict[int, int]:
        """Tracks per category; unfiltered counts are kept until the model's analyses change (fingerprint)."""
        fingerprint = library_reads.analyses_fingerprint(connection.connection.driver_connection, model_id)
        cached = self._category_counts_cache.get((model_id, column.name))
        if not track_filter and cached is not None and cached[0] == fingerprint:
            return cached[1]
        counted = select(column, func.count()).where(analyses.c.model_id == model_id, column.is_not(None))
        if track_filter:
            counted = counted.join(tracks, tracks.c.id == analyses.c.track_id).where(_filter_clause(track_filter))
        counts = dict(connection.execute(counted.group_by(column)).all())
        if not track_filter:
            self._category_counts_cache[(model_id, column.name)] = (fingerprint, counts)
        return counts

    @staticmethod
    def _category_order(connection, order_by: str, model_id: str) -> list[int]:
        if order_by == "key":
            return list(KEY_INDICES_IN_CAMELOT_ORDER)
        stored = connection.execute(select(models.c.tag_names).where(models.c.model_id == model_id)).scalar()
        names = json.loads(stored) if stored else []
        return sorted(range(len(names)), key=lambda index: (names[index].casefold(), index))

    def track_rows_by_ids(self, model_id: str | None, track_ids: Sequence[int]) -> dict[int, StoredTrack]:
        """Tracks by id, with their analysis by ``model_id`` (``library_reads``, on the driver's cursor)."""
        return self.read(library_reads.track_rows_by_ids, model_id, track_ids)

    def tracks_with_state(self, size: int, mtime_ns: int) -> list[tuple[int, str]]:
        """(id, path) of the tracks recorded with this size and modification time."""
        with self.engine.connect() as connection:
            return [(int(track_id), path_from_key(key)) for track_id, key in connection.execute(
                select(tracks.c.id, tracks.c.path_key).where(tracks.c.size == size, tracks.c.mtime_ns == mtime_ns))]

    def track_id_for_path(self, path: str) -> int | None:
        with self.engine.connect() as connection:
            return connection.execute(select(tracks.c.id).where(tracks.c.path_key == path_key(path))).scalar()

    def analysis_of(self, track_id: int, model_id: str) -> TrackAnalysis | None:
        query = select(analyses.c.embedding, analyses.c.key_probs, analyses.c.tag_probs, analyses.c.window_count).where(
            analyses.c.track_id == track_id, analyses.c.model_id == model_id
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return TrackAnalysis(unblob(row[0]), unblob(row[1]), unblob(row[2]), row[3])

    def embeddings_of(self, model_id: str, track_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Track id → embedding (D,) float32 by ``model_id`` of those of ``track_ids`` it analysed."""
        return self.read(library_reads.embeddings_of, model_id, track_ids)

    def track_tags(self, model_id: str | None, track_ids: Sequence[int] | None = None) -> list[TaggedTrack]:
        """Every track's label tags (genre, mood, grouping, key tag; album, album artist, title, artist), with the
        key index and tag probabilities of its analysis by ``model_id`` (None when not analysed by it), in id
        order; only ``track_ids`` when given."""
        joined = tracks.outerjoin(analyses, and_(analyses.c.track_id == tracks.c.id, analyses.c.model_id == (model_id or "")))
        query = select(
            tracks.c.id, tracks.c.path_key, tracks.c.title, tracks.c.artist, tracks.c.album, tracks.c.album_artist,
            tracks.c.genre, tracks.c.mood, tracks.c.grouping, tracks.c.tag_key, analyses.c.key_index,
            analyses.c.tag_probs,
        ).select_from(joined).order_by(tracks.c.id)
        with self.engine.connect() as connection:
            if track_ids is None:
                return [_tagged_track(row) for row in connection.execute(query)]
            found = []
            for chunk in id_chunks([int(track_id) for track_id in track_ids]):
                found += [_tagged_track(row) for row in connection.execute(query.where(tracks.c.id.in_(chunk)))]
            return sorted(found, key=lambda track: track.id)

    def embeddings(self, model_id: str, after_analysis_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Track ids (N,) int64 and embeddings (N, D) float32 of ``model_id``, analyses newer than the given id."""
        _, track_ids, matrix = self.embedding_snapshot(model_id, after_analysis_id)
        return track_ids, matrix

    def embedding_snapshot(self, model_id: str, after_analysis_id: int = 0) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
        """``embeddings`` plus the fingerprint they belong to, read in one transaction (one consistent snapshot)."""
        fingerprint, (track_ids, matrix) = self.embedding_batches(
            model_id, lambda _, read: _joined_batches(read()), after_analysis_id)
        return fingerprint, track_ids, matrix

    def embedding_batches(
        self, model_id: str, consume: Callable[[tuple[int, int], Callable[[], Iterator[EmbeddingBatch]]], Consumed],
        after_analysis_id: int = 0, batch_rows: int = EMBEDDING_BATCH_ROWS,
    ) -> tuple[tuple[int, int], Consumed]:
        """The model's fingerprint and what ``consume`` makes of its embeddings newer than ``after_analysis_id``,
        in one transaction. ``consume(fingerprint, read)`` calls ``read()`` for the embeddings in analysis id order
        as (track ids (n,) int64, embeddings (n, D) float32) batches of at most ``batch_rows``, each one SELECT that
        seeks past the last id of the one before: memory holds one batch, not the library, and a second ``read()``
        (moments first, then the vectors) sees the same snapshot."""
        return self.read(library_reads.embeddings_consumed, model_id, consume, after_analysis_id, batch_rows)

    def analyses_fingerprint(self, model_id: str, up_to_id: int | None = None) -> tuple[int, int]:
        """(count, max analysis id) of a model's analyses (those with id <= ``up_to_id`` if given).

        Analysis ids only grow, so any insert or delete changes it. Without ``up_to_id`` it is a one-row
        read of the trigger-kept ``analysis_counts`` table, cheap enough to check before every search.
        """
        return self.read(library_reads.analyses_fingerprint, model_id, up_to_id)

    def landmarks_of(self, track_id: int) -> Landmarks | None:
        """The stored landmarks of a track (None when it has none of the current version)."""
        query = select(track_landmarks.c.hashes, track_landmarks.c.frames).where(
            track_landmarks.c.track_id == track_id, track_landmarks.c.version == _landmark_version())
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else _landmarks_from(row[0], row[1])

    def landmark_sample(self, count: int) -> list[int]:
        """Up to ``count`` distinct track ids with current landmarks, spread evenly over the row ids (each an
        index seek, so a sample costs the same at any library size)."""
        current = track_landmarks.c.version == _landmark_version()
        seek = select(track_landmarks.c.track_id).where(current, track_landmarks.c.id >= bindparam("start")) \
            .order_by(track_landmarks.c.id).limit(1)
        with self.engine.connect() as connection, connection.begin():
            _, high = _landmarks_state(connection)
            low = connection.execute(select(track_landmarks.c.id).where(current).order_by(track_landmarks.c.id)
                                     .limit(1)).scalar()
            if low is None:
                return []
            import numpy as np

            starts = np.unique(np.linspace(low, max(low, high), max(1, count)).astype(np.int64)).tolist()
            found = [connection.execute(seek, {"start": start}).scalar() for start in starts]
        return list(dict.fromkeys(track_id for track_id in found if track_id is not None))

    def landmarks_state(self) -> tuple[int, int]:
        """(count, max id) of the current version's landmark rows: changes whenever any track's landmarks do."""
        with self.engine.connect() as connection:
            return _landmarks_state(connection)

    def landmarks_since(
        self, after_id: int = 0, consume: Callable[[Iterator[tuple[int, Landmarks]]], ConsumedRows] = list,
    ) -> tuple[tuple[int, int], ConsumedRows, np.ndarray]:
        """``landmarks_state()``, the (track id, landmarks) rows of the current version stored after row
        ``after_id`` (0: all) in row order, and the (track id, row id) pairs (M, 2) int64 of every current row, read
        in one transaction: the rows and pairs are exactly those the state counts. The rows are handed to
        ``consume`` as they are read (default: a list), so a large library need not be held in memory."""
        current = track_landmarks.c.version == _landmark_version()
        rows_query = select(track_landmarks.c.track_id, track_landmarks.c.hashes, track_landmarks.c.frames).where(
            current, track_landmarks.c.id > after_id).order_by(track_landmarks.c.id)
        members_query = select(track_landmarks.c.track_id, track_landmarks.c.id).where(current)
        with self.engine.connect() as connection, connection.begin():
            state = _landmarks_state(connection)
            rows = consume((int(track_id), _landmarks_from(hashes, frames))
                           for track_id, hashes, frames in connection.execute(rows_query))
            import numpy as np

            members = np.array(connection.execute(members_query).all(), dtype=np.int64).reshape(-1, 2)
        return state, rows, members

    def problems(self) -> list[tuple[str, str]]:
        return [(path_from_key(key), reason) for key, reason in self.read(library_reads.problem_rows)]

    def problem_count(self, roots: Sequence[str] | None = None) -> int:
        if roots is None:
            return self.read(library_reads.problem_total)
        query = select(func.count()).select_from(problems).where(_under(problems.c.path_key, roots))
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar())

    # -- models -----------------------------------------------------------------------------------
    def forget_model(self, model_id: str) -> int:
        """Drop a model's registration and every analysis it made; returns how many analyses went."""
        with self.engine.begin() as connection:
            removed = connection.execute(delete(analyses).where(analyses.c.model_id == model_id)).rowcount
            connection.execute(delete(models).where(models.c.model_id == model_id))
        return removed

    def register_model(self, model_id: str, name: str, weights_sha256: str, folder: str, embedding_dim: int,
                       tag_names: list[str]) -> None:
        # One statement (an upsert): two processes opening a new library at once both register the model, and a
        # read-then-insert would let the second fail on the unique model id.
        statement = sqlite_insert(models).values(
            model_id=model_id, name=name, weights_sha256=weights_sha256, folder=folder,
            embedding_dim=embedding_dim, tag_names=json.dumps(tag_names), registered_at=time.time(),
        ).on_conflict_do_update(index_elements=[models.c.model_id], set_={"folder": folder})
        with self.engine.begin() as connection:
            connection.execute(statement)

    def models(self) -> list[StoredModel]:
        """The registered models, oldest first, with how many tracks each has analysed."""
        return self.read(library_reads.registered_models)


def _exclude(connection, identities: Sequence[tuple[bytes, int, str]], now: float) -> list[str]:
    """Put (path key, size, quick hash) on the exclusion list (a key already there keeps its first date); returns
    their paths."""
    for key, size, digest in identities:
        connection.execute(sqlite_insert(excluded_files).values(
            path_key=key, path=display_path(path_from_key(key)), excluded_at=now, size=size,
            quick_hash=digest).on_conflict_do_nothing())
    return [path_from_key(key) for key, _, _ in identities]


def _track_values(item: NewTrack, now: float) -> dict:
    return {
        "path_key": path_key(item.path), "path": display_path(item.path),
        **_file_values(item.path, item.size, item.mtime_ns, item.quick_hash, item.metadata), "updated_at": now,
    }


def stored_title(path: str, meta: TrackMetadata) -> str:
    """The title a track is listed by: its title tag, else its file's name without the extension."""
    return meta.title or Path(display_path(path)).stem


def _search_text(path: str, meta: TrackMetadata) -> str:
    return search_text(display_path(path), stored_title(path, meta), meta.artist, meta.album, meta.genre)


def _file_values(path: str, size: int, mtime_ns: int, quick_hash: str, meta: TrackMetadata) -> dict:
    """The columns that follow the file's bytes: its identity and its tags."""
    return {
        "size": size, "mtime_ns": mtime_ns, "quick_hash": quick_hash,
        "title": stored_title(path, meta), "artist": meta.artist, "album": meta.album,
        "search_text": _search_text(path, meta),
        "album_artist": meta.album_artist, "genre": meta.genre, "year": meta.year,
        "track_number": meta.track_number, "duration": meta.duration, "codec": meta.codec,
        "bitrate": meta.bitrate, "sample_rate": meta.sample_rate, "tag_key": meta.key, "bpm": meta.bpm,
        "mood": meta.mood, "grouping": meta.grouping,
    }


def _analysis_values(item: NewTrack, track_id: int, model_id: str, now: float) -> dict:
    analysis = item.analysis
    key_index = key_confidence = None
    if analysis.key_probs is not None:
        import numpy as np

        key_index = int(np.argmax(analysis.key_probs))
        key_confidence = float(analysis.key_probs[key_index])
    return {
        "track_id": track_id, "model_id": model_id, "embedding": _blob(analysis.embedding),
        "key_index": key_index, "key_confidence": key_confidence, "key_probs": _blob(analysis.key_probs),
        "tag_probs": _blob(analysis.tag_probs), "top_tag_index": top_tag_index(analysis.tag_probs),
        "window_count": analysis.window_count, "analyzed_at": now,
        "bpm": item.tempo.bpm if item.tempo else None, "bpm_confidence": item.tempo.confidence if item.tempo else None,
        "tempo_version": _tempo_version() if item.tempo_estimated else None, "key_version": KEY_WINDOWS_VERSION,
    }


def _landmarks_state(connection) -> tuple[int, int]:
    query = select(landmark_counts.c.count, landmark_counts.c.max_id).where(landmark_counts.c.version == _landmark_version())
    row = connection.execute(query).first()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def _has_current_landmarks(connection, track_id: int) -> bool:
    query = select(track_landmarks.c.id).where(track_landmarks.c.track_id == track_id,
                                               track_landmarks.c.version == _landmark_version())
    return connection.execute(query).first() is not None


def _landmark_values(found: Landmarks, track_id: int) -> dict:
    import numpy as np

    return {"track_id": track_id, "version": _landmark_version(),
            "hashes": np.ascontiguousarray(found.hashes, dtype=np.uint32).tobytes(),
            "frames": np.ascontiguousarray(found.frames, dtype=np.int32).tobytes()}


def _landmarks_from(hashes: bytes, frames: bytes) -> Landmarks:
    import numpy as np

    from engine.landmarks import Landmarks

    return Landmarks(np.frombuffer(hashes, dtype=np.uint32), np.frombuffer(frames, dtype=np.int32))


# Track rows are built positionally (``library_reads.track_rows_by_ids``): its columns must be the schema's.
if library_reads.TRACK_COLUMNS != tuple(tracks.c.keys()) or not set(library_reads.ANALYSIS_COLUMNS.values()) <= set(
        analyses.c.keys()):
    raise TypeError("engine.records.StoredTrack must hold every tracks column in order, then the analysis columns of "
                    f"engine.library_reads.ANALYSIS_COLUMNS: {tuple(tracks.c.keys())}")


def _tagged_track(row) -> TaggedTrack:
    return TaggedTrack(
        id=row.id, path=path_from_key(row.path_key), album=row.album, album_artist=row.album_artist, genre=row.genre,
        mood=row.mood, grouping=row.grouping, tag_key=row.tag_key, key_index=row.key_index, title=row.title,
        artist=row.artist, tag_probs=unblob(row.tag_probs),
    )


def _joined_batches(batches: Iterable[EmbeddingBatch]) -> EmbeddingBatch:
    """Batches of ``Store.embedding_batches`` as one (track ids, embeddings) pair; (0,) and (0, 0) when none."""
    import numpy as np

    parts = list(batches)
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([ids for ids, _ in parts]), np.concatenate([matrix for _, matrix in parts])


@dataclass(frozen=True)
class TrackFilter:
    """Which tracks the table shows: ``text``'s words (see ``_filter_clause``) and, when ``bpm_range`` is given,
    a tempo estimated by ``model_id`` within it. False when it filters nothing, so unfiltered counts stay cached."""

    text: str = ""
    bpm_range: tuple[float, float] | None = None
    model_id: str = ""

    def __bool__(self) -> bool:
        return bool(self.text.split()) or self.bpm_range is not None


def _filtered(query, track_filter: TrackFilter):
    return query.where(_filter_clause(track_filter)) if track_filter else query


def _category_members(column, category: int | None, model_id: str, track_filter: TrackFilter, descending: bool):
    """The ids of tracks whose analysis by ``model_id`` has ``column == category`` (None: has no such value)."""
    if category is None:
        categorised = select(analyses.c.id).where(
            analyses.c.track_id == tracks.c.id, analyses.c.model_id == model_id, column.is_not(None)).exists()
        query = _filtered(select(tracks.c.id).where(~categorised), track_filter)
        return query.order_by(tracks.c.id.desc() if descending else tracks.c.id)
    query = select(analyses.c.track_id).where(analyses.c.model_id == model_id, column == category)
    if track_filter:
        query = query.join(tracks, tracks.c.id == analyses.c.track_id).where(_filter_clause(track_filter))
    return query.order_by(analyses.c.track_id.desc() if descending else analyses.c.track_id)


def _filter_clause(track_filter: TrackFilter) -> ColumnElement:
    """Every word must appear in one of title/artist/album/genre or the file name, whatever the case of its letters
    (``tracks.search_text``, ``engine.text_match``), and the track's estimated tempo must lie in the range (an
    index range of ``ix_analyses_by_bpm``)."""
    clauses = []
    if track_filter.bpm_range is not None:
        low, high = track_filter.bpm_range
        estimate = analyses.alias("tempo_estimate")  # its own name: the outer query may read analyses too
        clauses.append(select(estimate.c.id).where(
            estimate.c.track_id == tracks.c.id, estimate.c.model_id == track_filter.model_id,
            estimate.c.bpm >= low, estimate.c.bpm <= high).exists())
    for word in track_filter.text.split():
        clauses.append(tracks.c.search_text.like(search_pattern(word), escape="\\"))
    return and_(*clauses)
