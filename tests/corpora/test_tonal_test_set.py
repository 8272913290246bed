"""The independent tonal key test set: balanced plans, labels the notes agree with, exact tempo, determinism,
resume. The rendered pieces come from the ``rendered_tonal_set`` fixture (tests/corpora/conftest.py)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine.audio import decode_mono
from engine.keys import key_from_index, mirex_key_score, parse_key
from training.corpora.manifest import read_manifest
from training.evaluation.chroma_key import key_scores_from_chroma, mean_chroma
from training.evaluation.tonal_midi import MICROSECONDS_PER_MINUTE, tempo_of
from training.evaluation.tonal_test_piece import (
    BASS_CHANNEL, COMP_CHANNEL, MAX_SECONDS, MELODY_CHANNEL, MIN_SECONDS, TAIL_SECONDS, piece_midi, piece_notes,
    plan_piece,
)
from training.evaluation.tonal_test_set import SOUNDFONT, TonalTestSetError, build_tonal_test_set

SEED = 20
PLANNED = 96  # four blocks of 24: cheap, since nothing is rendered
PITCHED_CHANNELS = (MELODY_CHANNEL, COMP_CHANNEL, BASS_CHANNEL)


def _note_histogram(index: int, channels: tuple[int, ...] = PITCHED_CHANNELS) -> np.ndarray:
    """Duration-weighted pitch classes of a piece's notes on ``channels``."""
    histogram = np.zeros(12)
    for note in piece_notes(plan_piece(SEED, index)):
        if note.channel in channels:
            histogram[note.pitch % 12] += note.length
    return histogram


