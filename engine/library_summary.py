"""What ``engine info`` and ``engine problems`` print, read from a DB-API connection to the library database.

``Library.info``, ``models`` and ``problems`` compose these on the store's connection; the two reading commands call
``current_summary`` / ``current_problems``, which open a current library read-only with ``sqlite3`` alone
(``engine.library_reader``) and never import SQLAlchemy (a start of about 0.1 s instead of 0.3-0.4 s; BENCHMARKS.md "Reading commands start without
SQLAlchemy"). A file still to create or upgrade gives None: the caller opens it through ``Library``, which does that.
An SQLite error while reading is raised as it is, so the command's one line for it (``engine.cli_faults``, with its
advice) is the one the ``Library`` path gives.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from engine.active_model import ACTIVE_MODEL_SETTING, default_model_spec, named_model_spec
from engine.library_reader import open_current_library
from engine.library_reads import analyses_fingerprint, folder_keys, problem_rows, problem_total, track_total
from engine.records import StoredModel
from engine.results import LibraryInfo, ModelInfo, Problem
from engine.scan import display_path, path_from_key


def library_info(connection: sqlite3.Connection, database: str, model_id: str | None) -> LibraryInfo:
    """Counts, folders and how many tracks ``model_id`` (the active model; None: no usable one) has analysed."""
    analysed = analyses_fingerprint(connection, model_id)[0] if model_id else 0  # a kept count, not a scan
    folders = [display_path(path_from_key(key)) for key in folder_keys(connection)]
    return LibraryInfo(track_total(connection), problem_total(connection), model_id, folders, analysed, database)


def model_infos(registered: Sequence[StoredModel], active_model_id: str | None) -> list[ModelInfo]:
    return [ModelInfo(stored.model_id, stored.name, stored.folder, stored.embedding_dim, stored.tag_names,
                      stored.analysed, stored.model_id == active_model_id) for stored in registered]


def problem_list(connection: sqlite3.Connection) -> list[Problem]:
    problems = []
    for key, reason in problem_rows(connection):
        path = path_from_key(key)
        problems.append(Problem(path, reason, display_path(path)))
    return problems


def current_summary(database: Path, model_reference: Path | str | None) -> tuple[LibraryInfo, list[ModelInfo]] | None:
    """``engine info``'s library summary and registered models, the active model decided as ``Library`` decides it
    (``--model``, else the remembered folder, else the default); None when the file is not a current library."""
    reader = open_current_library(database)
    if reader is None:
        return None
    with reader:
        registered = reader.models()
        if model_reference is not None:
            model_id: str | None = named_model_spec(model_reference, registered).model_id
        else:
            spec, _ = default_model_spec(reader.get_setting(ACTIVE_MODEL_SETTING))
            model_id = None if spec is None else spec.model_id
        return reader.read(library_info, str(database), model_id), model_infos(registered, model_id)


def current_problems(database: Path, model_reference: Path | str | None) -> list[Problem] | None:
    """``engine problems``' rows; None when the file is not a current library. A model ``--model`` names is checked
    as the ``Library`` checks it (``ModelUnavailableError``), though the rows do not depend on it."""
    reader = open_current_library(database)
    if reader is None:
        return None
    with reader:
        if model_reference is not None:
            named_model_spec(model_reference, reader.models())
        return reader.read(problem_list)

