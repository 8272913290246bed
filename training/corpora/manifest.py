"""JSONL manifests: one JSON object per line, appended as files are made so an interrupted run resumes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

HASH_CHUNK_BYTES = 1 << 20


def record_audio_path(record: dict[str, Any], manifest: Path) -> Path:
    """The audio file of a corpus manifest's ``record``: its ``relative_path`` from the manifest's folder where it has
    one (the corpora built here), else its ``path`` as written."""
    return manifest.parent / record["relative_path"] if record.get("relative_path") else Path(record["path"])


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """All records; a torn last line (the run was killed mid-write) is skipped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():  # -sig: a BOM would tear the first record
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class ManifestReadError(ValueError):
    """A manifest a command was given cannot be read: one line saying why."""


def read_given_manifest(path: Path) -> list[dict[str, Any]]:
    """The records of a manifest a user named (``engine eval``, ``engine train calibrate-tags``): unlike a corpus
    builder resuming its own manifest, a missing file is an error, not an empty corpus, and so are a folder, a
    binary file and records without a ``split``. ``ManifestReadError`` says which."""
    path = Path(path)
    if not path.exists():
        raise ManifestReadError(f"manifest not found: {path}")
    if not path.is_file():
        raise ManifestReadError(f"{path} is not a manifest file")
    try:
        records = read_manifest(path)
    except UnicodeDecodeError:
        raise ManifestReadError(f"{path}: not a text (UTF-8) JSONL manifest") from None
    except OSError as error:
        raise ManifestReadError(f"cannot read {path}: {error.strerror or error}") from None
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict) or "split" not in record:
            raise ManifestReadError(f"{path}: record {number} is not a manifest record (a JSON object with a split)")
    return records


def append_records(path: Path, records: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        handle.flush()


def write_manifest(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace the whole manifest (atomic rename), e.g. after de-duplicating resumed runs."""
    temporary = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(temporary, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    temporary.replace(path)
