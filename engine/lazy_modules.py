"""Modules bound at import time but loaded on first use.

PyAV (FFmpeg) takes ~120 ms to import and is needed only where audio is decoded. Binding it lazily keeps
that cost off commands that never decode, and lets training run on a machine without FFmpeg bindings when
every clip is already in the decoded-audio cache (a GPU node fed a pre-built cache): such a run never
touches the module, and a run that does gets the usual ``ModuleNotFoundError`` at the first use.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name``; the first attribute read imports it (thread-safe: the import
    system's own lock), later reads go straight to the module."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r}, {state}>"


def lazy_module(name: str) -> Any:
    """A stand-in for ``import name`` that defers the import to the first attribute read."""
    return LazyModule(name)
