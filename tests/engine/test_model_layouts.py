"""Model folders written before the current weight layout still load and compute what they computed: the shipped
default (weights layout 1) gives the outputs recorded before the network's layers were renamed, and each old
layout's names are converted once, at load, into the current ones (engine.weight_layouts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import audio_factory
from engine.keys import Key
from engine.model_folder import DEFAULT_MODEL_DIR, default_model_available, load_model

# The shipped default's outputs on a 6 s D major chord progression (two windows: its first and its last
# 2.7 s), computed with engine/networks.py as it was before the layers were renamed (commit 5e303ed).
RECORDED_EMBEDDING_HEAD = [-0.4183, -0.00483, 0.23804, 0.26312, -0.14067, -0.21403, -0.07091, -0.39632]
RECORDED_EMBEDDING_TAIL = [1.5452, 1.74543, 0.63865, -0.51746, 2.27703, 2.43004, -0.2885, 0.80107]
RECORDED_EMBEDDING_NORM = 31.2261
RECORDED_KEY_PROBABILITIES = [
    0.19539, 0.0, 0.08885, 0.00099, 3e-05, 0.02691, 1e-05, 0.28349, 2e-05, 0.00139, 0.01082, 1e-05,
    0.02266, 4e-05, 0.03927, 1e-05, 0.17989, 8e-05, 0.00085, 0.05259, 4e-05, 0.04033, 0.0, 0.05632,
]
RECORDED_TAG_PROBABILITIES = [0.05889, 0.07154, 0.18051, 0.51212, 0.18233, 0.15901, 0.23453, 0.7402, 0.08531, 0.31613, 0.11069]
RECORDED_ROUNDING = 1e-5  # the values above are rounded to 5 decimals (the norm to 4)
FLOAT_TOLERANCE = 2e-4  # float32 rounding differences between builds of the same computation


@pytest.mark.skipif(not default_model_available(), reason="no shipped default model in this checkout")
def test_the_shipped_default_gives_the_outputs_recorded_before_the_layout_change():
    loaded = load_model(DEFAULT_MODEL_DIR)
    rate, window = loaded.config.sample_rate, loaded.config.window_samples
    clip = audio_factory.chord_progression(Key(2, "major"), 6.0, seed=7, sample_rate=rate).astype(np.float32)
    windows = torch.from_numpy(np.stack([clip[:window], clip[-window:]]))
    with torch.inference_mode():
        outputs = loaded.network(windows)
    embedding = outputs["embeddings"].mean(dim=0)
    tolerance = RECORDED_ROUNDING + FLOAT_TOLERANCE
    np.testing.assert_allclose(embedding[:8].numpy(), RECORDED_EMBEDDING_HEAD, atol=tolerance)
    np.testing.assert_allclose(embedding[-8:].numpy(), RECORDED_EMBEDDING_TAIL, atol=tolerance)
    assert float(embedding.norm()) == pytest.approx(RECORDED_EMBEDDING_NORM, abs=1e-3)
    key_probabilities = torch.softmax(outputs["key_logits"], dim=-1).mean(dim=0).numpy()
    np.testing.assert_allclose(key_probabilities, RECORDED_KEY_PROBABILITIES, atol=tolerance)
    tag_probabilities = torch.sigmoid(outputs["tag_logits"]).mean(dim=0).numpy()
    np.testing.assert_allclose(tag_probabilities, RECORDED_TAG_PROBABILITIES, atol=tolerance)
