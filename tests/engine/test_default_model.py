"""The shipped default model itself (resources/models/default): it loads safely, and its key estimates on
synthesised chord progressions in all 24 keys are right, or the relative key, and move with transposition."""

from __future__ import annotations

import pytest

import audio_factory
from engine.analyzer import Analyzer, key_estimate
from engine.keys import Key, key_from_index
from engine.model_folder import DEFAULT_MODEL_DIR, default_model_available, load_model
from engine.networks import PitchClassKeyHead

pytestmark = pytest.mark.skipif(not default_model_available(), reason="no shipped default model in this checkout")

SECONDS = 20.0  # a progression long enough to state its minor tonic (at 12 s the model hears the relative major)


def _relative(key):
    """C major <-> A minor: the same notes, the confusion a key finder is allowed (MIREX gives it 0.3)."""
    if key.mode == "major":
        return Key((key.pitch_class - 3) % 12, "minor")
    return Key((key.pitch_class + 3) % 12, "major")


@pytest.fixture(scope="module")
def estimates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    analyzer = Analyzer(load_model(DEFAULT_MODEL_DIR))
    found = {}
    for index in range(24):
        key = key_from_index(index)
        path = audio_factory.write_audio(audio_factory.chord_progression(key, SECONDS, seed=1), folder / f"{index}.flac")
        found[key] = key_estimate(analyzer.analyze_file(path).key_probs).key
    return found


def test_the_shipped_model_has_the_pitch_class_key_head_and_a_tag_head():
    loaded = load_model(DEFAULT_MODEL_DIR)
    assert isinstance(loaded.network.key_head, PitchClassKeyHead)
    assert loaded.config.name == "default" and "ensemble" in loaded.config.tag_names


def test_keys_of_chord_progressions_are_right_or_relative(estimates):
    exact = sum(estimate == key for key, estimate in estimates.items())
    assert all(estimate in (key, _relative(key)) for key, estimate in estimates.items()), estimates
    assert exact >= 18, f"{exact}/24 exact"  # 22 when written


def test_every_major_key_is_found_exactly(estimates):
    """The same progression in 12 transpositions: a transposition-equivariant key head gets all or none."""
    assert all(estimate == key for key, estimate in estimates.items() if key.mode == "major")
