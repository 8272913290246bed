"""Find audio files under library folders and fingerprint them cheaply.

A file's identity is (size, mtime, a hash of a few blocks): enough to tell "unchanged" from a stat
alone, and to recognise a moved or renamed file without reading it whole. The walk follows directory
symlinks but remembers every (device, inode) it entered, so a symlink cycle is walked once, and it follows none that
leads back to the folder walked or above it. The walk is
also a stream (``iter_scan``, ``BackgroundScan``), so an index run analyses the first files while it goes on.
"""

from __future__ import annotations

import hashlib
import os
import queue
import stat
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.audio_formats import AUDIO_EXTENSIONS

HASH_BLOCK_BYTES = 64 * 1024  # three blocks (start, middle, end) are hashed
HASH_DIGEST_BYTES = 16
SYSTEM_NAMES = frozenset(
    {"thumbs.db", "desktop.ini", "$recycle.bin", "system volume information", "__macosx", "lost+found"}
)


@dataclass(frozen=True)
class ScannedFile:
    """An audio file found by the walk: its path and the stat part of its identity."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ScanProblem:
    """An audio-looking entry that cannot even be stat'ed or opened (dangling link, no permission), or a ``folder``
    the walk could not list (what the library knows below it is kept: it was not seen, not found gone)."""

    path: str
    reason: str
    folder: bool = False


@dataclass
class ScanResult:
    files: list[ScannedFile]
    problems: list[ScanProblem]


def is_skipped_name(name: str) -> bool:
    """Hidden (dot) files and well-known system files and folders are skipped silently."""
    return name.startswith(".") or name.lower() in SYSTEM_NAMES


def is_audio_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def scan_paths(roots: Iterable[Path | str]) -> ScanResult:
    """Walk every root (a folder or a single file); paths are absolute, as ``str`` (surrogate-escaped)."""
    result = ScanResult([], [])
    for found in iter_scan(roots):
        (result.files if isinstance(found, ScannedFile) else result.problems).append(found)
    return result


def iter_scan(roots: Iterable[Path | str]) -> Iterator[ScannedFile | ScanProblem]:
    """``scan_paths`` as a stream, in the same order: each file is yielded as soon as the walk reaches it."""
    seen_directories: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    for root in roots:
        root_path = os.path.abspath(os.fspath(root))
        if os.path.isdir(root_path):
            entries = _walk(root_path, seen_directories)
        else:
            entries = iter([root_path])
        for path in entries:
            if isinstance(path, ScanProblem):
                yield path
                continue
            if path in seen_files:
                continue
            seen_files.add(path)
            yield _classify(path)


class BackgroundScan:
    """``iter_scan`` run ahead on a thread, so the walk (system calls, GIL released) overlaps analysis and the
    number of files found is known early. Iterate it for the entries in walk order; ``found`` counts what the
    walk has found so far and ``finished`` says whether it is done. ``stop()`` ends the walk early."""

    def __init__(self, roots: Iterable[Path | str]) -> None:
        self.found = 0
        self.finished = False
        self._roots = [os.fspath(root) for root in roots]
        self._entries: queue.SimpleQueue = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._walk, name="library-scan", daemon=True)
        self._thread.start()

    def _walk(self) -> None:
        try:
            for entry in iter_scan(self._roots):
                if self._stopping.is_set():
                    break
                self._entries.put(entry)
                self.found += 1
        except Exception as error:  # handed to the consumer, raised there
            self._entries.put(_ScanFailed(error))
        finally:
            self.finished = True
            self._entries.put(_END_OF_SCAN)

    def __iter__(self) -> Iterator[ScannedFile | ScanProblem]:
        while (entry := self._entries.get()) is not _END_OF_SCAN:
            if isinstance(entry, _ScanFailed):
                raise entry.error
            yield entry

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def __enter__(self) -> "BackgroundScan":
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


@dataclass(frozen=True)
class _ScanFailed:
    error: BaseException


_END_OF_SCAN = object()


def _walk(root: str, seen_directories: set[tuple[int, int]]) -> Iterator[str | ScanProblem]:
    """Yield audio-named file paths below ``root``, depth first, each directory entered once, and a folder
    ``ScanProblem`` for each directory that cannot be listed (no permission, an I/O error). A directory symlink
    to ``root`` itself or to a folder above it is not followed: it would bring in everything beside the folder the
    user named (a link to ``..``; ``/proc/self/root`` is the whole file system)."""
    above = _folders_above(root)
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = os.stat(directory)
        except OSError as error:  # seen in its parent, but cannot be entered (a folder without execute permission)
            yield _unlisted_folder(directory, error)
            continue
        identity = (info.st_dev, info.st_ino)
        if identity in seen_directories:
            continue
        seen_directories.add(identity)
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            yield _unlisted_folder(directory, error)
            continue
        subdirectories = []
        for entry in entries:
            if is_skipped_name(entry.name):
                continue
            try:
                is_directory = entry.is_dir(follow_symlinks=True)
            except OSError as error:  # a link whose target cannot be looked at: what is known below it stays
                if entry.is_symlink():  # one named as audio is a file's problem (its stat says why), not a folder's
                    yield entry.path if is_audio_name(entry.name) else _unlisted_folder(entry.path, error)
                continue
            if is_directory and not (entry.is_symlink() and _leads_above(os.path.realpath(entry.path), above)):
                subdirectories.append(entry.path)
            elif is_audio_name(entry.name):
                yield entry.path
        stack.extend(reversed(subdirectories))


def _unlisted_folder(path: str, error: OSError) -> ScanProblem:
    return ScanProblem(path, f"cannot read folder ({error.strerror or error})", folder=True)


def _folders_above(root: str) -> list[str]:
    """The real paths of ``root`` and of every folder above it, as given and as resolved (a root reached through a
    link has two lines of ancestors: its link's and its target's)."""
    chains = {os.path.realpath(root), *(os.path.realpath(parent) for parent in Path(root).parents)}
    chains.update(str(parent) for parent in Path(os.path.realpath(root)).parents)
    return sorted(chains)


def _leads_above(target: str, above: list[str]) -> bool:
    """Whether a link's real ``target`` is the walked root or a folder above it, or lies above one of those."""
    return any(is_within(folder, target) for folder in above)


