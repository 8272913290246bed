"""Read a package's ``debian/copyright`` (DEP-5 format) and find the license statement for one file.

DEP-5 patterns name paths of the source tree, while we see installed paths (``usr/share/games/...``), so
a pattern matches when its tail (at least its last two components) matches the tail of the installed
path. As in DEP-5, the last matching ``Files:`` stanza wins; ``Files: *`` is the fallback.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

MIN_PATTERN_COMPONENTS = 2


@dataclass(frozen=True)
class LicenseStanza:
    patterns: tuple[str, ...]
    license: str  # the short name on the License: line, e.g. "CC-BY-SA-3.0"
    copyright: str  # first line of the Copyright: field


def parse_copyright(text: str) -> list[LicenseStanza]:
    """The ``Files:`` stanzas in file order (header and stand-alone license texts are skipped)."""
    stanzas: list[LicenseStanza] = []
    for block in text.split("\n\n"):
        fields: dict[str, list[str]] = {}
        current = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and current:
                fields[current].append(line.strip())
            elif ":" in line:
                current, value = line.split(":", 1)
                current = current.strip().lower()
                fields[current] = [value.strip()]
        if "files" in fields and "license" in fields:
            patterns = tuple(" ".join(fields["files"]).split())
            copyright_lines = [line for line in fields.get("copyright", []) if line]
            stanzas.append(LicenseStanza(patterns, fields["license"][0], copyright_lines[0] if copyright_lines else ""))
    return stanzas


def _pattern_matches(pattern: str, path_parts: list[str]) -> bool:
    if pattern == "*":
        return True
    pattern_parts = pattern.removeprefix("./").strip("/").split("/")
    shortest = min(len(pattern_parts), MIN_PATTERN_COMPONENTS)
    for keep in range(len(pattern_parts), shortest - 1, -1):
        pattern_tail = "/".join(pattern_parts[-keep:])
        # "*" crosses "/" in DEP-5, so a pattern tail may cover a longer path tail
        for path_keep in range(keep, len(path_parts) + 1):
            if fnmatch.fnmatchcase("/".join(path_parts[-path_keep:]), pattern_tail):
                return True
    return False


def license_for(stanzas: list[LicenseStanza], installed_path: str) -> LicenseStanza | None:
    """The stanza that governs ``installed_path`` (relative or absolute), or None when none matches."""
    parts = installed_path.strip("/").split("/")
    governing = None
    for stanza in stanzas:
        if any(_pattern_matches(pattern, parts) for pattern in stanza.patterns):
            governing = stanza
    return governing


def read_copyright(package_root: Path, package: str) -> list[LicenseStanza]:
    path = package_root / "usr" / "share" / "doc" / package / "copyright"
    return parse_copyright(path.read_text(encoding="utf-8", errors="replace")) if path.exists() else []
