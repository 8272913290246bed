"""Fetch Debian packages without installing them: ``apt-get download`` then ``dpkg -x`` (no root needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path


class PackageFetchError(Exception):
    """A package could not be downloaded or unpacked; the message carries apt's or dpkg's own words."""


def downloaded_deb(package: str, debs_folder: Path) -> Path | None:
    matches = sorted(debs_folder.glob(f"{package}_*.deb"))
    return matches[-1] if matches else None


def download_deb(package: str, debs_folder: Path) -> Path:
    """The package's ``.deb`` in ``debs_folder``, downloaded only when it is not there yet."""
    existing = downloaded_deb(package, debs_folder)
    if existing is not None:
        return existing
    debs_folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["apt-get", "download", package], cwd=debs_folder, capture_output=True, text=True)
    deb = downloaded_deb(package, debs_folder)
    if result.returncode != 0 or deb is None:
        raise PackageFetchError(f"apt-get download {package}: {result.stderr.strip()[-300:]}")
    return deb


def extract_deb(deb: Path, folder: Path) -> Path:
    """Unpack once: a marker file records a finished extraction so an interrupted one is redone."""
    marker = folder / ".extracted"
    if marker.exists() and marker.read_text() == deb.name:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["dpkg", "-x", str(deb), str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        raise PackageFetchError(f"dpkg -x {deb.name}: {result.stderr.strip()[-300:]}")
    marker.write_text(deb.name)
    return folder


def deb_version(deb: Path) -> str:
    result = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True)
    if result.returncode != 0:
        raise PackageFetchError(f"dpkg-deb -f {deb.name}: {result.stderr.strip()[-300:]}")
    return result.stdout.strip()
