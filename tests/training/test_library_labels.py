"""Labels from library tags: normalisation, splitting, aliases, rare values, album hold-out, refusals."""

from __future__ import annotations

import pytest

from training.library_labels import (
    LabelPlan, NotEnoughLabelsError, TaggedTrack, field_values, label_field, label_value, normalise_value, plan_labels,
)


def test_values_are_normalised_for_case_whitespace_unicode_and_hyphens():
    assert normalise_value("  Rock  ") == "rock"
    assert normalise_value("ROCK") == normalise_value("rock")
    assert normalise_value("Post-Rock") == normalise_value("post  rock") == "post rock"
    assert normalise_value("Ｒｏｃｋ") == "rock"  # full-width letters (NFKC)
    assert normalise_value("Café") == normalise_value("Cafe\u0301")  # composed and decomposed é


@pytest.mark.parametrize("spelling", ["Hip Hop", "hip-hop", "HipHop", "Hip_Hop", "hip  hop"])
def test_spellings_of_hip_hop_become_one_label(spelling):
    assert field_values("genre", spelling) == ["hip hop"]


@pytest.mark.parametrize("spelling, label", [
    ("R&B", "r&b"), ("RnB", "r&b"), ("Rhythm and Blues", "r&b"),
    ("Drum & Bass", "drum and bass"), ("drum and bass", "drum and bass"), ("DnB", "drum and bass"),
    ("Drum'n'Bass", "drum and bass"), ("Rock 'n' Roll", "rock and roll"),
])
def test_alias_table_merges_common_spellings(spelling, label):
    assert field_values("genre", spelling) == [label]


def test_related_genres_are_not_merged():
    assert field_values("genre", "Electronica") == ["electronica"]
    assert field_values("genre", "Electronic") == ["electronic"]


@pytest.mark.parametrize("raw", ["Rock; Pop", "Rock/Pop", "Rock, Pop", "Rock|Pop", "Rock\x00Pop", " rock /  POP "])
def test_multi_value_tags_split_into_labels(raw):
    assert field_values("genre", raw) == ["rock", "pop"]


def test_known_compound_values_are_not_split():
    assert field_values("genre", "Singer/Songwriter") == ["singer songwriter"]
    assert field_values("genre", "R&B/Soul") == ["r&b", "soul"]
    assert field_values("genre", "Rock; rock") == ["rock"]  # duplicates after normalisation


def test_id3v1_genre_numbers_become_names():
    assert field_values("genre", "(17)") == ["rock"]
    assert field_values("genre", "17") == ["rock"]
    assert field_values("genre", "(8)Jazz") == ["jazz"]
    assert field_values("genre", "80s Pop") == ["80s pop"]


def test_key_tags_are_read_in_every_notation():
    assert field_values("key", "Am") == field_values("key", "8A") == field_values("key", "1m") == ["A minor"]
    assert field_values("key", "not a key") == []
    assert field_values("genre", None) == field_values("genre", "  ") == []


def test_labels_carry_their_field_as_namespace():
    assert label_field("genre:hip hop") == "genre" and label_value("genre:hip hop") == "hip hop"
    assert label_field("key:A minor") == "key"
    assert label_field("brass") == "" and label_value("brass") == "brass"


def _library(spec: list[tuple[str, str | None, str | None]], tracks_per_album: int = 1) -> list[TaggedTrack]:
    """(album, genre, mood) per album → ``tracks_per_album`` tracks each, ids from 1, one folder per album."""
    tracks = []
    for album, genre, mood in spec:
        for _ in range(tracks_per_album):
            number = len(tracks) + 1
            tracks.append(TaggedTrack(number, f"/music/{album}/{number:03d}.mp3", album=album, genre=genre, mood=mood))
    return tracks


def test_rare_values_are_dropped_and_their_tracks_are_unlabeled():
    spec = [(f"rock{i}", "Rock", None) for i in range(4)] + [(f"jazz{i}", "Jazz", None) for i in range(4)]
    spec += [("polka", "Polka", None), ("blank", None, None)]
    plan = plan_labels(_library(spec, tracks_per_album=3), ["genre"], min_tracks=6)
    assert plan.labels == ["genre:jazz", "genre:rock"]
    assert plan.dropped_counts == {"genre:polka": 3}
    polka_and_blank = set(range(25, 31))
    assert polka_and_blank <= set(plan.unlabeled) | set(plan.excluded)
    assert not polka_and_blank & (set(plan.train_labeled) | set(plan.held_out))
    summary = plan.summary()
    assert summary["labeled_tracks"] == 24 and summary["tracks"] == 30 and summary["labeled_share"] == 0.8
    assert {row["label"]: row["tracks"] for row in summary["labels"]} == {"genre:rock": 12, "genre:jazz": 12}


def test_two_fields_give_namespaced_labels_on_one_track():
    spec = [(f"a{i}", "Rock", "Calm") for i in range(4)] + [(f"b{i}", "Jazz", "Energetic") for i in range(4)]
    plan = plan_labels(_library(spec, tracks_per_album=3), ["genre", "mood"], min_tracks=3)
    assert plan.labels == ["genre:jazz", "genre:rock", "mood:calm", "mood:energetic"]
    assert plan.labels_by_track[1] == ["genre:rock", "mood:calm"]