def test_every_block_of_24_pieces_holds_each_key_once_with_minor_kinds_and_drums_balanced():
    for block in range(PLANNED // 24):
        plans = [plan_piece(SEED, index) for index in range(24 * block, 24 * block + 24)]
        assert sorted(plan.key.index for plan in plans) == list(range(24))
        assert Counter(plan.minor_kind for plan in plans if plan.key.mode == "minor") == {
            "natural": 4, "harmonic": 4, "dorian": 4}
        assert all(plan.minor_kind == "" for plan in plans if plan.key.mode == "major")
        assert Counter((plan.key.mode, plan.drums) for plan in plans) == {
            ("major", True): 6, ("major", False): 6, ("minor", True): 6, ("minor", False): 6}
    styles = Counter(plan_piece(SEED, index).style for index in range(PLANNED))
    assert set(styles) == {"pop", "rock", "folk", "edm", "jazz"} and min(styles.values()) >= PLANNED // 5 - 2


def test_the_notes_of_a_piece_correlate_best_with_its_labelled_key_profile():
    credit = Counter()
    for index in range(PLANNED):
        plan = plan_piece(SEED, index)
        best = key_from_index(int(np.argmax(key_scores_from_chroma(_note_histogram(index)))))
        credit[mirex_key_score(best, plan.key)] += 1
    assert credit[1.0] >= 0.85 * PLANNED
    assert credit[0.0] <= 0.03 * PLANNED  # a miss is nearly always a neighbouring key (fifth, relative, parallel)


def test_harmonic_minor_melodies_and_chords_sound_the_leading_tone_and_natural_minor_ones_do_not():
    for index in range(PLANNED):  # the bass is left out: a walking bass approaches the tonic chromatically
        plan = plan_piece(SEED, index)
        if plan.minor_kind in ("harmonic", "natural"):
            histogram = _note_histogram(index, (MELODY_CHANNEL, COMP_CHANNEL))
            leading_tone, subtonic = (plan.key.pitch_class + 11) % 12, (plan.key.pitch_class + 10) % 12
            if plan.minor_kind == "harmonic":
                assert histogram[leading_tone] > 0
            else:
                assert histogram[leading_tone] == 0 and histogram[subtonic] > 0


def test_the_tempo_in_the_midi_file_is_the_labelled_tempo_and_pieces_fit_20_to_40_seconds():
    for index in range(PLANNED):
        plan = plan_piece(SEED, index)
        assert MICROSECONDS_PER_MINUTE / tempo_of(piece_midi(plan)) == plan.tempo_bpm
        # the file plays the drawn whole-number tempo to within a microsecond per beat
        assert 60 <= round(plan.tempo_bpm) <= 180 and abs(plan.tempo_bpm - round(plan.tempo_bpm)) < 1e-3
        assert MIN_SECONDS <= plan.music_seconds + TAIL_SECONDS <= MAX_SECONDS


def test_a_piece_is_rebuilt_identically_from_seed_and_index_and_differs_under_another_seed():
    assert piece_midi(plan_piece(SEED, 7)) == piece_midi(plan_piece(SEED, 7))
    assert piece_midi(plan_piece(SEED, 7)) != piece_midi(plan_piece(SEED + 1, 7))


def test_rendered_pieces_carry_their_labels_and_their_audio_sounds_in_the_labelled_key(rendered_tonal_set):
    records = read_manifest(rendered_tonal_set / "manifest.jsonl")
    assert [record["index"] for record in records] == [0, 1]
    for record in records:
        plan = plan_piece(record["seed"], record["index"])
        assert parse_key(record["key"]) == plan.key and record["key"] == plan.key.name
        assert (record["mode"], record["minor_kind"], record["style"], record["drums"]) == (
            plan.key.mode, plan.minor_kind, plan.style, plan.drums)
        assert record["tempo_bpm"] == MICROSECONDS_PER_MINUTE / tempo_of(Path(record["midi"]).read_bytes())
        assert (record["split"], record["generator"], record["soundfont"]) == ("test", "tonal_test_v1", SOUNDFONT.name)
        samples = decode_mono(record["path"], record["sample_rate"])
        assert samples.size / record["sample_rate"] == pytest.approx(record["duration"], abs=0.05)
        assert MIN_SECONDS <= record["duration"] <= MAX_SECONDS
        scores = key_scores_from_chroma(mean_chroma(samples, record["sample_rate"]))
        assert int(np.argmax(scores)) == plan.key.index


def test_an_interrupted_set_resumes_with_only_the_missing_pieces(rendered_tonal_set, tmp_path):
    resumed = tmp_path / "resumed"
    shutil.copytree(rendered_tonal_set, resumed)
    records = read_manifest(resumed / "manifest.jsonl")
    moved = [{**record, "path": str(resumed / "audio" / Path(record["path"]).name)} for record in records]
    finished_audio = Path(moved[0]["path"])
    Path(moved[1]["path"]).unlink()  # a piece whose audio was lost is rendered again
    with open(resumed / "manifest.jsonl", "w", encoding="utf-8") as handle:
        for record in moved:
            handle.write(json.dumps(record) + "\n")
        handle.write('{"path": "torn')  # a run killed mid-line
    before = finished_audio.stat().st_mtime_ns
    summary = build_tonal_test_set(resumed, pieces=2, seed=records[0]["seed"], workers=1)
    assert summary["rendered_now"] == 1 and summary["pieces"] == 2
    assert finished_audio.stat().st_mtime_ns == before
    again = read_manifest(resumed / "manifest.jsonl")
    assert [record["index"] for record in again] == [0, 1] and all(Path(r["path"]).exists() for r in again)
    # the re-rendered piece is the same audio as before: rendering is deterministic too
    original = decode_mono(str(rendered_tonal_set / "audio" / "0001.flac"), 22050)
    assert np.array_equal(decode_mono(again[1]["path"], 22050), original)


def test_a_folder_built_with_another_seed_is_refused(rendered_tonal_set, tmp_path):
    with pytest.raises(TonalTestSetError, match="seed"):
        build_tonal_test_set(rendered_tonal_set, pieces=2, seed=SEED + 1, workers=1)
