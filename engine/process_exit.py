"""Leave the ``engine`` process without unloading torch.

The torch wheel on PyPI is the CUDA build: it loads its CUDA libraries even on a machine without a GPU, and when the
process exits normally their static destructors touch about 140 MB of those libraries' pages, which the process
had not needed while it worked. That made the last moment of an index run its peak of resident memory (a 1 % change
of a 100k library: 1,019-1,039 MiB at exit against ~930 MiB while analysing; BENCHMARKS.md, "Library scale"). A
process that has imported torch and is done therefore runs the exit handlers Python code registered (``atexit``:
multiprocessing's, temporary folders' finalizers), flushes its output, and ends with ``os._exit``: no interpreter
teardown and no C++ destructors. Anything else exits as usual.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading


def exit_process(code: int) -> None:
    """End the process with ``code``; without library teardown when torch is loaded and no other thread runs (a
    thread still at work is waited for by a normal exit, so then the process exits normally)."""
    if "torch" not in sys.modules or threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()  # what a normal exit runs first; what it skips after is interpreter and C teardown
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(code)
