"""Counts how often each file is opened for decoding and decoded whole, through ``engine.audio`` (every decoder of
the engine goes through its ``_open`` and ``_decode_span``), from any thread: the tests that pin "a query
decodes its file once" in the engine and in the app, and benchmarks/bench_query.py."""

from __future__ import annotations

import threading
from collections import Counter


class DecodeCounter:
    """Installed with pytest's ``monkeypatch`` (undone after the test, or at the end of a
    ``pytest.MonkeyPatch.context()``): ``opened``, ``whole`` (decodes to the end of the file) and ``spans``
    (sought windows and spans) by file name."""

    def __init__(self, monkeypatch) -> None:
        from engine import audio

        self.opened: Counter[str] = Counter()
        self.whole: Counter[str] = Counter()
        self.spans: Counter[str] = Counter()
        self._lock = threading.Lock()
        opened, decode_span = audio._open, audio._decode_span

        def counted_open(path):
            with self._lock:
                self.opened[str(path)] += 1
            return opened(path)

        def counted_span(container, stream, sample_rate, start_seconds, sample_count):
            with self._lock:
                (self.whole if sample_count is None else self.spans)[str(container.name)] += 1
            return decode_span(container, stream, sample_rate, start_seconds, sample_count)

        monkeypatch.setattr(audio, "_open", counted_open)
        monkeypatch.setattr(audio, "_decode_span", counted_span)
