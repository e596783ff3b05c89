"""What a stage folder must hold, by its own summary: every file's name, size and sha256.

A stage's summary (`export-summary.json`, `transformation-summary.json`) lists
the files of the folder with their sizes and digests, and seals itself: its
`summarySha256` is the sha256 of its own canonical JSON without that field, so
an edited summary is caught too. `manifest` reads the list from an untrusted
summary (validating every field, and every table name through
`names.table_filename`), and every reader of an export compares what it reads
with it while it reads (never a second pass): a mismatch is an
`IntegrityError`, one line naming the file and both digests.
"""

from __future__ import annotations

import hashlib
import json
import queue
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from bravo_pipeline.names import (
    CAMPAIGNS_FILE,
    EXPORT_SUMMARY_FILE,
    SCHEMA_FILE,
    TRANSFORMATION_SUMMARY_FILE,
    UnsafeNameError,
    printable,
    table_filename,
)

SEAL_FIELD = "summarySha256"
VERIFY_THREADS = 2  # hashlib releases the GIL: two files hash at once on two cores
MAX_SUMMARY_BYTES = 64 << 20  # a summary lists files; even 100,000 tables stay far below this
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
READ_BLOCK = 1 << 20


class IntegrityError(RuntimeError):
    """A file that differs from what its export's summary says (one line)."""


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """The files of one stage folder: the data files with their digests, and the summary itself."""

    summary_file: str
    files: dict[str, FileDigest | None]  # None: recorded by an older version without a digest

    @property
    def total_bytes(self) -> int:
        return sum(digest.size for digest in self.files.values() if digest is not None)


