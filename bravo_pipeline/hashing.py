"""A write-only file wrapper that hashes (sha256) and counts what passes through."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import BinaryIO

_READ_BLOCK = 1 << 20


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

    def append_file(self, path: Path) -> None:
        """Append the whole file `path`: the kernel copies it (copy_file_range, on another thread)
        while this thread hashes the same bytes from the page cache, so the two take one's time."""
        self._out.flush()
        out_fd = self._out.fileno()
        start = os.lseek(out_fd, 0, os.SEEK_END)
        with path.open("rb") as source:
            total = os.fstat(source.fileno()).st_size
            failure: list[BaseException] = []

            def copy() -> None:
                try:
                    copied = 0
                    while copied < total:
                        step = os.copy_file_range(source.fileno(), out_fd, total - copied,
                                                  copied, start + copied)
                        if step == 0:
                            raise OSError(f"{path}: shorter than {total} bytes")
                        copied += step
                except BaseException as error:
                    failure.append(error)

            copier = threading.Thread(target=copy, name="append-file")
            copier.start()
            read = 0
            while block := source.read(_READ_BLOCK):
                self._sha.update(block)
                read += len(block)
            copier.join()
        if failure:
            raise failure[0]
        if read != total:
            raise OSError(f"{path}: changed while it was appended")
        self.size += total
        self._out.seek(0, os.SEEK_END)

    def flush(self) -> None:
        self._out.flush()

    def hexdigest(self) -> str:
        return self._sha.hexdigest()
