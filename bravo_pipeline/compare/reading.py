"""Reading an export for compare: its tables, and each table file streamed one row (one line) at a time."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bravo_pipeline.integrity import FileDigest, IntegrityError, Manifest, load_manifest, verified_bytes, verified_lines
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.names import SCHEMA_FILE, UnsafeNameError, table_filename
from bravo_pipeline.timestamps import InvalidTimestampError, validate_timestamp

DIGEST_BYTES = 16
_SKIPPED_LINES = frozenset({b"", b"[", b"]", b"[]"})
_DECODER = json.JSONDecoder()
_scan_value = _DECODER.scan_once
_scan_string = json.decoder.scanstring
_SPACE = " \t\n\r"
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class CompareError(ValueError):
    pass


# ---------------------------------------------------------------------------
# What an export holds
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    path: Path
    columns: dict[str, str]  # name → PostgreSQL type, in table order
    primary_key: tuple[str, ...]
    digest: FileDigest | None = None  # what the export's summary records of the file


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CompareError(f"cannot read {path}: {error}") from None


def require_export(layout: ExportsLayout, ts: str) -> str:
    try:
        validate_timestamp(ts)
    except InvalidTimestampError as error:
        raise CompareError(str(error)) from None
    if not layout.is_complete("raw", ts):
        raise CompareError(f"export {ts} does not exist under {layout.root}")
    return ts


def manifest_of(folder: Path, stage: str) -> tuple[dict[str, Any], Manifest]:
    try:
        return load_manifest(folder, stage)
    except IntegrityError as error:
        raise CompareError(str(error)) from None


def export_tables(layout: ExportsLayout, ts: str) -> dict[str, TableSpec]:
    """Every table of the raw export `ts`: its file, columns and primary key (from schema.json)."""
    folder = layout.stage_dir("raw", ts)
    document, contents = manifest_of(folder, "raw")
    summary = document.get("tables", {})
    try:
        schema_data = verified_bytes(folder / SCHEMA_FILE, contents.files.get(SCHEMA_FILE))
        schema = json.loads(schema_data).get("tables", {})
    except (OSError, ValueError, IntegrityError) as error:
        raise CompareError(f"cannot read {folder / SCHEMA_FILE}: {error}") from None
    undescribed = sorted(set(summary) - set(schema))
    if undescribed:
        raise CompareError(f"{folder / SCHEMA_FILE} does not describe table(s) {', '.join(undescribed)}")
    tables = {}
    for name, entry in schema.items():
        try:
            filename = table_filename(name)
        except UnsafeNameError as error:
            raise CompareError(f"{folder / SCHEMA_FILE}: {error}") from None
        columns = {column["name"]: column["type"] for column in entry.get("columns", [])}
        tables[name] = TableSpec(folder / filename, columns, tuple(entry.get("primaryKey") or ()),
                                 contents.files.get(filename))
    return tables


# ---------------------------------------------------------------------------
# Streaming rows
# ---------------------------------------------------------------------------


def row_lines(path: Path | None, digest: FileDigest | None = None) -> Iterator[tuple[int, bytes]]:
    """(byte offset, row text without the trailing comma) of every row line of a file.

    With `digest`, the file is checked against it as it streams (after the last line).
    """
    if path is None:
        return
    offset = 0
    try:
        for line in verified_lines(path, digest):
            start = offset
            offset += len(line)
            body = line.rstrip()
            if body.endswith(b","):
                body = body[:-1]
            if body in _SKIPPED_LINES:
                continue
            if not body.startswith(b"{"):
                raise CompareError(f"{path}: line at byte {start} is not one row object")
            yield start, body
    except IntegrityError as error:
        raise CompareError(str(error)) from None
    except OSError as error:
        raise CompareError(f"cannot read {path}: {error}") from None


def parse_row(body: bytes, path: Path | None) -> dict[str, Any]:
    try:
        row = json.loads(body)
    except json.JSONDecodeError as error:
        raise CompareError(f"{path}: a row is not valid JSON ({error.msg})") from None
    if not isinstance(row, dict):
        raise CompareError(f"{path}: a row is not a JSON object")
    return row


def read_body_at(handle: IO[bytes], offset: int) -> bytes:
    handle.seek(offset)
    body = handle.readline().rstrip()
    return body[:-1] if body.endswith(b",") else body


def read_row_at(handle: IO[bytes], offset: int, path: Path | None) -> dict[str, Any]:
    return parse_row(read_body_at(handle, offset), path)


def _skip_space(text: str, index: int) -> int:
    """`index`, moved past any JSON whitespace (exports have none between fields: cheap check first)."""
    if text[index] not in _SPACE:
        return index
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def split_fields(body: bytes, path: Path | None) -> dict[str, tuple[str, Any]]:
    """Each top-level field of a row: (its JSON text as written, its value)."""
    text = body.decode("utf-8")
    try:
        return _scan_fields(text)
    except (ValueError, IndexError, StopIteration) as error:
        raise CompareError(f"{path}: a row is not a valid JSON object ({error!r})") from None


def _scan_fields(text: str) -> dict[str, tuple[str, Any]]:
    fields: dict[str, tuple[str, Any]] = {}
    index = _skip_space(text, 1)
    if text[index] == "}":
        return fields
    while True:
        if text[index] != '"':
            raise ValueError(f"field name expected at {index}")
        name, index = _scan_string(text, index + 1)
        index = _skip_space(text, index)
        if text[index] != ":":
            raise ValueError(f"':' expected at {index}")
        start = _skip_space(text, index + 1)
        value, index = _scan_value(text, start)
        fields[name] = (text[start:index], value)
        index = _skip_space(text, index)
        if text[index] == "}":
            return fields
        if text[index] != ",":
            raise ValueError(f"',' or '}}' expected at {index}")
        index = _skip_space(text, index + 1)


def open_rows(path: Path | None) -> Any:
    if path is None:
        return nullcontext(None)
    try:
        return path.open("rb")
    except OSError as error:
        raise CompareError(f"cannot read {path}: {error}") from None


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


def same_value(a: Any, b: Any) -> bool:
    """Equal values of the same JSON types (`true` is not `1`, key order does not matter)."""
    if type(a) is not type(b) or a != b:
        return False
    return not isinstance(a, dict | list) or canonical(a) == canonical(b)

