"""Key notation against tables written by hand from the published Camelot (Mixed In Key) and Open Key
(Beatunes / Traktor) wheels, never from ``engine/keys.py``: a swapped wheel position or a looser mixing
rule in the product disagrees with these literals."""

from __future__ import annotations

import pytest

from engine.keys import (
    KEY_CLASS_COUNT, KEY_INDICES_IN_CAMELOT_ORDER, Key, key_from_index, key_tag_text, keys_mix_harmonically,
    mirex_key_score, parse_key,
)
from key_wheel import KEY_WHEEL, MIXES_WITH

KEY_BY_CAMELOT = {camelot: key_from_index(index) for index, _, camelot, _ in KEY_WHEEL}
WHEEL_IDS = [name for _, name, _, _ in KEY_WHEEL]


def test_the_tables_cover_every_key_once():
    assert sorted(index for index, _, _, _ in KEY_WHEEL) == list(range(KEY_CLASS_COUNT))
    assert len({camelot for _, _, camelot, _ in KEY_WHEEL}) == len({open_key for _, _, _, open_key in KEY_WHEEL}) == 24
    assert set(MIXES_WITH) == set(KEY_BY_CAMELOT)


@pytest.mark.parametrize("index, name, camelot, open_key", KEY_WHEEL, ids=WHEEL_IDS)
def test_each_key_has_its_published_camelot_and_open_key(index, name, camelot, open_key):
    key = key_from_index(index)
    assert (key.name, key.camelot, key.open_key, key.index) == (name, camelot, open_key, index)
    assert key_tag_text(key, "camelot") == camelot and key_tag_text(key, "openkey") == open_key


@pytest.mark.parametrize("index, name, camelot, open_key", KEY_WHEEL, ids=WHEEL_IDS)
def test_each_notation_of_a_key_reads_back_as_that_key(index, name, camelot, open_key):
    key = key_from_index(index)
    for text in (name, camelot, open_key, camelot.lower(), open_key.upper(), key_tag_text(key, "standard")):
        assert parse_key(text) == key, text


@pytest.mark.parametrize("text, expected", [
    ("Am", Key(9, "minor")), ("C#m", Key(1, "minor")), ("G#m", Key(8, "minor")), ("D#m", Key(3, "minor")),
    ("A#", Key(10, "major")), ("Gb", Key(6, "major")), ("Cb major", Key(11, "major")), ("F♯ minor", Key(6, "minor")),
    ("B♭", Key(10, "major")), ("e", Key(4, "minor")), ("Ebm", Key(3, "minor")), ("13A", None), ("0B", None),
    ("H", None), ("", None), ("C lydian", None),
])
def test_enharmonic_and_malformed_key_tags(text, expected):
    assert parse_key(text) == expected


def test_keys_mix_exactly_as_the_wheel_says_for_all_576_pairs():
    wrong = [(first, second) for first, first_key in KEY_BY_CAMELOT.items() for second, second_key in KEY_BY_CAMELOT.items()
             if keys_mix_harmonically(first_key, second_key) != (second in MIXES_WITH[first])]
    assert wrong == []


def test_camelot_order_walks_the_wheel_minor_before_major():
    expected = [f"{number}{letter}" for number in range(1, 13) for letter in "AB"]
    assert [KEY_BY_CAMELOT[code].index for code in expected] == list(KEY_INDICES_IN_CAMELOT_ORDER)


@pytest.mark.parametrize("estimated, reference, score", [
    ("C major", "C major", 1.0), ("G major", "C major", 0.5), ("F major", "C major", 0.5),
    ("A minor", "C major", 0.3), ("C minor", "C major", 0.2), ("D major", "C major", 0.0),
    ("E minor", "A minor", 0.5), ("D minor", "A minor", 0.5), ("C major", "A minor", 0.3),
    ("A major", "A minor", 0.2), ("E major", "A minor", 0.0), ("Eb minor", "Gb major", 0.3),
])
def test_mirex_partial_credit_follows_the_mirex_table(estimated, reference, score):
    assert mirex_key_score(parse_key(estimated), parse_key(reference)) == score
