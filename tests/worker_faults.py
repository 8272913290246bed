"""Decode functions for tests that need a decode worker to die: module-level, so spawned workers import them."""

from __future__ import annotations

import os
import signal

from engine.decoding import DecodeJob, DecodeOutcome, decode_job

CRASHING_NAME = "crash"  # a job whose file name holds this kills its worker, as a decoder's segfault would


def decode_or_die(job: DecodeJob) -> DecodeOutcome:
    if CRASHING_NAME in os.path.basename(job.path):
        os.kill(os.getpid(), signal.SIGKILL)
    return decode_job(job)
