"""Writes that survive a power loss: data is on disk before the rename that makes it visible.

A rename is atomic, but without fsync the disk may hold the new name before the
data it points to. So: fsync each file, then its folder, then rename, then
fsync the parent folder that holds the new name.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


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