def _digest(entry: Any, label: str) -> FileDigest:
    if not isinstance(entry, dict):
        raise IntegrityError(f"{label}: no size and sha256 recorded")
    size, sha256 = entry.get("size"), entry.get("sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise IntegrityError(f"{label}: the recorded size is not a byte count")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise IntegrityError(f"{label}: the recorded sha256 is not a sha256")
    return FileDigest(size, sha256)


def raw_manifest(summary: Any) -> Manifest:
    """The files of `raw/<ts>/` that `summary` (export-summary.json) describes."""
    tables = summary.get("tables") if isinstance(summary, dict) else None
    if not isinstance(tables, dict):
        raise IntegrityError(f"{EXPORT_SUMMARY_FILE}: no tables object")
    files: dict[str, FileDigest | None] = {}
    for table, entry in tables.items():
        try:
            filename = table_filename(table)
        except UnsafeNameError as error:
            raise IntegrityError(f"{EXPORT_SUMMARY_FILE}: {error}") from None
        recorded = entry.get("filename", filename) if isinstance(entry, dict) else filename
        if recorded != filename:
            raise IntegrityError(
                f"{EXPORT_SUMMARY_FILE}: table {printable(table)} names file {printable(str(recorded))}, "
                f"not {filename}"
            )
        files[filename] = _digest(entry, f"{EXPORT_SUMMARY_FILE}: table {printable(table)}")
    schema = summary.get("schemaFile")
    files[SCHEMA_FILE] = None if schema is None else _digest(schema, f"{EXPORT_SUMMARY_FILE}: {SCHEMA_FILE}")
    return Manifest(EXPORT_SUMMARY_FILE, files)


def transformed_manifest(summary: Any) -> Manifest:
    """The files of `transformed/<ts>/` that `summary` (transformation-summary.json) describes."""
    if not isinstance(summary, dict) or summary.get("outputFile", CAMPAIGNS_FILE) != CAMPAIGNS_FILE:
        raise IntegrityError(f"{TRANSFORMATION_SUMMARY_FILE}: outputFile is not {CAMPAIGNS_FILE}")
    digest = _digest(summary, f"{TRANSFORMATION_SUMMARY_FILE}: {CAMPAIGNS_FILE}")
    return Manifest(TRANSFORMATION_SUMMARY_FILE, {CAMPAIGNS_FILE: digest})


def manifest(stage: str, summary: Any) -> Manifest:
    return raw_manifest(summary) if stage == "raw" else transformed_manifest(summary)


def parse_summary(data: bytes, label: str) -> dict[str, Any]:
    """A summary file's JSON object, or IntegrityError naming it."""
    if len(data) > MAX_SUMMARY_BYTES:
        raise IntegrityError(f"{label}: larger than {MAX_SUMMARY_BYTES} bytes")
    try:
        document = json.loads(data)
    except ValueError as error:
        raise IntegrityError(f"{label}: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise IntegrityError(f"{label}: not a JSON object")
    return document


def read_summary(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SUMMARY_BYTES + 1)
    except OSError as error:
        raise IntegrityError(f"{path}: cannot read ({error.strerror})") from None
    return parse_summary(data, str(path))


def mismatch(label: str, expected: FileDigest, size: int, sha256: str) -> IntegrityError:
    if size != expected.size:
        return IntegrityError(
            f"{label}: {size} bytes, the summary says {expected.size} "
            f"(sha256 {sha256}, the summary says {expected.sha256})"
        )
    return IntegrityError(f"{label}: sha256 {sha256}, the summary says {expected.sha256}")


class VerifiedReader:
    """A binary file read through, hashed on the way; `finish()` compares with the summary's digest."""

    def __init__(self, handle: BinaryIO, expected: FileDigest, label: str) -> None:
        self._handle = handle
        self._sha = hashlib.sha256()
        self._expected = expected
        self._label = label
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._sha.update(data)
        self.size += len(data)
        return data

    def finish(self) -> None:
        digest = self._sha.hexdigest()
        if self.size != self._expected.size or digest != self._expected.sha256:
            raise mismatch(self._label, self._expected, self.size, digest)


def verify_file(path: Path, expected: FileDigest, label: str | None = None) -> None:
    """Read `path` once and compare its size and sha256 with `expected`."""
    label = label or str(path)
    try:
        with path.open("rb") as handle:
            reader = VerifiedReader(handle, expected, label)
            while reader.read(READ_BLOCK):
                pass
    except FileNotFoundError:
        raise IntegrityError(f"{label}: missing") from None
    reader.finish()


def verify_bytes(data: bytes, expected: FileDigest, label: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != expected.size or digest != expected.sha256:
        raise mismatch(label, expected, len(data), digest)


def _canonical(document: dict[str, Any]) -> bytes:
    body = {key: value for key, value in document.items() if key != SEAL_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def seal(summary: dict[str, Any]) -> dict[str, Any]:
    """`summary` with its own digest added (the last field)."""
    return {**summary, SEAL_FIELD: hashlib.sha256(_canonical(summary)).hexdigest()}


def check_seal(summary: dict[str, Any], label: str) -> None:
    """IntegrityError when a sealed summary was edited (summaries of older exports carry no seal)."""
    recorded = summary.get(SEAL_FIELD)
    if recorded is None:
        return
    actual = hashlib.sha256(_canonical(summary)).hexdigest()
    if recorded != actual:
        raise IntegrityError(f"{label}: sha256 of its content {actual}, its {SEAL_FIELD} says {recorded}")


def load_manifest(stage_dir: Path, stage: str) -> tuple[dict[str, Any], Manifest]:
    """The checked summary of a stage folder (named `<ts>`) and the files it lists."""
    summary_file = EXPORT_SUMMARY_FILE if stage == "raw" else TRANSFORMATION_SUMMARY_FILE
    path = stage_dir / summary_file
    summary = read_summary(path)
    check_seal(summary, str(path))
    if _is_timestamp(stage_dir.name) and summary.get("exportTimestamp", stage_dir.name) != stage_dir.name:
        raise IntegrityError(f"{path}: the summary of export {summary.get('exportTimestamp')!r}, not {stage_dir.name}")
    return summary, manifest(stage, summary)


def _is_timestamp(name: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{8}-[0-9]{6}", name))


def expected_digest(contents: Manifest, filename: str, label: str) -> FileDigest | None:
    """The recorded digest of one file (None for a schema.json older exports did not record)."""
    if filename not in contents.files:
        raise IntegrityError(f"{label}: not listed in {contents.summary_file}")
    return contents.files[filename]


class BackgroundHasher:
    """sha256 of blocks handed over as they are read, computed on another thread.

    hashlib releases the GIL for large blocks, so the reader parses on one core
    while the digest is computed on the other: verification costs no wall time.
    """

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self.size = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._blocks.get()) is not None:
            self._sha.update(block)

    def update(self, block: bytes) -> None:
        self.size += len(block)
        self._blocks.put(block)

    def hexdigest(self) -> str:
        self._blocks.put(None)
        self._thread.join()
        return self._sha.hexdigest()


def verified_lines(path: Path, expected: FileDigest | None, label: str | None = None) -> Iterator[bytes]:
    """The lines of a file, hashed as they are read; IntegrityError after the last one if it differs."""
    label = label or str(path)
    with path.open("rb") as handle:
        if expected is None:
            yield from handle
            return
        hasher = BackgroundHasher()
        try:
            rest = b""
            while block := handle.read(READ_BLOCK):
                hasher.update(block)
                lines = (rest + block).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    yield line + b"\n"
            if rest:
                yield rest
        finally:
            digest = hasher.hexdigest()  # also stops the hashing thread when the reader gives up early
    if hasher.size != expected.size or digest != expected.sha256:
        raise mismatch(label, expected, hasher.size, digest)


def verified_bytes(path: Path, expected: FileDigest | None, label: str | None = None) -> bytes:
    """A whole file, checked against its digest before it is handed over."""
    data = path.read_bytes()
    if expected is not None:
        verify_bytes(data, expected, label or str(path))
    return data


@dataclass(frozen=True)
class StageVerification:
    files: int
    bytes: int


def verify_stage(stage_dir: Path, stage: str) -> StageVerification:
    """Read every file of a stage folder once and compare it with the folder's own summary.

    Raises IntegrityError for the first file that differs, is missing, or is not listed.
    """
    _, contents = load_manifest(stage_dir, stage)
    listed = {*contents.files, contents.summary_file}
    unlisted = sorted(entry.name for entry in stage_dir.iterdir() if entry.name not in listed)
    if unlisted:
        raise IntegrityError(f"{stage_dir / unlisted[0]}: not listed in {contents.summary_file}")
    checked = [(name, digest) for name, digest in sorted(contents.files.items()) if digest is not None]
    with ThreadPoolExecutor(VERIFY_THREADS) as pool:
        for future in [pool.submit(verify_file, stage_dir / name, digest) for name, digest in checked]:
            future.result()
    return StageVerification(len(checked) + 1, sum(digest.size for _, digest in checked))