def is_within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (by spelling: no link is followed)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _classify(path: str) -> ScannedFile | ScanProblem:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return ScanProblem(path, "dangling symlink" if os.path.islink(path) else "file not found")
    except OSError as error:
        return ScanProblem(path, f"cannot stat ({error.strerror or error})")
    if not stat.S_ISREG(info.st_mode):
        return ScanProblem(path, "not a regular file")
    return ScannedFile(path, info.st_size, info.st_mtime_ns)


def quick_hash(path: str, size: int) -> str:
    """Hash of the size and three blocks (start, middle, end): cheap, and stable across renames.

    Raises ``OSError`` when the file cannot be read.
    """
    digest = hashlib.blake2b(str(size).encode(), digest_size=HASH_DIGEST_BYTES)
    with open(path, "rb") as handle:
        offsets = sorted({0, max(0, size // 2 - HASH_BLOCK_BYTES // 2), max(0, size - HASH_BLOCK_BYTES)})
        for offset in offsets:
            handle.seek(offset)
            digest.update(handle.read(HASH_BLOCK_BYTES))
    return digest.hexdigest()


def path_key(path: str) -> bytes:
    """The exact bytes of a path: the database key, so non-UTF-8 file names survive a round trip."""
    return os.fsencode(path)


def path_from_key(key: bytes) -> str:
    return os.fsdecode(key)


def display_path(path: str) -> str:
    """A printable form of a path (undecodable bytes become U+FFFD)."""
    return os.fsencode(path).decode("utf-8", errors="replace")


def under_prefix_bounds(folder: str) -> tuple[bytes, bytes]:
    """Byte range [low, high) of path keys strictly below ``folder`` ('/' + 1 == '0')."""
    prefix = path_key(folder.rstrip(os.sep))
    return prefix + os.sep.encode(), prefix + bytes([ord(os.sep) + 1])
