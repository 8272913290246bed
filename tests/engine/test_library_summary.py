"""``engine info`` and ``engine problems`` read a current library with ``sqlite3`` alone (``engine.library_summary``):
what they read must be what the ``Library`` gives, for every way the active model is found, and a library still to
create or upgrade is left to the ``Library``, which does that."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from engine import cli
from engine.library import ACTIVE_MODEL_SETTING, Library, LibraryOpenError, ModelUnavailableError
from engine.library_summary import current_problems, current_summary
from engine.schema import SCHEMA_VERSION


@pytest.fixture
def two_model_library(indexed_library, model_dir, second_model_dir, tmp_path):
    """A copy of the indexed library (tracks, problems, one folder) remembering its model, with a second registered."""
    database = tmp_path / "library.db"
    shutil.copy(indexed_library[0], database)
    with Library(database) as library:
        library.use_model(model_dir)
        library.register_model(second_model_dir)
    return database


def _library_view(database, model=None):
    with Library(database, model, read_only=True) as library:
        return library.info(), library.models(), library.problems()


def test_the_summary_read_alone_is_what_the_library_gives(two_model_library, model_dir, second_model_dir,
                                                          monkeypatch):
    database = two_model_library
    second_name = _library_view(database, second_model_dir)[1][-1].name
    for model in (None, model_dir, second_model_dir, second_name):  # remembered / folders / a registered name
        info, models, problems = _library_view(database, model)
        assert current_summary(database, model) == (info, models)
        assert current_problems(database, model) == problems
    by_name, by_folder = current_summary(database, second_name)[0], current_summary(database, second_model_dir)[0]
    info, models = current_summary(database, None)
    assert by_name.model == by_folder.model != info.model
    assert info.tracks > 0 and info.problems > 0 and info.analysed_tracks == info.tracks and info.folders
    assert len(models) == 2 and sum(model.active for model in models) == 1
    # No remembered folder: the default (ENGINE_MODEL_DIR), as the library finds it.
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM settings WHERE name = ?", (ACTIVE_MODEL_SETTING,))
    for default in (second_model_dir, database.parent / "no-model-here"):
        monkeypatch.setenv("ENGINE_MODEL_DIR", str(default))
        assert current_summary(database, None) == _library_view(database)[:2]
    assert current_summary(database, None)[0].model is None


def test_a_model_neither_folder_nor_registered_is_refused_alike(two_model_library, tmp_path):
    """By ``info`` and ``problems`` alike, though the problems do not depend on the model."""
    for reference in ("no-such-model", tmp_path):  # a name nothing is registered under; a folder with no model
        with pytest.raises(ModelUnavailableError) as by_library:
            Library(two_model_library, reference, read_only=True)
        for read in (current_summary, current_problems):
            with pytest.raises(ModelUnavailableError) as by_summary:
                read(two_model_library, reference)
            assert str(by_summary.value) == str(by_library.value)


def test_a_library_to_create_or_upgrade_is_left_to_the_library(indexed_library, model_dir, tmp_path, capsys):
    new = tmp_path / "new.db"
    assert current_summary(new, None) is None and current_problems(new, None) is None and not new.exists()
    assert cli.main(["--db", str(new), "--model", str(model_dir), "info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tracks"] == 0 and not new.exists()  # an empty library, none created

    old = tmp_path / "old.db"
    shutil.copy(indexed_library[0], old)
    with sqlite3.connect(old) as connection:
        connection.execute("UPDATE settings SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION - 1),))
    assert current_summary(old, model_dir) is None and current_problems(old, model_dir) is None
    assert cli.main(["--db", str(old), "--model", str(model_dir), "problems", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(current_problems(old, None)) > 0  # upgraded, then read


def test_a_file_that_is_no_library_gets_the_library_s_refusal(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(LibraryOpenError, match="not a semisup-music library"):
        current_summary(other, None)
    with pytest.raises(LibraryOpenError, match="not a semisup-music library"):
        Library(other, read_only=True)
    with pytest.raises(LibraryOpenError, match="database path is a folder"):
        current_problems(tmp_path, None)
