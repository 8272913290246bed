"""Upgrades for library databases written by older versions: one function per schema version step.

``open_database`` runs the steps from the stored version up to ``schema.SCHEMA_VERSION`` in the
transaction that opens the file, so an interrupted upgrade leaves the old version intact.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, bindparam, inspect, select, text, update

from engine.track_analysis import top_tag_index
from engine.schema import analyses, metadata, tracks
from engine.text_match import search_text


def _add_top_tag_index(connection: Connection) -> None:
    """2: ``analyses.top_tag_index`` filled from the stored tag probabilities (for sorting by top tag)."""
    import numpy as np  # here: opening a current library runs no migration and needs no numpy

    if "top_tag_index" not in {column["name"] for column in inspect(connection).get_columns("analyses")}:
        connection.execute(text("ALTER TABLE analyses ADD COLUMN top_tag_index INTEGER"))
    rows = connection.execute(select(analyses.c.id, analyses.c.tag_probs).where(analyses.c.tag_probs.is_not(None)))
    values = [{"analysis_id": analysis_id, "top": top_tag_index(np.frombuffer(blob, dtype=np.float32))}
              for analysis_id, blob in rows]
    if values:
        statement = update(analyses).where(analyses.c.id == bindparam("analysis_id")).values(top_tag_index=bindparam("top"))
        connection.execute(statement, values)


def _landmarks_table(_connection: Connection) -> None:
    """3: ``track_landmarks``. ``metadata.create_all`` has made the empty table; the tracks analysed before
    have no landmarks, so the next ``engine index`` analyses them once more (as after a model change)."""


def _add_tempo_columns(connection: Connection) -> None:
    """4: ``analyses.bpm``, ``bpm_confidence`` and ``tempo_version``. Analyses made before have none, so the next
    ``engine index`` analyses their tracks once more (as after a model change) and they get a tempo."""
    present = {column["name"] for column in inspect(connection).get_columns("analyses")}
    for name, kind in (("bpm", "FLOAT"), ("bpm_confidence", "FLOAT"), ("tempo_version", "INTEGER")):
        if name not in present:
            connection.execute(text(f"ALTER TABLE analyses ADD COLUMN {name} {kind}"))


def _crate_tables(_connection: Connection) -> None:
    """5: ``crates`` and ``crate_tracks``. ``metadata.create_all`` has made the empty tables (and ``upgrade`` their
    index); an older library simply has no crates yet, and nothing needs analysing again."""


def _exclusion_table(_connection: Connection) -> None:
    """6: ``excluded_files``. ``metadata.create_all`` has made the empty table: nothing was excluded before (a track
    removed by an older version came back with the next scan, as it did then)."""


def _add_key_version(connection: Connection) -> None:
    """7: ``analyses.key_version``. The keys stored before were read from the analysis windows alone (version 1),
    so the next ``engine index`` analyses their tracks once more (as after a model change) and their keys hear more
    of each track (``engine.key_audio``)."""
    if "key_version" not in {column["name"] for column in inspect(connection).get_columns("analyses")}:
        connection.execute(text("ALTER TABLE analyses ADD COLUMN key_version INTEGER"))
    connection.execute(update(analyses).values(key_version=1))


def _add_exclusion_identity(connection: Connection) -> None:
    """8: ``excluded_files.size`` and ``quick_hash``, the file's identity, so an exclusion follows a moved file. The
    entries made before have none and stay exclusions of their paths, as they were."""
    present = {column["name"] for column in inspect(connection).get_columns("excluded_files")}
    for name, kind in (("size", "INTEGER"), ("quick_hash", "TEXT")):
        if name not in present:
            connection.execute(text(f"ALTER TABLE excluded_files ADD COLUMN {name} {kind}"))


def _add_search_text(connection: Connection) -> None:
    """9: ``tracks.search_text``, what the search box matches (``engine.text_match``), filled in from the stored
    titles, artists, albums, genres and paths (about a second per 100k tracks)."""
    if "search_text" not in {column["name"] for column in inspect(connection).get_columns("tracks")}:
        connection.execute(text("ALTER TABLE tracks ADD COLUMN search_text TEXT"))
    rows = connection.execute(select(tracks.c.id, tracks.c.path, tracks.c.title, tracks.c.artist, tracks.c.album,
                                     tracks.c.genre)).all()
    if rows:
        connection.execute(update(tracks).where(tracks.c.id == bindparam("track_id")).values(
            search_text=bindparam("text")), [{"track_id": row[0], "text": search_text(*row[1:])} for row in rows])


UPGRADES: dict[int, Callable[[Connection], None]] = {  # version → step
    2: _add_top_tag_index, 3: _landmarks_table, 4: _add_tempo_columns, 5: _crate_tables, 6: _exclusion_table,
    7: _add_key_version, 8: _add_exclusion_identity, 9: _add_search_text,
}


def upgrade(connection: Connection, stored_version: int, target_version: int) -> None:
    """Run every step above ``stored_version``, then create the indexes an older file lacks."""
    for version in range(stored_version + 1, target_version + 1):
        UPGRADES[version](connection)
    for table in metadata.sorted_tables:
        for index in table.indexes:
            index.create(connection, checkfirst=True)
