"""Models in a library: registering a folder lists it without switching; a bad folder is refused with its reason."""

from __future__ import annotations

import pytest

from engine.library import Library, ModelUnavailableError


def test_registering_a_model_lists_it_without_making_it_active(model_dir, second_model_dir, tmp_path):
    with Library(tmp_path / "lib.db", model_dir) as library:
        active = library.active_model_id
        registered = library.register_model(second_model_dir)
        assert registered != active and library.active_model_id == active
        models = {info.model_id: info for info in library.models()}
        assert set(models) == {active, registered}
        assert models[registered].analysed_tracks == 0 and not models[registered].active
        assert library.register_model(second_model_dir) == registered  # registering twice keeps one entry
        assert len(library.models()) == 2


def test_registering_a_folder_without_a_model_is_refused(model_dir, tmp_path):
    with Library(tmp_path / "lib.db", model_dir) as library:
        with pytest.raises(ModelUnavailableError):
            library.register_model(tmp_path)
        assert len(library.models()) == 1
