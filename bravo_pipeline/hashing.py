"""A write-only file wrapper that hashes (sha256) and counts what passes through."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path
from typing import BinaryIO

_READ_BLOCK = 1 << 20
# What a file system or kernel answers when it cannot copy_file_range between these two files
# (another device on old kernels, overlay or network mounts, no syscall at all).
_NO_KERNEL_COPY = {errno.EXDEV, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS, errno.EPERM}


class HashingWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self._sha.update(data)
        self.size += len(data)
        return len(data)

    def redirect(self, out: BinaryIO) -> None:
        """Go on writing (and hashing from where it was) into `out`, e.g. the same file reopened."""
        self._out = out

    def append_file(self, path: Path, start: int = 0, end: int | None = None) -> None:
        """Append bytes [start, end) of the file `path` (to its end by default; a file still being
        written is read only up to `end`): the kernel copies them (copy_file_range, on another
        thread) while this thread hashes the same bytes from the page cache, so the two take one's
        time. Where the kernel will not copy between the two files, the rest is copied by reads
        and writes; the bytes and the digest are the same either way."""
        self._out.flush()
        out_fd = self._out.fileno()
        out_start = os.lseek(out_fd, 0, os.SEEK_END)
        with path.open("rb") as source:
            in_fd = source.fileno()
            stop = os.fstat(in_fd).st_size if end is None else end
            failure: list[BaseException] = []
            copied = start

            def kernel_copy() -> None:
                nonlocal copied
                if not hasattr(os, "copy_file_range"):  # not on this platform
                    return
                try:
                    while copied < stop:
                        step = os.copy_file_range(in_fd, out_fd, stop - copied,
                                                  copied, out_start + copied - start)
                        if step == 0:
                            raise OSError(f"{path}: shorter than {stop} bytes")
                        copied += step
                except OSError as error:
                    if error.errno not in _NO_KERNEL_COPY:
                        failure.append(error)
                except BaseException as error:
                    failure.append(error)

            copier = threading.Thread(target=kernel_copy, name="append-file")
            copier.start()
            read = start
            while read < stop and (block := os.pread(in_fd, min(_READ_BLOCK, stop - read), read)):
                self._sha.update(block)
                read += len(block)
            copier.join()
            if failure:
                raise failure[0]
            if copied < stop:
                _copy_range(path, in_fd, out_fd, copied, stop, out_start - start)
        if read != stop:
            raise OSError(f"{path}: shorter than {stop} bytes")
        self.size += stop - start
        self._out.seek(0, os.SEEK_END)

    def flush(self) -> None:
        self._out.flush()

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def _copy_range(path: Path, in_fd: int, out_fd: int, offset: int, end: int,
                shift: int) -> None:
    """Copy bytes [offset, end) of `path` (open as `in_fd`) to `offset + shift` of `out_fd`."""
    while offset < end:
        block = os.pread(in_fd, min(_READ_BLOCK, end - offset), offset)
        if not block:
            raise OSError(f"{path}: shorter than {end} bytes")
        written = 0
        while written < len(block):
            written += os.pwrite(out_fd, block[written:], shift + offset + written)
        offset += len(block)
