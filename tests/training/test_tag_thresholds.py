"""Tag thresholds judged on soundtracks: a tag that fires on most of some soundtracks is raised or hidden."""

import json

import numpy as np
import pytest

from training.evaluation.bootstrap import upper_bound_of_mean
from training.tag_calibration import (
    MAX_REAL_FIRE_RATE,
    NEVER_FIRES,
    TagCalibrationError,
    calibrate_tag,
    fire_rates_by_soundtrack,
    threshold_within_fire_rate,
)


def soundtracks_with_rates(rates: list[float], tracks: int = 20, seed: int = 0) -> list[np.ndarray]:
    """Scores per soundtrack whose share above 0.5 is each given rate (scores spread over (0, 1))."""
    rng = np.random.default_rng(seed)
    result = []
    for rate in rates:
        high = int(round(rate * tracks))
        scores = np.concatenate([rng.uniform(0.55, 0.99, high), rng.uniform(0.01, 0.45, tracks - high)])
        result.append(rng.permutation(scores))
    return result


def test_fire_rates_are_per_soundtrack_shares_at_each_threshold():
    rates = fire_rates_by_soundtrack([np.array([0.1, 0.6, 0.9]), np.array([0.7, 0.8])], np.array([0.5, 0.75]))
    np.testing.assert_allclose(rates, [[2 / 3, 1 / 3], [1.0, 0.5]])


def test_the_upper_bound_of_a_mean_lies_above_it_and_grows_with_the_spread():
    steady = upper_bound_of_mean(np.full(12, 0.4))
    spread = upper_bound_of_mean(np.array([0.1, 0.7] * 6))
    assert np.isclose(steady[0], 0.4)
    assert spread[0] > 0.4


def test_a_tag_rare_on_every_soundtrack_keeps_its_f1_threshold():
    soundtracks = soundtracks_with_rates([0.2, 0.3, 0.25, 0.1, 0.2, 0.3])
    threshold, bound = threshold_within_fire_rate(soundtracks, 0.5)
    assert threshold == 0.5
    assert bound <= MAX_REAL_FIRE_RATE


def test_a_tag_that_floods_some_soundtracks_is_raised_until_the_bound_holds():
    soundtracks = soundtracks_with_rates([0.2, 0.95, 0.3, 1.0, 0.1, 0.9, 0.85, 0.4])
    threshold, bound = threshold_within_fire_rate(soundtracks, 0.5)
    assert threshold > 0.5
    assert bound <= MAX_REAL_FIRE_RATE
    assert upper_bound_of_mean(fire_rates_by_soundtrack(soundtracks, np.array([0.5])))[0] > MAX_REAL_FIRE_RATE
    assert not any(np.isclose(threshold, np.concatenate(soundtracks)))


def test_a_tag_that_fires_on_every_reference_track_is_raised_above_them_all_or_never_fires():
    threshold, bound = threshold_within_fire_rate([np.full(10, 0.9), np.full(10, 0.9)], 0.5)
    assert 0.9 < threshold < 0.91 and bound == 0.0
    saturated, _ = threshold_within_fire_rate([np.full(10, 1.0), np.full(10, 1.0)], 0.5)
    assert saturated == NEVER_FIRES


def test_a_raised_tag_is_shown_only_while_it_still_finds_its_renders():
    labels = np.array([True] * 10 + [False] * 10)
    confident = np.concatenate([np.linspace(0.9, 0.99, 10), np.linspace(0.05, 0.4, 10)])
    timid = np.concatenate([np.linspace(0.55, 0.7, 10), np.linspace(0.05, 0.4, 10)])
    flooded = soundtracks_with_rates([0.9, 1.0, 0.95, 0.2], seed=1)
    for soundtrack in flooded:
        soundtrack[soundtrack > 0.5] = np.minimum(soundtrack[soundtrack > 0.5], 0.8)
    shown = calibrate_tag(confident, labels, flooded)
    hidden = calibrate_tag(timid, labels, flooded)
    assert shown["shown"] and shown["threshold"] > shown["f1_threshold"] and shown["render_recall"] == 1.0
    assert not hidden["shown"] and hidden["render_recall"] < 0.25
    assert "renders" in hidden["reason"]


