"""Corpus building on tiny inputs made here: MIDI writing, clip cutting, splits, manifests, labels, rendering."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.keys import Key
from training.corpora.debian_copyright import license_for, parse_copyright
from training.corpora.instrumentation import FAMILIES, choose_instrumentation, family_of_program
from training.corpora.manifest import append_records, read_manifest
from training.corpora.midi_file import MidiNote, MidiTrack, midi_file_bytes
from training.corpora.score_clip import ClipVariant, build_clip_midi
from training.corpora.score_notes import ScoreNotes
from training.corpora.score_plan import ScoreCorpusConfig, plan_clips
from training.corpora.score_sources import ScorePiece, parse_abc_key
from training.corpora.splits import split_of_group


def _scale_notes(bars: int = 8) -> ScoreNotes:
    notes = [[float(i), 1.0, 60 + [0, 2, 4, 5, 7, 9, 11, 12][i % 8], 0] for i in range(bars * 4)]
    return ScoreNotes(notes, [float(4 * b) for b in range(bars)], 1, float(bars * 4))


def test_midi_file_has_header_tempo_and_one_track_per_instrument():
    data = midi_file_bytes([MidiNote(0, 1, 60, 90, 0), MidiNote(0, 1, 64, 90, 1)], [MidiTrack(0), MidiTrack(40)], 120)
    assert data[:4] == b"MThd"
    assert data.count(b"MTrk") == 3
    assert b"\xff\x51\x03" + (500000).to_bytes(3, "big") in data
    assert bytes([0xC1, 40]) in data  # program change for the second track on channel 1


def test_short_tune_is_looped_and_cut_on_a_bar_line():
    variant = ClipVariant(0, 120.0, choose_instrumentation(1, random.Random(1)), 30.0, 20.0, 40.0)
    clip = build_clip_midi(_scale_notes(bars=4), variant, random.Random(0))  # 8 s of music at 120 bpm
    assert 20.0 <= clip.seconds <= 40.0
    assert (clip.seconds / 0.5) % 4 == pytest.approx(0)  # whole bars of four quarters


def test_abc_key_field_keeps_major_and_minor_only():
    assert parse_abc_key("G") == Key(7, "major")
    assert parse_abc_key("Em") == Key(4, "minor")
    assert parse_abc_key("Bbmaj") == Key(10, "major")
    assert parse_abc_key("Ador") is None
    assert parse_abc_key("D mix") is None


def test_instrumentation_labels_match_programs():
    rng = random.Random(3)
    for part_count in (1, 4):
        for _ in range(50):
            choice = choose_instrumentation(part_count, rng)
            assert set(choice.families) == {family_of_program(p) for p in choice.programs}
            assert set(choice.families) <= set(FAMILIES)
            assert choice.solo == (len(set(choice.programs)) == 1 and len(choice.families) == 1) or not choice.solo


def test_plan_keeps_each_piece_on_one_side_and_held_out_soundfont_in_test_only():
    pieces = [ScorePiece(f"p{i}", "bach_chorales", f"p{i}", Key(i % 12, ("major", "minor")[i % 2]), "", f"BWV{i}")
              for i in range(200)]
    split_of_piece = {p.piece_id: split_of_group(p.split_group) for p in pieces}
    jobs = plan_clips(pieces, split_of_piece, {}, {"train": 1.0, "val": 0.2, "test": 0.3}, ScoreCorpusConfig())
    sides: dict[str, set[str]] = {}
    for job in jobs:
        sides.setdefault(job.piece.piece_id, set()).add(job.split)
        assert split_of_piece[job.piece.piece_id] == job.split
        if job.soundfont == "MuseScore_General_Lite":
            assert job.split == "test"
    assert all(len(s) == 1 for s in sides.values())
    assert {job.key.mode for job in jobs} == {"major", "minor"}


def test_plan_is_prefix_stable_when_the_budget_grows():
    pieces = [ScorePiece(f"t{i}", "oneills1850", f"t{i}", Key(7, "major" if i % 3 else "minor"), "", f"tune:{i}")
              for i in range(60)]
    split_of_piece = {p.piece_id: "train" for p in pieces}
    small = plan_clips(pieces, split_of_piece, {}, {"train": 0.1}, ScoreCorpusConfig())
    large = plan_clips(pieces, split_of_piece, {}, {"train": 0.3}, ScoreCorpusConfig())
    assert large[: len(small)] == small


def test_manifest_skips_a_torn_last_line(tmp_path: Path):
    path = tmp_path / "manifest.jsonl"
    append_records(path, [{"clip_id": "a"}, {"clip_id": "b"}])
    with open(path, "a") as handle:
        handle.write('{"clip_id": "c", "pa')
    assert [r["clip_id"] for r in read_manifest(path)] == ["a", "b"]


def test_dep5_last_matching_stanza_governs_installed_path():
    text = ("Files: *\nCopyright: team\nLicense: GPL-2+\n\n"
            "Files: data/music/bay.ogg\nCopyright: 0zone0ne\nLicense: CC-BY-SA-3.0\n")
    stanzas = parse_copyright(text)
    assert license_for(stanzas, "usr/share/games/x/data/music/bay.ogg").license == "CC-BY-SA-3.0"
    assert license_for(stanzas, "usr/share/games/x/data/music/other.ogg").license == "GPL-2+"


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").exists(),
                    reason="fluidsynth or FluidR3_GM not installed")
def test_tiny_music21_score_renders_to_audio_in_its_key(tmp_path: Path):
    music21 = pytest.importorskip("music21")
    from training.corpora.audio_files import peak_normalised, write_audio
    from training.corpora.fluidsynth_render import render_midi
    from training.corpora.score_notes import notes_from_stream
    from training.evaluation.chroma_key import estimate_key
    from engine.audio import decode_mono

    stream = music21.stream.Stream()
    for name in ["C4", "E4", "G4", "C5", "G4", "E4", "C4", "G3"] * 2:
        stream.append(music21.note.Note(name, quarterLength=1))
    stream.append(music21.chord.Chord(["C3", "E4", "G4"], quarterLength=4))
    variant = ClipVariant(2, 120.0, choose_instrumentation(1, random.Random(0)), 8.0, 5.0, 12.0)
    clip = build_clip_midi(notes_from_stream(stream), variant, random.Random(0))
    samples = render_midi(clip.midi_bytes, Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), 22050)
    path = tmp_path / "clip.flac"
    write_audio(path, peak_normalised(samples), 22050)
    decoded = decode_mono(path, 22050)
    assert decoded.size > 22050 * 5
    assert float(np.abs(decoded).max()) > 0.5
    assert estimate_key(decoded, 22050) == Key(2, "major")  # C major transposed up two semitones
