"""Browsing sorted by what the active model found (key in Camelot order, top tag A-Z), and the schema upgrade behind it."""

from __future__ import annotations

import sqlite3

import numpy as np

from engine.analyzer import TrackAnalysis
from engine.keys import KEY_CLASS_COUNT
from engine.library import Library
from engine.metadata import TrackMetadata
from engine.schema import SCHEMA_VERSION
from engine.store import NewTrack
from key_wheel import CAMELOT_OF_INDEX

TRACKS = 60
UNANALYSED = 5


def camelot_rank(row) -> tuple[int, str]:
    """Position on the published wheel (tests/key_wheel.py): 1A, 1B, 2A, ... 12B."""
    code = CAMELOT_OF_INDEX[row.key.to_key().index]
    return int(code[:-1]), code[-1]


def fill(library: Library, count: int, seed: int = 0) -> None:
    """``count`` analysed tracks with random keys and tag probabilities, then UNANALYSED tracks with no analysis."""
    rng = np.random.default_rng(seed)
    model = library.model()
    tag_count = len(model.config.tag_names)
    items = []
    for number in range(count):
        key_probs = np.full(KEY_CLASS_COUNT, 0.01, dtype=np.float32)
        key_probs[rng.integers(KEY_CLASS_COUNT)] = 0.9
        analysis = TrackAnalysis(np.ones(model.config.embedding_dim, np.float32), key_probs,
                                 rng.random(tag_count, dtype=np.float32), 1)
        items.append(NewTrack(f"/music/{number:03d}.mp3", 1000 + number, number, f"{number:032x}",
                              TrackMetadata(title=f"Song {number:03d}"), analysis))
    library.store.save_tracks(items, model.model_id)
    with sqlite3.connect(library.db_path) as connection:  # tracks another model analysed, not the active one
        connection.execute("DELETE FROM analyses WHERE track_id IN (SELECT id FROM tracks ORDER BY id DESC LIMIT ?)",
                           (UNANALYSED,))


def test_sorting_by_key_follows_the_camelot_wheel_and_pages_agree(model_dir, tmp_path):
    with Library(tmp_path / "lib.db", model_dir) as library:
        fill(library, TRACKS)
        everything = library.tracks(0, 1000, order_by="key")
        analysed, unanalysed = everything[:-UNANALYSED], everything[-UNANALYSED:]
        ranks = [(camelot_rank(row), row.id) for row in analysed]
        assert ranks == sorted(ranks)
        assert not any(row.analysed for row in unanalysed)
        paged = [row for offset in range(0, len(everything), 7) for row in library.tracks(offset, 7, order_by="key")]
        assert [row.id for row in paged] == [row.id for row in everything]
        descending = library.tracks(0, 1000, order_by="key", descending=True)
        assert [row.id for row in descending] == [row.id for row in reversed(everything)]
        filtered = library.tracks(0, 1000, order_by="key", filter_text="Song 01")  # "01" is also in paths like 001.mp3
        assert [row.id for row in filtered] == [row.id for row in everything if "01" in row.display_path]


def test_sorting_by_top_tag_is_alphabetical_by_the_first_tag_shown(model_dir, tmp_path):
    with Library(tmp_path / "lib.db", model_dir) as library:
        fill(library, TRACKS)
        everything = library.tracks(0, 1000, order_by="top_tag")
        names = [(row.top_tags[0][0].casefold(), row.id) for row in everything[:-UNANALYSED]]
        assert names == sorted(names)
        assert not any(row.top_tags for row in everything[-UNANALYSED:])
        assert [row.id for row in library.tracks(20, 10, order_by="top_tag", descending=True)] == \
            [row.id for row in reversed(everything)][20:30]


