"""A non-UTF-8 file name survives the JSON output: beside the printable ``path`` every row carries
``path_bytes``, the exact bytes in base64, and they open the file (issue 13, case 8; fields only added)."""

from __future__ import annotations

import base64
import json
import os


def _exact(row: dict) -> bytes:
    return base64.b64decode(row["path_bytes"])


def test_path_bytes_give_back_a_non_utf8_name_exactly(engine, indexed_copy, model_dir, generated_library_source):
    latin1 = generated_library_source.special_names[1]
    assert b"\xe9" in os.fsencode(latin1)
    common = ("--db", str(indexed_copy), "--model", str(model_dir), "--json")
    (key_row,) = json.loads(engine("key", latin1, *common).stdout)
    assert "\ufffd" in key_row["path"] and _exact(key_row) == os.fsencode(latin1)

    (entry,) = json.loads(engine("similar", "1", "-k", "60", *common).stdout)
    hits = [hit for hit in entry["results"] if "\ufffd" in hit["path"]]
    assert hits and all(os.path.isfile(_exact(hit)) for hit in hits)
    assert os.fsencode(latin1) in {_exact(hit) for hit in hits}

    problems = json.loads(engine("problems", *common).stdout)
    assert problems and all(set(row) >= {"path", "path_bytes", "reason"} for row in problems)
    assert all(_exact(row).decode("utf-8", errors="replace") == row["path"] for row in problems)


def test_a_non_utf8_query_or_playlist_path_is_valid_unicode_in_the_json(engine, indexed_copy, model_dir,
                                                                         generated_library_source, tmp_path):
    """The fields that echo what was given (a query, a seed, a playlist file) had the name's undecodable bytes as
    lone surrogates, which no strict JSON reader takes; they carry U+FFFD like every printable path."""
    latin1 = generated_library_source.special_names[1]
    common = ("--db", str(indexed_copy), "--model", str(model_dir), "--json")
    similar = engine("similar", latin1, "-k", "2", *common)
    playlist = engine("playlist", latin1, "-n", "2", "-o", os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.m3u8"),
                      *common)
    for completed in (similar, playlist):
        assert completed.returncode == 0, completed.stderr
        assert "\\udc" not in completed.stdout
        json.loads(completed.stdout).__str__().encode("utf-8")  # strict: every character is Unicode
    assert "\ufffd" in json.loads(similar.stdout)[0]["query"]
