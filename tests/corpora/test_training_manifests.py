"""Training manifests from the two corpus manifests: splits kept apart, labels in the trainer's schema."""

from __future__ import annotations

import os
from pathlib import Path

from training.corpora.cli import main as data_main
from training.corpora.manifest import write_manifest
from training.data import read_manifest


def _corpora(root: Path) -> tuple[Path, Path]:
    """A scores corpus whose records hold cwd-relative paths plus ``relative_path`` (as the builder writes them)
    and a game-music corpus with absolute paths; the files exist but hold nothing."""
    scores, debian = root / "scores", root / "debian"
    records = []
    for number, (split, key) in enumerate([("train", "A minor"), ("val", "C major"), ("test", "D major")]):
        relative = f"audio/{split}/clip{number}.flac"
        (scores / relative).parent.mkdir(parents=True, exist_ok=True)
        (scores / relative).write_bytes(b"")
        records.append({"path": f"somewhere/else/{relative}", "relative_path": relative, "split": split, "key": key,
                        "families": ["strings", "brass"], "texture": "ensemble", "source": "bach_chorales"})
    write_manifest(scores / "manifest.jsonl", records)
    tracks = []
    for split in ("train", "val", "test"):
        path = debian / "extracted" / f"{split}.ogg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        tracks.append({"path": str(path), "package": f"game-{split}", "split": split})
    write_manifest(debian / "manifest.jsonl", tracks)
    return scores / "manifest.jsonl", debian / "manifest.jsonl"


def test_manifests_keep_test_material_out_of_training_and_resolve_every_path(tmp_path):
    scores, debian = _corpora(tmp_path)
    out = tmp_path / "manifests"
    assert data_main(["manifests", "--scores", str(scores), "--debian", str(debian), "--out", str(out)]) == 0

    labeled = read_manifest(out / "labeled.jsonl")
    assert [(e.split, e.labels, e.key) for e in labeled] == [("train", ["key:A minor"], "A minor"),
                                                             ("val", ["key:C major"], "C major")]
    unlabeled = read_manifest(out / "unlabeled.jsonl")
    assert sorted(e.split for e in unlabeled) == ["train", "train", "val", "val"] and not any(e.labels for e in unlabeled)
    probe = read_manifest(out / "scores_probe.jsonl")
    assert [e.split for e in probe] == ["train", "val", "test"] and probe[0].labels == ["brass", "strings", "ensemble"]
    soundtracks = read_manifest(out / "labeled_soundtracks.jsonl")
    assert [(e.split, e.labels) for e in soundtracks] == [("train", ["soundtrack:game-train"]),
                                                          ("val", ["soundtrack:game-val"])]
    assert all(e.path.is_file() for e in labeled + unlabeled + probe + soundtracks)
    assert not any(os.path.isabs(line) for line in (out / "labeled.jsonl").read_text().split('"'))


def test_missing_corpora_give_one_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert data_main(["manifests", "--scores", str(empty), "--debian", str(empty), "--out", str(tmp_path / "m")]) == 1
    assert "engine train data scores" in capsys.readouterr().err


def test_game_music_carries_every_real_label_it_has():
    from training.corpora.training_manifests import game_music_labels

    tagged = {"package": "supertux-data", "artist": "  Jason  Lavallee", "album": "Forest", "genre": "Game Soundtrack"}
    assert game_music_labels(tagged) == ["soundtrack:supertux-data", "artist:jason lavallee",
                                         "album:supertux-data/forest"]
    metal = {"package": "fretsonfire", "soundtrack": "fof", "artist": "<Unknown>", "composer": "",
             "album": "chaos_god", "genre": "Death Metal"}
    assert game_music_labels(metal) == ["soundtrack:fof", "album:fretsonfire/chaos_god", "genre:death metal"]
    assert game_music_labels({"package": "p", "artist": "http://example.com/"}) == ["soundtrack:p"]


def test_generated_clips_join_the_key_labels_and_the_probe_with_their_tags(tmp_path):
    scores, debian = _corpora(tmp_path)
    generated = tmp_path / "generated"
    (generated / "audio").mkdir(parents=True)
    (generated / "audio" / "g.flac").write_bytes(b"")
    write_manifest(generated / "manifest.jsonl", [
        {"path": "x/audio/g.flac", "relative_path": "audio/g.flac", "split": "train", "key": "E minor",
         "families": ["organ", "guitar"], "solo": False, "source": "tonal_generator", "tempo_bpm": 96.0,
         "style": "folk"}])
    out = tmp_path / "manifests"
    assert data_main(["manifests", "--scores", str(scores), "--debian", str(debian),
                      "--generated", str(generated / "manifest.jsonl"), "--out", str(out)]) == 0
    probe = read_manifest(out / "scores_probe.jsonl")
    assert (probe[-1].split, probe[-1].key, probe[-1].labels) == ("train", "E minor", ["guitar", "organ", "ensemble"])
    assert probe[-1].path.is_file()
    assert read_manifest(out / "labeled.jsonl")[-1].labels == ["key:E minor"]
