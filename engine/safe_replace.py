"""Change a user's file only through a verified copy: copy beside it, edit, verify, atomically replace.

The copy lives in the file's own folder (so ``os.replace`` is atomic), under a hidden name (so a library
scan running meanwhile skips it), and keeps the original's mode, owner and extended attributes. Until
the final ``os.replace`` the original is never opened for writing; on any failure the copy is removed.

The new file gets a fresh modification time on purpose: its bytes changed, and backup and sync tools
(and other players' caches) decide "unchanged" from size + mtime, while a tag edit often keeps the size.
The library records the new (size, mtime) itself, so its own scanner does not re-analyse the file.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from engine.atomic_write import process_alive
from engine.audio_formats import AUDIO_EXTENSIONS
from engine.file_problem import FileProblem

TEMPORARY_PREFIX = ".tagwrite-"  # hidden: scans skip dot files
# ".tagwrite-<pid of the writer>-<mkstemp's 8 characters><the file's extension>" (no pid: versions before it was in
# the name). A copy whose writer is gone is stale (remove_stale_copies); a user's own file that merely starts with
# the prefix (".tagwrite-notes.txt") does not have this shape and is never removed.
COPY_NAME = re.compile(re.escape(TEMPORARY_PREFIX) + r"(?:(?P<pid>\d+)-)?[a-z0-9_]{8}(?P<extension>\.[^./]+)?")


class FileReplaceError(FileProblem):
    """The file cannot be (or was not) replaced; the original is untouched."""


@dataclass(frozen=True)
class FileState:
    """The stat part of a file's identity: what the library scanner compares (size, mtime), the inode, and the
    change time, which every edit moves, even one by a tagger that puts the old mtime back at the same size."""

    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> "FileState":
        return cls(info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)


def check_replaceable(path: str) -> FileState:
    """Refuse what must not be replaced: a missing or non-regular file, a read-only one or one in a read-only folder
    (no write bit, which even root, whom ``os.access`` always allows, respects), or one with hard links (a
    replacement would split them)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileReplaceError(path, "file not found") from None
    except OSError as error:
        raise FileReplaceError(path, f"cannot stat ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise FileReplaceError(path, "not a regular file")
    if not _writable(path, info):
        raise FileReplaceError(path, "file is read-only")
    folder = os.path.dirname(path) or os.curdir
    try:
        folder_writable = _writable(folder, os.stat(folder), os.W_OK | os.X_OK)
    except OSError:
        folder_writable = False
    if not folder_writable:
        raise FileReplaceError(path, "its folder is read-only (the file is replaced by a verified copy)")
    if info.st_nlink > 1:
        raise FileReplaceError(path, f"file has {info.st_nlink} hard links; replacing it would split them")
    return FileState.of(info)


def _writable(path: str, info: os.stat_result, access: int = os.W_OK) -> bool:
    return bool(info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(path, access)


def replace_through_copy(
    path: str, edit: Callable[[str], None], verify: Callable[[str], None], expected: FileState | None = None
) -> FileState:
    """``edit`` a copy of ``path`` (a symlink's target), ``verify`` the copy, then atomically put it in place.

    Returns the new file's state. ``FileReplaceError`` when the file cannot be copied or replaced, or changed
    since ``expected`` (the state the caller inspected) or during the write; exceptions from ``edit`` and
    ``verify`` pass through. Either way the original is untouched.
    """
    target = os.path.realpath(path)
    before = check_replaceable(target)
    if expected is not None and before != expected:
        raise FileReplaceError(path, "file changed while writing")
    copy = _make_copy(target)
    try:
        edit(copy)
        verify(copy)
        _flush(copy)
        _check_unchanged(target, before)
        try:
            os.replace(copy, target)
        except OSError as error:
            raise FileReplaceError(path, f"cannot replace the file ({error.strerror or error})") from None
        _flush_folder(os.path.dirname(target))
        return FileState.of(os.stat(target))
    finally:
        if os.path.lexists(copy):
            os.unlink(copy)


def remove_stale_copies(folder: str) -> list[str]:
    """Remove the hidden copies that writers killed mid-write (``kill -9``, a power cut) left in ``folder``: names of
    exactly the shape the writer makes (``COPY_NAME``, an audio file's extension or none) whose writing process is
    gone, and unnumbered ones from versions before the pid was in the name. Returns their names. A copy whose
    process still runs is another write in progress and is left alone."""
    removed = []
    try:
        names = [name for name in os.listdir(folder) if name.startswith(TEMPORARY_PREFIX)]
    except OSError:
        return removed
    for name in names:
        match = COPY_NAME.fullmatch(name)
        if match is None or (match.group("extension") or "").lower() not in AUDIO_EXTENSIONS | {""}:
            continue  # not a copy of ours: a user's file that happens to start with the prefix
        if match.group("pid") and process_alive(int(match.group("pid"))):
            continue
        path = os.path.join(folder, name)
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
                removed.append(name)
        except OSError:
            pass  # not ours to remove (another user's folder), or gone meanwhile
    return removed


def _make_copy(target: str) -> str:
    folder, name = os.path.split(target)
    extension = os.path.splitext(name)[1]  # kept, so format detection by name still works on the copy
    remove_stale_copies(folder)
    try:
        handle, copy = tempfile.mkstemp(prefix=f"{TEMPORARY_PREFIX}{os.getpid()}-", suffix=extension, dir=folder)
    except OSError as error:
        reason = f"cannot create a temporary file in its folder ({error.strerror or error})"
        raise FileReplaceError(target, reason) from None
    os.close(handle)
    try:
        shutil.copyfile(target, copy)
        shutil.copystat(target, copy)  # mode, times, extended attributes
        _copy_owner(target, copy)
    except BaseException as error:  # an interrupt in the middle of a large copy too: no copy is left behind
        os.unlink(copy)
        if isinstance(error, OSError):
            missing = isinstance(error, FileNotFoundError)
            reason = "file not found" if missing else f"cannot copy ({error.strerror or error})"
            raise FileReplaceError(target, reason) from None
        raise
    return copy


def _copy_owner(target: str, copy: str) -> None:
    original, made = os.stat(target), os.stat(copy)
    if (original.st_uid, original.st_gid) == (made.st_uid, made.st_gid) or not hasattr(os, "chown"):
        return
    try:
        os.chown(copy, original.st_uid, original.st_gid)
    except PermissionError:
        raise FileReplaceError(target, "cannot keep the file's owner (the file belongs to another user)") from None


def _check_unchanged(target: str, before: FileState) -> None:
    """The original must still be the file that was copied: never resurrect a deleted file or undo an edit."""
    try:
        now = FileState.of(os.stat(target))
    except FileNotFoundError:
        raise FileReplaceError(target, "file vanished while writing") from None
    if now != before:
        raise FileReplaceError(target, "file changed while writing")


def _flush(path: str) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _flush_folder(folder: str) -> None:
    """Make the rename durable; some platforms (Windows) cannot open a folder, which is fine there."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
