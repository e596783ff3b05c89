"""Writes that survive a power loss: data is on disk before the rename that makes it visible.

A rename is atomic, but without fsync the disk may hold the new name before the
data it points to. So: fsync each file, then its folder, then rename, then
fsync the parent folder that holds the new name.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import uuid
from pathlib import Path
from typing import BinaryIO

WRITEBACK_STEP = 32 << 20
_SYNC_FILE_RANGE_WRITE = 2


def _sync_file_range() -> object | None:
    name = ctypes.util.find_library("c")
    function = getattr(ctypes.CDLL(name, use_errno=True), "sync_file_range", None) if name else None
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return function


_START_WRITEBACK = _sync_file_range()


class EarlyWriteback:
    """Asks the kernel to start writing a growing file to disk every WRITEBACK_STEP bytes (Linux
    sync_file_range, which does not wait), so that the fsync before publishing finds little left."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._started = 0

    def wrote(self, position: int) -> None:
        if _START_WRITEBACK is None or position - self._started < WRITEBACK_STEP:
            return
        self._handle.flush()
        _START_WRITEBACK(self._handle.fileno(), self._started, position - self._started, _SYNC_FILE_RANGE_WRITE)
        self._started = position

    def finish(self) -> None:
        """Flush the rest and wait until the file is on disk."""
        self._handle.flush()
        os.fsync(self._handle.fileno())


def fsync_path(path: Path) -> None:
    """Flush one file or folder to disk."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_tree(folder: Path) -> None:
    """Flush every file directly in `folder`, then the folder itself (stage folders are flat)."""
    for entry in folder.iterdir():
        if entry.is_file():
            fsync_path(entry)
    fsync_path(folder)


def rename_durably(source: Path, target: Path) -> None:
    """Rename (atomic), then flush the parent folder(s) so the new name survives a power loss."""
    os.replace(source, target)
    fsync_path(target.parent)
    if source.parent != target.parent:
        fsync_path(source.parent)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: a temporary file beside it, flushed, renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        rename_durably(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
