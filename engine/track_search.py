"""``engine similar TRACK_ID``: similar tracks to library tracks, read with ``sqlite3`` alone.

A track id needs no decoding, no network and no landmarks: its embedding, key and tempo are stored. The library's
``Search`` answers it here as it does inside the ``Library``, over a read-only ``LibraryReader`` instead of the
SQLAlchemy ``Store``, with the active model found by ``engine.active_model`` as the ``Library`` finds it, so the
command starts without importing SQLAlchemy (0.2-0.3 s of its start; BENCHMARKS.md "Reading commands start without
SQLAlchemy"). Files, and libraries still to create or upgrade, go through the ``Library``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.active_model import ACTIVE_MODEL_SETTING, default_model_spec, named_model_spec
from engine.library_errors import LibraryError, ModelUnavailableError, Query
from engine.library_reader import LibraryReader, open_current_library
from engine.model_spec import ModelSpec
from engine.results import SimilarTrack, TrackRow
from engine.search import Search, as_track_id
from engine.track_rows import shown_rows

if TYPE_CHECKING:
    from engine.vector_index import VectorIndex


class TrackIdSearch:
    """Similar tracks to track ids, over one read-only library. Use as a context manager."""

    def __init__(self, reader: LibraryReader, model_reference: Path | str | None) -> None:
        """``model_reference`` as ``--model`` gives it (a folder, or a registered model's id or name): refused with
        ``ModelUnavailableError`` as the ``Library`` refuses it; None: the remembered model, else the default."""
        self._reader = reader
        self._problem: ModelUnavailableError | None = None
        try:
            if model_reference is not None:
                self._spec: ModelSpec | None = named_model_spec(model_reference, reader.models())
            else:
                self._spec, self._problem = default_model_spec(reader.get_setting(ACTIVE_MODEL_SETTING))
        except BaseException:  # a refused model, or an SQLite error reading the models: the connection goes too
            reader.close()
            raise
        self._vector_index: VectorIndex | None = None
        self._search = Search(reader, self.model_spec, self._network, self._index_of, self._landmarks, self._rows_by_ids)

    @classmethod
    def open(cls, database: Path, model_reference: Path | str | None) -> TrackIdSearch | None:
        """A search over the current library at ``database``; None when it is still to create or upgrade."""
        reader = open_current_library(database)
        return None if reader is None else cls(reader, model_reference)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> TrackIdSearch:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def similar(self, query: Query, k: int = 10, harmonic: bool = False,
                bpm_range: float | None = None) -> list[SimilarTrack]:
        """``Library.similar`` for a track id (``search.as_track_id``)."""
        if as_track_id(query) is None:
            raise LibraryError(f"{query}: a file is searched through the library, not by track id")
        return self._search.similar(query, k, harmonic, bpm_range)

    def model_spec(self) -> ModelSpec:
        if self._spec is None:
            raise ModelUnavailableError(self._problem.reason, self._problem.hint)
        return self._spec

    def _index_of(self, model: ModelSpec) -> VectorIndex:
        from engine.vector_index import VectorIndex

        if self._vector_index is None:
            self._vector_index = VectorIndex(self._reader, model.model_id, model.config.embedding_dim,
                                             standardise=model.config.library_standardisation)
        return self._vector_index

    def _rows_by_ids(self, track_ids: Sequence[int]) -> dict[int, TrackRow]:
        model_id, tag_names = (None, []) if self._spec is None else (self._spec.model_id, self._spec.config.tag_names)
        return shown_rows(self._reader, model_id, tag_names, track_ids)

    @staticmethod
    def _network():
        raise LibraryError("a search by track id reads stored analyses; analysing a file goes through the library")

    @staticmethod
    def _landmarks():
        raise LibraryError("a search by track id matches no landmarks; a file query goes through the library")


def all_track_ids(queries: Sequence[Query]) -> bool:
    """Whether every query is a track id (then ``TrackIdSearch`` answers them all)."""
    return all(as_track_id(query) is not None for query in queries)
