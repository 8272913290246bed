"""The TOML writer: what it writes reads back through ``tomllib`` as the same values, or it refuses clearly."""

from __future__ import annotations

import tomllib

import pytest

from engine.toml_writer import toml_document


def test_a_config_reads_back_as_the_same_values_whatever_its_strings_hold():
    sections = {
        "run": {"name": 'tab\there "quoted" back\\slash\nnew line \x01\x7f', "steps": 500, "progress": False,
                "lr": 1e-05, "ratio": 0.1, "huge": 1e300, "ceiling": float("inf")},
        "data": {"cache_dir": "/music/Ünïcode 音楽 🎵/cache", "channels": [4, 8, 16], "mixed": [1, "two", 3.5, True]},
        "encoder": {"type": "logfreqcnn", "key path": "pitch class", "nested": {"depth": 2, "names": []}},
    }
    text = toml_document(sections)
    assert tomllib.loads(text) == sections
    assert "[encoder.nested]" in text and '"key path" = "pitch class"' in text


def test_values_toml_cannot_hold_are_refused_naming_the_key():
    with pytest.raises(TypeError, match=r"run\.init_from"):
        toml_document({"run": {"init_from": None}})
    with pytest.raises(TypeError, match=r"data\.raw"):
        toml_document({"data": {"raw": b"bytes"}})
    undecodable = b"/music/caf\xe9.flac".decode("utf-8", errors="surrogateescape")  # a Latin-1 file name
    with pytest.raises(ValueError, match=r"finetune\.manifest.*not valid Unicode"):
        toml_document({"finetune": {"manifest": undecodable}})
