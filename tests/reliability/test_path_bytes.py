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
