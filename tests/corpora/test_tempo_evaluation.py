"""The tempo section of `engine eval`: Acc1 / Acc2 on renders in the tonal test manifest's format, time-stretch
consistency through sox, the onset-autocorrelation baseline beside the engine, and the report's tables."""

from __future__ import annotations

import json
import shutil

import pytest

import audio_factory
import rhythm_factory
from training.evaluation import cli as evaluation_cli
from training.evaluation.tempo_eval import (
    evaluate_tempo_renders, evaluate_tempo_stretch, onset_autocorrelation_bpm, stretch_consistent, tempo_accuracy,
    tempo_markdown,
)

RENDERS = ((96.0, True), (132.0, True), (75.0, False))  # (tempo, drums)


@pytest.fixture(scope="module")
def tonal_manifest(tmp_path_factory):
    """Three renders at known tempi, described as `engine train data tonal-test` describes its pieces."""
    folder = tmp_path_factory.mktemp("tonal-test")
    records = []
    for index, (bpm, drums) in enumerate(RENDERS):
        make = rhythm_factory.drum_groove if drums else rhythm_factory.plucked_chords
        path = audio_factory.write_audio(make(bpm, 24.0, seed=index), folder / f"{index:04d}.flac")
        records.append({"path": str(path), "key": "C major", "mode": "major", "minor_kind": "", "style": "rock",
                        "tempo_bpm": bpm, "drums": drums, "soundfont": "synthesised", "programs": [0],
                        "duration": 24.0, "sample_rate": audio_factory.SAMPLE_RATE, "seed": index, "split": "test",
                        "generator": "tonal_test_v1"})
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(record) + "\n" for record in records))
    return manifest, [*records, {**records[0], "split": "train"}]  # a record not held out: never scored


def test_acc1_and_acc2_follow_their_definitions():
    assert tempo_accuracy(121.0, 120.0) == (True, True)
    assert tempo_accuracy(60.5, 120.0) == (False, True)  # half
    assert tempo_accuracy(358.0, 120.0) == (False, True)  # triple
    assert tempo_accuracy(180.0, 120.0) == (False, False)  # 3:2 is neither
    assert tempo_accuracy(None, 120.0) == (False, False)
    assert stretch_consistent(100.0, 110.0, 1.1) and not stretch_consistent(100.0, 100.0, 1.1)
    assert not stretch_consistent(None, 110.0, 1.1)


def test_renders_are_scored_for_the_engine_and_the_baseline_by_drums(tonal_manifest):
    _, records = tonal_manifest
    found = evaluate_tempo_renders(records, essentia=False)
    assert found["clips"] == 3
    engine = found["methods"]["engine"]
    assert engine["all"] == {"acc1": 1.0, "acc2": 1.0, "clips": 3}
    assert engine["drums"]["clips"] == 2 and engine["no_drums"]["clips"] == 1
    baseline = found["methods"]["onset_autocorrelation"]["all"]
    assert 0.0 <= baseline["acc1"] <= baseline["acc2"] <= 1.0


def test_the_plain_baseline_finds_a_click_tracks_period_to_the_frame():
    assert abs(onset_autocorrelation_bpm(rhythm_factory.click_track(125.0, 20.0, 16_000), 16_000) / 125.0 - 1) < 0.02


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
def test_stretched_excerpts_keep_the_engines_tempo_in_proportion(tonal_manifest):
    _, records = tonal_manifest
    found = evaluate_tempo_stretch(records[:2], essentia=False)
    assert (found["tracks"], found["pairs"]) == (2, 4)
    assert found["methods"]["engine"]["consistency"] == 1.0
    lines = "\n".join(tempo_markdown({"stretch": found}))
    assert "| engine | 100.0 |" in lines and "4 excerpt pairs from 2 tracks" in lines


def test_engine_eval_writes_the_tempo_tables(tonal_manifest, tmp_path, capsys):
    manifest, _ = tonal_manifest
    no_tracks = tmp_path / "no-tracks.jsonl"
    no_tracks.write_text("", encoding="utf-8")
    code = evaluation_cli.main(["--tonal-test", str(manifest), "--skip-renders", "--skip-soundtracks",
                                "--no-essentia", "--debian", str(no_tracks), "--out", str(tmp_path / "report")])
    assert code == 0
    results = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert results["tempo"]["renders"]["methods"]["engine"]["all"]["acc1"] == 1.0
    markdown = (tmp_path / "report" / "evaluation.md").read_text()
    assert "## Tempo on held-out renders (3 clips; within 4 %)" in markdown
    assert "| engine | 100.0 | 100.0 |" in markdown and "| onset_autocorrelation |" in markdown
    assert results["tempo"]["stretch"]["pairs"] == 0  # a game-music manifest without tracks: nothing stretched
