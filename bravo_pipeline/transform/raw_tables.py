"""Read the raw table files the campaign transform needs into polars frames.

A raw file (see shared/spec/export-format.md, "Raw table files") is a JSON array
with one row object per line: `[`, then `{...},` lines, the last row without a
comma, then `]`; an empty table is `[]`. Stripping the brackets and the row
commas turns it into NDJSON, which polars parses natively with an explicit
schema (only the listed columns are read, so wide or nested columns such as
jsonb never get in the way). Python's json module is only used to check the
first row's keys and, when parsing fails, to find the line at fault.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from bravo_pipeline.integrity import FileDigest, Manifest, expected_digest, verified_bytes
from bravo_pipeline.names import table_filename

_TEXT = pl.String()  # ids, text, decimal strings and ISO timestamps all stay strings

TRANSFORM_COLUMNS: dict[str, dict[str, pl.DataType]] = {
    "campaigns": {
        "id": _TEXT,
        "campaign_number": _TEXT,
        "campaign_name": _TEXT,
        "account_id": _TEXT,
        "agency_id": _TEXT,
        "budget": _TEXT,
        "proposed_budget": _TEXT,
        "expected_revenue": _TEXT,
        "stage": _TEXT,
        "flight_date": _TEXT,
        "end_date": _TEXT,
        "goals_kpis": _TEXT,
        "new_business": pl.Boolean(),
        "owner_user_id": _TEXT,
        "lead_account_owner_user_id": _TEXT,
        "sales_rep_user_id": _TEXT,
        "created_at": _TEXT,
        "updated_at": _TEXT,
        "modified_time": _TEXT,
        "is_deleted": pl.Boolean(),
    },
    "accounts": {"id": _TEXT, "account_name": _TEXT},
    "users": {"id": _TEXT, "zoho_user_id": _TEXT, "name": _TEXT, "email": _TEXT},
    "strategies": {
        "id": _TEXT,
        "campaign_id": _TEXT,
        "name": _TEXT,
        "status": _TEXT,
        "created_at": _TEXT,
        "updated_at": _TEXT,
    },
    "line_items": {
        "id": _TEXT,
        "strategy_id": _TEXT,
        "name": _TEXT,
        "description": _TEXT,
        "audience": _TEXT,
        "geo": _TEXT,
        "start_date": _TEXT,
        "end_date": _TEXT,
        "price": _TEXT,
        "unit_price": _TEXT,
        "target_margin": _TEXT,
        "pacing_type": _TEXT,
        "channel_id": pl.Int64(),
        "tactic_id": pl.Int64(),
        "unit_price_type_id": pl.Int64(),
        "media_platform_ids": pl.List(pl.Int64),
        "media_trader_user_ids": pl.List(pl.String),
        "is_deleted": pl.Boolean(),
        "created_at": _TEXT,
        "updated_at": _TEXT,
    },
    "channels": {"id": pl.Int64(), "name": _TEXT},
    "tactics": {"id": pl.Int64(), "name": _TEXT},
    "unit_price_types": {"id": pl.Int64(), "name": _TEXT},
}

_OPEN = b"[\n"
_CLOSE = b"\n]"
_EMPTY = b"[]"


class RawTableError(ValueError):
    """A raw table file is missing or malformed, or lacks a value the transform needs."""


def read_transform_inputs(raw_dir: Path, contents: Manifest | None) -> dict[str, pl.DataFrame]:
    """The 8 tables the campaign transform reads, from `raw/<ts>/`; with `contents` (the export's
    summary), each file is checked against its recorded digest as it is read."""
    tables = {}
    for table in TRANSFORM_COLUMNS:
        filename = table_filename(table)
        path = raw_dir / filename
        expected = expected_digest(contents, filename, str(path)) if contents is not None else None
        tables[table] = read_raw_table(path, table, expected)
    return tables


def read_raw_table(path: Path, table: str, expected: FileDigest | None = None) -> pl.DataFrame:
    """The columns of TRANSFORM_COLUMNS[table] from one raw file, in file (primary key) order.

    With `expected`, the bytes read are checked against it first (IntegrityError).
    """
    schema = TRANSFORM_COLUMNS[table]
    try:
        data = verified_bytes(path, expected)
    except FileNotFoundError:
        raise RawTableError(f"raw table {table}: file {path} is missing") from None
    except OSError as error:
        raise RawTableError(f"raw table {table}: cannot read {path}: {error}") from error
    rows = _row_lines(path, table, data)
    del data  # raw files can be large: keep one copy of the rows, not two
    if not rows:
        return pl.DataFrame(schema=schema)
    _check_first_row_columns(path, table, rows)
    try:
        return pl.read_ndjson(rows.replace(b",\n", b"\n"), schema=schema)
    except pl.exceptions.PolarsError as error:
        raise _locate_error(path, table, rows, str(error)) from error


def _row_lines(path: Path, table: str, data: bytes) -> bytes:
    """The row lines between `[` and `]`, each but the last ending with a comma."""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    if end <= len(_EMPTY) + 1 and data[:end] in (_EMPTY, b"[\n]"):
        return b""
    if not data.startswith(_OPEN):
        raise _malformed(path, table, 1, "the file must start with a line holding only '['")
    if not data.endswith(_CLOSE, 0, end):
        last_line = data.count(b"\n", 0, end) + 1
        raise _malformed(path, table, last_line, "the file must end with a line holding only ']'")
    rows = data[len(_OPEN) : end - len(_CLOSE)]
    if not rows:
        raise _malformed(path, table, 2, "empty line")
    # JSON text never holds a raw newline, so every ",\n" separates two rows; a row
    # without its comma (or an extra line) shows up as a mismatch in the counts.
    if rows.count(b",\n") != rows.count(b"\n"):
        raise _locate_error(path, table, rows, "rows are not separated by one comma per line")
    return rows


def _check_first_row_columns(path: Path, table: str, rows: bytes) -> None:
    # Every row holds every column (the export contract), so the first row tells.
    newline = rows.find(b"\n")
    first_line = (rows if newline < 0 else rows[:newline]).removesuffix(b",")
    row = _parse_row(path, table, first_line, 2)
    missing = [column for column in TRANSFORM_COLUMNS[table] if column not in row]
    if len(missing) == 1:
        raise RawTableError(f"raw table {table}: column {missing[0]} is missing")
    if missing:
        raise RawTableError(f"raw table {table}: columns {', '.join(missing)} are missing")


def _parse_row(path: Path, table: str, line: bytes, line_number: int) -> dict[str, object]:
    try:
        row = json.loads(line)
    except ValueError as error:
        raise _malformed(path, table, line_number, f"invalid JSON ({error})") from None
    if not isinstance(row, dict):
        raise _malformed(path, table, line_number, "the row is not a JSON object")
    return row


def _locate_error(path: Path, table: str, rows: bytes, reason: str) -> RawTableError:
    """The error for the first bad line: slow, only used once parsing has failed."""
    lines = rows.split(b"\n")
    for index, line in enumerate(lines):
        line_number = index + 2  # line 1 is "["
        is_last = index == len(lines) - 1
        if not is_last and not line.endswith(b","):
            return _malformed(path, table, line_number, "the row does not end with ','")
        row = _parse_row(path, table, line if is_last else line[:-1], line_number)
        type_problem = _type_problem(table, row)
        if type_problem:
            return _malformed(path, table, line_number, type_problem)
    return RawTableError(f"raw table {table}: cannot read {path}: {reason}")


def _type_problem(table: str, row: dict[str, object]) -> str | None:
    for column, dtype in TRANSFORM_COLUMNS[table].items():
        value = row.get(column)
        if value is not None and not _matches(value, dtype):
            return f"column {column} holds {json.dumps(value, ensure_ascii=False)[:80]}, not {dtype}"
    return None


def _matches(value: object, dtype: pl.DataType) -> bool:
    if isinstance(dtype, pl.List):
        inner = dtype.inner
        return isinstance(value, list) and all(v is None or _matches(v, inner) for v in value)
    if dtype == pl.Boolean:
        return isinstance(value, bool)
    if dtype == pl.Int64:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def _malformed(path: Path, table: str, line_number: int, reason: str) -> RawTableError:
    return RawTableError(f"raw table {table}: {path} line {line_number} is malformed: {reason}")
