"""Freed buffers stay in the process (``engine.allocator``): a batch's or a file's large arrays do not fault in fresh
pages every time, and the decode workers and the index command set it up."""

from __future__ import annotations

import platform
import signal
import subprocess
import sys
import textwrap

import pytest

from engine import allocator

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# Four 20 MB buffers made and freed ten times, as indexing makes and frees a batch's buffers; prints the minor
# page faults of the last nine rounds.
BATCHES = textwrap.dedent("""
    import resource, sys
    import numpy as np
    if sys.argv[1] == "keep":
        from engine.allocator import keep_freed_memory
        assert keep_freed_memory()
    def batch():
        buffers = [np.ones(5_000_000, dtype=np.float32) for _ in range(4)]
        return sum(float(buffer[-1]) for buffer in buffers)
    batch()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(9):
        batch()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _page_faults(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", BATCHES, mode], capture_output=True, text=True, check=True)
    return int(result.stdout.strip())


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_kept_memory_spares_every_later_batch_its_page_faults():
    default, kept = _page_faults("default"), _page_faults("keep")
    assert default > 1000  # glibc's own thresholds hand part of each round back (~2,000 pages a round here)
    assert kept < default / 10  # none, here


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_the_thresholds_are_set_on_glibc():
    assert allocator.keep_freed_memory()


def test_elsewhere_nothing_changes(monkeypatch):
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert not allocator.keep_freed_memory()


def test_decode_workers_and_the_index_command_keep_freed_memory(monkeypatch, model_dir, tmp_path):
    """The decode workers and the ``engine index`` process (which runs the inference) set it; the app's process,
    which runs for hours with many threads, is left as glibc sets it."""
    from engine import allocator as allocator_module
    from engine import cli, decoding

    calls: list[str] = []
    monkeypatch.setattr(decoding, "keep_freed_memory", lambda: calls.append("worker"))
    monkeypatch.setattr(allocator_module, "keep_freed_memory", lambda: calls.append("index"))
    previous = signal.getsignal(signal.SIGINT)
    try:
        decoding.start_worker()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    (tmp_path / "music").mkdir()
    assert cli.main(["index", str(tmp_path / "music"), "--db", str(tmp_path / "library.db"), "--model",
                     str(model_dir), "--json"]) == 0
    assert calls == ["worker", "index"]
