"""Keep the memory a batch or a file frees for the next one, instead of handing it back to the kernel and faulting it
in again.

Indexing allocates the same large buffers over and over: the inference process a batch's spectrogram and
activations (11-25 MB each), a decode worker a track's decoded audio, windows and spectrograms. glibc serves buffers
above its mmap threshold with fresh ``mmap`` pages and returns freed memory above its trim threshold at the top of
the heap, both adjusted as the process goes: depending on the order of allocations, a run paid 0.2 to 2 million page
faults for 400 short clips, and the kernel's zeroing of pages it had just given back (1.7 to 6 s of system time;
BENCHMARKS.md, "Freed memory kept for the next batch"). Fixed thresholds keep buffers up to 32 MiB on the heap and
up to 128 MiB of freed heap in the process: ~0.14 million faults every run, for ~90 MB more resident memory in the
inference process. Set in the decode workers and in the ``engine index`` process, which exit when the run is done;
not in the desktop app, whose many threads would each keep their own freed memory for as long as it runs (a test
with six threads held 378 MB instead of 183). Linux with glibc only; elsewhere nothing changes.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's upper limit on 64-bit systems
TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024  # 32 MiB was not enough: some runs still faulted as many pages as before


def keep_freed_memory() -> bool:
    """Set the process's malloc thresholds (once is enough; repeating is harmless). True when they were set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
