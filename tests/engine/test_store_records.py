"""Tracks and models come from the store as typed records, read through ``Library`` (never dicts keyed by column)."""

from __future__ import annotations

import os

import numpy as np

from engine.library import Library
from engine.records import StoredModel, StoredTrack, TaggedTrack


def test_tagged_tracks_and_analyses_are_read_through_the_library_as_records(indexed_library, model_dir, monkeypatch):
    database, report = indexed_library
    with Library(database, model_dir) as library:
        tagged = library.tagged_tracks()
        assert len(tagged) == report.added and all(isinstance(track, TaggedTrack) for track in tagged)
        assert [track.id for track in tagged] == sorted(track.id for track in tagged)
        tag_count = len(library.model_spec().config.tag_names)
        assert all(track.tag_probs is not None and track.tag_probs.shape == (tag_count,) for track in tagged)
        listed = library.tracks(0, 1)[0]
        by_id = {track.id: track for track in tagged}
        assert by_id[listed.id].path == listed.path and by_id[listed.id].title == listed.title
        assert library.tagged_tracks(track_ids=[listed.id]) == [by_id[listed.id]]

        monkeypatch.chdir(os.path.dirname(listed.path))
        assert library.track_id_for_path(os.path.basename(listed.path)) == listed.id  # a relative path is the same file
        assert library.track_id_for_path("not-in-the-library.flac") is None
        analysis = library.analysis_of(listed.id)
        assert analysis is not None and np.allclose(analysis.tag_probs, by_id[listed.id].tag_probs)
        assert library.analysis_of(listed.id, "some-other-model") is None


def test_the_store_hands_out_stored_tracks_and_models(indexed_library, model_dir):
    database, _ = indexed_library
    with Library(database, model_dir) as library:
        (stored_model,) = library.store.models()
        assert isinstance(stored_model, StoredModel) and stored_model.model_id == library.active_model_id
        assert stored_model.analysed == library.track_count() and isinstance(stored_model.tag_names, list)
        listed = library.tracks(0, 3)
        stored = library.store.track_rows_by_ids(library.active_model_id, [track.id for track in listed])
        assert all(isinstance(row, StoredTrack) and row.analysed for row in stored.values())
        assert [stored[track.id].duration for track in listed] == [track.duration for track in listed]
        unanalysed = library.store.track_rows_by_ids(None, [listed[0].id])[listed[0].id]
        assert not unanalysed.analysed and unanalysed.key_index is None and unanalysed.size > 0