def write_manifest(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_calibrate_tags_reads_validation_renders_and_non_test_soundtracks_only(tmp_path, monkeypatch):
    import torch

    import audio_factory
    from engine.analyzer import Analyzer
    from engine.keys import key_from_index
    from engine.model_folder import ModelConfig, build_network, save_model
    from engine.networks import LogFreqCNNConfig, encoder_config_to_dict
    from engine.tag_calibration import load_tag_calibration
    from training.tag_calibration import calibrate, write_calibration

    torch.manual_seed(0)
    encoder = LogFreqCNNConfig(channels=(8, 16, 32, 32), embedding_dim=64, window_samples=43200)
    config = ModelConfig(name="calibration-test", architecture=encoder_config_to_dict(encoder),
                         key_head={"hidden_dim": 0}, tag_head={"labels": ["solo", "ensemble", "strings"],
                                                               "hidden_dim": 0})
    network = build_network(config)
    network.eval()
    model = save_model(tmp_path / "model", network, config, model_card="Random weights, for tests only.\n")

    def clip(name, seed):
        audio = audio_factory.chord_progression(key_from_index(seed % 24), 4.0, seed=seed)
        return str(audio_factory.write_audio(audio, tmp_path / f"{name}.wav"))

    renders = [{"split": "val", "path": clip(f"render{n}", n), "texture": "solo" if n % 2 else "ensemble",
                "families": ["strings"] if n % 3 else ["brass"]} for n in range(8)]
    renders.append({"split": "test", "path": str(tmp_path / "never-read-render.wav"), "texture": "solo",
                    "families": []})
    tracks = [{"split": split, "soundtrack": soundtrack, "path": clip(f"{soundtrack}{n}", 50 + 7 * n + len(soundtrack))}
              for split, soundtrack in (("train", "alpha"), ("train", "beta"), ("val", "gamma")) for n in range(3)]
    tracks.append({"split": "test", "soundtrack": "held-out", "path": str(tmp_path / "never-read-track.wav")})
    read = []
    original = Analyzer.analyze_file
    monkeypatch.setattr(Analyzer, "analyze_file", lambda self, path: read.append(path) or original(self, path))

    calibration = calibrate(model, write_manifest(tmp_path / "scores.jsonl", renders),
                            write_manifest(tmp_path / "debian.jsonl", tracks))

    assert sorted(read) == sorted(track["path"] for track in tracks if track["split"] != "test")
    assert set(calibration) == {"solo", "ensemble", "strings"}
    for entry in calibration.values():
        assert 0.0 < entry["threshold"] <= NEVER_FIRES
        assert entry["real_fire_rate_bound"] <= MAX_REAL_FIRE_RATE or entry["threshold"] == NEVER_FIRES
        assert entry["shown"] == (entry["reason"] == "")
    unlabelled = [{name: value for name, value in render.items() if name not in ("texture", "families")}
                  for render in renders]  # a manifest of other labels: none of the model's tags is known
    config_before = (model / "config.json").read_bytes()
    with pytest.raises(TagCalibrationError, match="none of the model's tags"):  # else every tag would be hidden
        calibrate(model, write_manifest(tmp_path / "other-labels.jsonl", unlabelled),
                  write_manifest(tmp_path / "debian.jsonl", tracks))
    assert (model / "config.json").read_bytes() == config_before
    write_calibration(model, calibration, {"split": "val"})
    loaded = load_tag_calibration(model)
    assert {name: entry.threshold for name, entry in loaded.items()} == {
        name: entry["threshold"] for name, entry in calibration.items()}
