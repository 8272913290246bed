"""Follow JSON-lines files as they grow: a training run's ``metrics.jsonl`` and the trainer's events file.

Each poll reads only the new bytes and never a half-written line, so the GUI thread can poll on a timer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

STEP_FIELD = "step"
# Bookkeeping fields that are not curves worth plotting.
NON_METRIC_FIELDS = frozenset({"step", "epoch", "time", "timestamp", "wall_time", "elapsed", "phase", "split"})


class JsonLinesFollower:
    """Incremental reader: ``poll()`` returns the objects appended since the last call ([] while the file is missing)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[dict]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        if not chunk:
            return []
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()  # the text after the last newline may still be being written
        return [record for record in map(_parse, lines) if record is not None]


class MetricsFollower(JsonLinesFollower):
    """Follows ``metrics.jsonl`` and keeps each numeric field as a curve: ``series[name] = (steps, values)``."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self.series: dict[str, tuple[list[float], list[float]]] = {}

    def poll(self) -> list[dict]:
        records = super().poll()
        for record in records:
            self._add_to_series(record)
        return records

    def _add_to_series(self, record: dict) -> None:
        step = record.get(STEP_FIELD)
        if not isinstance(step, (int, float)):
            return
        for name, value in record.items():
            if name in NON_METRIC_FIELDS or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(value):
                continue
            steps, values = self.series.setdefault(name, ([], []))
            steps.append(float(step))
            values.append(float(value))


def _parse(line: bytes) -> dict | None:
    line = line.strip()
    if not line:
        return None
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None