def test_a_version_1_database_is_upgraded_with_top_tags_filled_in(model_dir, tmp_path):
    database = tmp_path / "old.db"
    with Library(database, model_dir) as library:
        fill(library, 10)
        expected = [row.id for row in library.tracks(0, 100, order_by="top_tag")]
    with sqlite3.connect(database) as connection:  # back to the version 1 layout
        connection.execute("DROP INDEX ix_analyses_by_top_tag")
        connection.execute("DROP INDEX ix_analyses_by_key")
        connection.execute("ALTER TABLE analyses DROP COLUMN top_tag_index")
        connection.execute("UPDATE settings SET value = '1' WHERE name = 'schema_version'")
    with Library(database, model_dir) as library:
        assert [row.id for row in library.tracks(0, 100, order_by="top_tag")] == expected
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT value FROM settings WHERE name = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert connection.execute("SELECT count(*) FROM analyses WHERE top_tag_index IS NULL").fetchone() == (0,)
        indexes = {row[1] for row in connection.execute("PRAGMA index_list(analyses)")}
        assert {"ix_analyses_by_key", "ix_analyses_by_top_tag"} <= indexes


def test_a_track_removed_while_it_was_analysed_again_stays_removed_and_the_batch_is_stored(model_dir, tmp_path):
    """Another process (the app, `engine remove`) may take a track out while an index run re-analyses it: its
    analysis is dropped, the rest of the batch is stored (it failed the whole run on a foreign key before)."""
    with Library(tmp_path / "lib.db", model_dir) as library:
        fill(library, 3)
        rows = library.tracks(0, 10)
        model = library.model()
        analysis = TrackAnalysis(np.ones(model.config.embedding_dim, np.float32), None, None, 1)
        again = [NewTrack(row.path, 5000, 1, "f" * 32, TrackMetadata(title=f"Again {row.id}"), analysis, row.id)
                 for row in rows]
        library.store.remove_tracks([rows[0].id])
        library.store.save_tracks(again, model.model_id)
        titles = {row.id: row.title for row in library.tracks(0, 10)}
        assert rows[0].id not in titles and titles == {row.id: f"Again {row.id}" for row in rows[1:]}


def test_search_words_match_any_scripts_letters_in_any_case_and_the_file_name_not_the_folders(model_dir, tmp_path):
    """SQLite's LIKE folds ASCII letters only, and a word matched against the whole path found every track below a
    folder holding it: the box promises title, artist, album, genre or file name."""
    with Library(tmp_path / "lib.db", model_dir) as library:
        model = library.model()
        analysis = TrackAnalysis(np.ones(model.config.embedding_dim, np.float32), None, None, 1)
        items = [NewTrack(f"/music/set 1/{name}", 1000 + number, number, f"{number:032x}",
                          TrackMetadata(title=title, artist=artist), analysis)
                 for number, (name, title, artist) in enumerate([("a.flac", "Ωμέγα", "Ψ"), ("b.mp3", "Hyperballad", "Björk"),
                                                                 ("straße-mix.ogg", None, None), ("c.mp3", "Plain", "Any")])]
        library.store.save_tracks(items, model.model_id)

        def found(text: str) -> list[str]:
            rows = library.tracks(0, 100, order_by="path", filter_text=text)
            assert library.track_count(filter_text=text) == len(rows)
            return [row.path.rsplit("/", 1)[1] for row in rows]

        assert found("ωμέγα") == found("ΩΜΈΓΑ") == found("Ωμέγα") == ["a.flac"]
        assert found("BJÖRK") == found("björk") == ["b.mp3"]
        assert found("STRAßE-MIX") == found("Straße") == ["straße-mix.ogg"]  # the file name, case-folded
        assert found("set") == found("1") == found("music") == []  # folders above the files
        assert found("mp3") == ["b.mp3", "c.mp3"] and found("plain any") == ["c.mp3"]
        assert found("100%") == found("a_b") == []  # LIKE's wildcards are the characters typed
    with sqlite3.connect(tmp_path / "lib.db") as connection:  # a library of schema 8: no search text stored yet
        connection.execute("UPDATE tracks SET search_text = NULL")
        connection.execute("UPDATE settings SET value = '8' WHERE name = 'schema_version'")
    with Library(tmp_path / "lib.db", model_dir) as library:
        assert [row.title for row in library.tracks(0, 10, filter_text="björk")] == ["Hyperballad"]
