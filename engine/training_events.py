"""The trainer's event stream: one JSON object per line, for programs, beside the human lines on stderr.

``engine train pretrain|finetune|export|from-library --events FILE`` appends an event for each phase it enters,
its progress, each logged metrics record and checkpoint, and how it ended (done, error with the reason, or
interrupted). The app follows that file instead of parsing messages meant for people, so rewording a message
never breaks it. The schema is a contract (docs/cli.md, "Training events"): fields are only ever added.
Torch-free: the app reads events with the same names the trainer writes them with.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

# The kinds of event ("event" field).
PHASE, PROGRESS, METRICS, CHECKPOINT, DONE, ERROR, INTERRUPTED = (
    "phase", "progress", "metrics", "checkpoint", "done", "error", "interrupted")
ENDINGS = frozenset({DONE, ERROR, INTERRUPTED})  # the last event of a command that was not killed
# The phases ("phase" field), in the order a command goes through them.
PLANNING = "planning"  # from-library: reading the library's tags into labels and held-out albums
PREPARING = "preparing"  # reading the config and manifests, decoding the audio cache, building the model
TRAINING = "training"  # the steps; progress counts steps of run.steps
EXPORTING = "exporting"  # writing the model folder
REEMBEDDING = "re-embedding"  # from-library: the library analysed with the new model; progress counts files
EVALUATING = "evaluating"  # from-library: held-out albums scored before vs after
# Progress comes at most this often per phase (plus its first and last step): a fast run on a GPU takes
# dozens of steps a second, and a line per step would make the file grow by megabytes for nothing.
PROGRESS_INTERVAL_SECONDS = 0.5


@dataclass(frozen=True)
class TrainingEvent:
    """One line of the stream. ``phase`` is the phase the command was in; the other fields by kind:
    progress ``step`` of ``total``; metrics ``step`` and ``metrics``; checkpoint ``step`` and ``path``;
    done ``path`` (the run or model folder); error ``reason``; interrupted ``step`` when known."""

    event: str
    phase: str = ""
    step: int | None = None
    total: int | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    path: str = ""
    reason: str = ""
    time: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The line's object: ``event``, ``time`` and ``phase`` always; other fields only where they hold a value."""
        record: dict[str, Any] = {"event": self.event, "time": self.time, "phase": self.phase}
        for name in ("step", "total"):
            if getattr(self, name) is not None:
                record[name] = getattr(self, name)
        if self.metrics:
            record["metrics"] = self.metrics
        for name in ("path", "reason"):
            if getattr(self, name):
                record[name] = getattr(self, name)
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> TrainingEvent | None:
        """The event in a parsed line, or None when it is not one (fields added later are ignored)."""
        kind = record.get("event")
        if not isinstance(kind, str):
            return None
        metrics = record.get("metrics")
        return cls(
            event=kind, phase=_text(record.get("phase")), step=_whole(record.get("step")),
            total=_whole(record.get("total")), metrics=dict(metrics) if isinstance(metrics, dict) else {},
            path=_text(record.get("path")), reason=_text(record.get("reason")),
            time=float(record["time"]) if isinstance(record.get("time"), (int, float)) else 0.0,
        )


def parse_event_line(line: str | bytes) -> TrainingEvent | None:
    """One line of the stream as an event; None for a blank, broken or foreign line."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return TrainingEvent.from_json(record) if isinstance(record, dict) else None


def read_events(path: Path | str) -> list[TrainingEvent]:
    """Every event of a finished stream, in order."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [event for event in map(parse_event_line, lines) if event is not None]


class EventWriter:
    """Writes events to a text stream, one flushed line each; without a stream it writes nothing.

    The phase last announced is stamped on every later event, so an error says where it happened. A stream
    that fails (a full disk, a closed pipe) is dropped with one warning: events never stop a training run.
    """

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self.phase = ""
        self._last_progress: float | None = None

    @property
    def enabled(self) -> bool:
        return self._stream is not None

    def announce(self, phase: str) -> None:
        """The command enters ``phase`` (one of the phase names above)."""
        self.phase = phase
        self._last_progress = None
        self._write(TrainingEvent(PHASE, phase))

    def progress(self, step: int, total: int) -> None:
        """``step`` of ``total`` in the current phase; thinned to one per ``PROGRESS_INTERVAL_SECONDS``."""
        now = self._clock()
        is_edge = self._last_progress is None or step >= total
        if not is_edge and now - self._last_progress < PROGRESS_INTERVAL_SECONDS:
            return
        self._last_progress = now
        self._write(TrainingEvent(PROGRESS, self.phase, step=int(step), total=int(total)))

    def metrics(self, step: int, values: Mapping[str, Any]) -> None:
        """A logged record (as in ``metrics.jsonl``, without ``step``); non-finite numbers become null."""
        numbers = {name: _finite_or_none(value) for name, value in values.items()
                   if name != "step" and isinstance(value, (int, float)) and not isinstance(value, bool)}
        self._write(TrainingEvent(METRICS, self.phase, step=int(step), metrics=numbers))

    def checkpoint(self, step: int, folder: Path | str) -> None:
        self._write(TrainingEvent(CHECKPOINT, self.phase, step=int(step), path=str(folder)))

    def done(self, folder: Path | str = "", step: int | None = None, total: int | None = None) -> None:
        self._write(TrainingEvent(DONE, self.phase, step=step, total=total, path=str(folder)))

    def error(self, reason: str) -> None:
        self._write(TrainingEvent(ERROR, self.phase, reason=reason))

    def interrupted(self, step: int | None = None) -> None:
        self._write(TrainingEvent(INTERRUPTED, self.phase, step=step))

    def close(self) -> None:
        if self._stream is not None and self._stream not in (sys.stdout, sys.stderr):
            self._stream.close()
        self._stream = None

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _write(self, event: TrainingEvent) -> None:
        if self._stream is None:
            return
        stamped = replace(event, time=round(time.time(), 3))
        try:
            self._stream.write(json.dumps(stamped.to_json(), allow_nan=False) + "\n")
            self._stream.flush()
        except (OSError, ValueError) as error:
            print(f"warning: training events are no longer written ({error})", file=sys.stderr)
            self._stream = None


def open_events(destination: Path | str | None) -> EventWriter:
    """A writer appending to ``destination`` (created if missing), or a silent one for None.

    Appending lets the reader create (and empty) the file before the command starts, so it never reads a
    stream left from an earlier command. Raises ``OSError`` when the file cannot be opened.
    """
    if destination is None:
        return EventWriter()
    return EventWriter(open(destination, "a", encoding="utf-8"))


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