def test_held_out_albums_are_never_on_both_sides():
    spec = [(f"rock{i}", "Rock", None) for i in range(6)] + [(f"jazz{i}", "Jazz", None) for i in range(6)]
    tracks = _library(spec, tracks_per_album=4) + _library([("untagged", None, None)], tracks_per_album=4)
    for track in tracks[-4:]:
        object.__setattr__(track, "id", track.id + 100)
    plan = plan_labels(tracks, ["genre"], min_tracks=3, holdout_share=0.25, seed=1)
    album_of = {track.id: track.album for track in tracks}
    train_albums = {album_of[t] for t in plan.train_labeled + plan.unlabeled}
    held_albums = {album_of[t] for t in plan.held_out + plan.excluded}
    assert not train_albums & held_albums
    assert len(plan.held_out) >= 0.25 * 48 and len(plan.held_out) % 4 == 0
    for label in plan.labels:  # every label keeps training albums
        assert any(label in plan.labels_by_track[t] for t in plan.train_labeled)


def test_every_label_gets_held_out_albums_in_turn():
    genres = ("Rock", "Jazz", "Ambient", "Hip Hop")
    spec = [(f"{genre}{i}", genre, None) for genre in genres for i in range(8)]
    for seed in range(5):
        plan = plan_labels(_library(spec, tracks_per_album=4), ["genre"], min_tracks=3, holdout_share=0.2, seed=seed)
        held = plan.summary()["labels"]
        assert all(row["held_out"] >= 4 for row in held), (seed, held)  # at least one album each
        assert max(row["held_out"] for row in held) - min(row["held_out"] for row in held) <= 4


def test_tracks_without_album_are_grouped_by_folder():
    tracks = []
    for folder in range(8):
        for number in range(3):
            track_id = len(tracks) + 1
            genre = "Rock" if folder % 2 else "Jazz"
            tracks.append(TaggedTrack(track_id, f"/music/folder{folder}/{number}.flac", genre=genre))
    plan = plan_labels(tracks, ["genre"], min_tracks=3, holdout_share=0.25)
    folder_of = {track.id: track.path.rsplit("/", 1)[0] for track in tracks}
    assert not {folder_of[t] for t in plan.held_out} & {folder_of[t] for t in plan.train_labeled}


def test_same_album_name_by_two_album_artists_are_two_albums():
    first = TaggedTrack(1, "/a/1.mp3", album="Greatest Hits", album_artist="Alpha", genre="Rock")
    second = TaggedTrack(2, "/b/1.mp3", album="Greatest Hits", album_artist="Beta", genre="Rock")
    from training.library_labels import album_group

    assert album_group(first) != album_group(second)
    assert album_group(first) == album_group(TaggedTrack(3, "/c/9.mp3", album="greatest  hits", album_artist="ALPHA"))


def test_plan_survives_a_json_round_trip():
    spec = [(f"rock{i}", "Rock", None) for i in range(4)] + [(f"jazz{i}", "Jazz", None) for i in range(4)]
    plan = plan_labels(_library(spec, tracks_per_album=3), ["genre"], min_tracks=3)
    import json

    assert LabelPlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_one_label_is_refused_with_what_was_found():
    spec = [(f"rock{i}", "Rock", None) for i in range(6)] + [("polka", "Polka", None)]
    with pytest.raises(NotEnoughLabelsError, match=r"1 genre label\(s\) with at least 4 tracks, 2 needed.*genre:rock \(18\)"):
        plan_labels(_library(spec, tracks_per_album=3), ["genre"], min_tracks=4)


def test_untagged_library_is_refused():
    with pytest.raises(NotEnoughLabelsError, match="no tags at all"):
        plan_labels(_library([(f"a{i}", None, None) for i in range(5)]), ["genre", "mood"], min_tracks=3)


def test_too_few_tagged_tracks_are_refused():
    spec = [("a", "Rock", None), ("b", "Rock", None), ("c", "Jazz", None), ("d", "Jazz", None)]
    with pytest.raises(NotEnoughLabelsError, match="4 tagged tracks, 10 needed"):
        plan_labels(_library(spec), ["genre"], min_tracks=2)


def test_a_single_tagged_album_is_refused():
    tracks = [TaggedTrack(i, f"/m/{i}.mp3", album="Only", genre="Rock" if i % 2 else "Jazz") for i in range(1, 21)]
    with pytest.raises(NotEnoughLabelsError, match="one album or folder"):
        plan_labels(tracks, ["genre"], min_tracks=3)


def test_unknown_field_is_refused():
    with pytest.raises(NotEnoughLabelsError, match="unknown label field"):
        plan_labels([], ["colour"])


def test_the_plan_does_not_depend_on_the_order_tracks_were_stored_in():
    """Track ids follow the order an index run stored its files (parallel decoding): the same library indexed twice
    must give the same training tracks, in the same order, and the same untagged sample."""
    import random

    spec = [(f"rock{i}", "Rock", None) for i in range(5)] + [(f"jazz{i}", "Jazz", None) for i in range(5)]
    tracks = _library(spec + [("untagged", None, None)] * 1, tracks_per_album=6)
    stored_otherwise = [TaggedTrack(track.id, track.path, album=track.album, genre=track.genre, mood=track.mood)
                        for track in tracks]
    new_ids = random.Random(3).sample(range(1, len(tracks) + 1), len(tracks))
    for track, new_id in zip(stored_otherwise, new_ids):
        object.__setattr__(track, "id", new_id)
    stored_otherwise.sort(key=lambda track: track.id)  # the store lists tracks by id
    paths = [{track.id: track.path for track in library} for library in (tracks, stored_otherwise)]
    plans = [plan_labels(library, ["genre"], min_tracks=3, holdout_share=0.25, seed=2, max_unlabeled=3)
             for library in (tracks, stored_otherwise)]
    for part in ("train_labeled", "held_out", "unlabeled"):
        assert [paths[0][t] for t in getattr(plans[0], part)] == [paths[1][t] for t in getattr(plans[1], part)], part
    assert len(plans[0].unlabeled) == 3
