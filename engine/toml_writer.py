"""Write TOML documents (training configs) from plain values, following the TOML 1.0 grammar.

The trainer reads configs with ``tomllib``, which only reads; this is the one writer, so no caller builds
TOML strings by hand. It writes what configs hold: tables (nested tables as ``[a.b]``) of strings, integers,
floats, booleans and arrays of those. Anything else (None, an object) raises ``TypeError`` naming the key, and
text TOML cannot hold (a file name with undecodable bytes: lone surrogates) raises ``ValueError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Union

TomlValue = Union[str, int, float, bool, list["TomlValue"], tuple["TomlValue", ...], Mapping[str, "TomlValue"]]

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
CONTROL_CHARACTERS = re.compile(r'["\\\x00-\x1f\x7f]')
SURROGATES = re.compile(r"[\ud800-\udfff]")


def toml_document(tables: Mapping[str, Mapping[str, TomlValue]]) -> str:
    """``{"run": {"steps": 500}, "data": {...}}`` as a TOML document, tables in the given order."""
    blocks = [_table_block([name], values) for name, values in tables.items()]
    return "\n".join(block for block in blocks if block)


def _table_block(path: list[str], values: Mapping[str, TomlValue]) -> str:
    """``[path]`` with its key = value lines, then its sub-tables (TOML needs plain keys before sub-tables)."""
    if not isinstance(values, Mapping):
        raise TypeError(f"TOML table {'.'.join(path)} must be a mapping, not {type(values).__name__}")
    header = "[" + ".".join(_key(part) for part in path) + "]"
    lines = [header]
    nested = []
    for name, value in values.items():
        if isinstance(value, Mapping):
            nested.append(_table_block([*path, name], value))
        else:
            lines.append(f"{_key(name)} = {_value(value, '.'.join([*path, name]))}")
    return "\n".join(lines) + "\n" + "".join("\n" + block for block in nested)


def _key(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"TOML keys are text, not {type(name).__name__}: {name!r}")
    return name if BARE_KEY.fullmatch(name) else _string(name, name)


def _value(value: TomlValue, where: str) -> str:
    if isinstance(value, bool):  # before int: bool is an int in Python
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _string(value, where)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item, where) for item in value) + "]"
    raise TypeError(f"{where}: TOML cannot hold {type(value).__name__} ({value!r})")


def _string(text: str, where: str) -> str:
    """A basic string: quotes, backslashes and control characters escaped, everything else as it is."""
    if SURROGATES.search(text):
        raise ValueError(f"{where}: {text!r} is not valid Unicode text (undecodable bytes), which TOML cannot hold")
    return '"' + CONTROL_CHARACTERS.sub(lambda match: _escape(match.group(0)), text) + '"'


def _escape(character: str) -> str:
    return SHORT_ESCAPES.get(character) or f"\\u{ord(character):04X}"
