"""A write-only file wrapper that hashes (sha256) and counts what passes through."""

from __future__ import annotations

import hashlib
from typing import BinaryIO


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

    def flush(self) -> None:
        self._out.flush()

    def hexdigest(self) -> str:
        return self._sha.hexdigest()
