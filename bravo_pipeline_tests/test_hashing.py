"""Appending a file through HashingWriter: the same bytes and digest whether the kernel copies
them or, where it refuses (another device, some network and overlay mounts), reads and writes do."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from bravo_pipeline.hashing import HashingWriter

_PART = bytes(range(256)) * 9000  # about 2.3 MB: more than one read block


def _append(tmp_path: Path) -> tuple[bytes, str, int]:
    part = tmp_path / "part"
    part.write_bytes(_PART)
    target = tmp_path / "whole"
    with target.open("wb") as out:
        writer = HashingWriter(out)
        writer.write(b"[\n")
        writer.append_file(part)
        writer.write(b"\n]\n")
        writer.flush()
        return target.read_bytes(), writer.hexdigest(), writer.size


def _expected() -> tuple[bytes, str, int]:
    whole = b"[\n" + _PART + b"\n]\n"
    return whole, hashlib.sha256(whole).hexdigest(), len(whole)


def test_kernel_copy(tmp_path: Path) -> None:
    assert _append(tmp_path) == _expected()


@pytest.mark.parametrize("refusal", [errno.EXDEV, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS])
def test_refused_kernel_copy_falls_back_to_reads_and_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: int) -> None:
    def refuse(*args: object) -> int:
        raise OSError(refusal, os.strerror(refusal))

    monkeypatch.setattr(os, "copy_file_range", refuse)
    assert _append(tmp_path) == _expected()


def test_kernel_copy_refused_halfway_is_finished_by_reads_and_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.copy_file_range
    calls = []

    def once_then_refuse(src: int, dst: int, count: int, offset_src: int, offset_dst: int) -> int:
        calls.append(offset_src)
        if len(calls) > 1:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        return real(src, dst, min(count, 100_000), offset_src, offset_dst)

    monkeypatch.setattr(os, "copy_file_range", once_then_refuse)
    assert _append(tmp_path) == _expected()
    assert calls == [0, 100_000]


def test_other_copy_errors_are_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "copy_file_range", disk_full)
    with pytest.raises(OSError) as raised:
        _append(tmp_path)
    assert raised.value.errno == errno.ENOSPC
