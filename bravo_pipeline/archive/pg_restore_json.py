"""Rebuild a PostgreSQL database from a raw export (`raw/<ts>/*.json` + schema.json).

The database is created empty, the types schema.json records are created
(enums, domains, extensions: see restore_types), every table of schema.json is
created with its exact column types, NOT NULL and primary key (defaults are not restored), and
each table file is streamed into its table with COPY, one line (one row) at a
time: memory stays flat whatever the table size. JSON values are turned back
into what PostgreSQL parses to the same stored value, so exporting the restored
database again gives byte-identical table files:

- numbers keep their exact text (never parsed into binary floats);
- decimal strings (numeric, money), dates, uuids, text → passed as they are;
- `timestamp without time zone` → the ISO text without its `Z`; timestamptz keeps it;
- bytea → the base64 decoded to bytes;
- json/jsonb → the JSON text of the value (numbers exact);
- arrays → PostgreSQL array input text, every element quoted, nulls kept.

Nothing from the files becomes SQL text: table and column names are always
quoted identifiers, and every column type is looked up by the server as a
type (`to_regtype`, `to_regtypemod`); a type string is accepted only when the
server's own rendering of that type (`format_type`) is exactly the string, and
that rendering is what CREATE TABLE uses. A "type" carrying an expression, a
comment, a cast or a second statement is refused before any table exists.

On any failure the half-restored database is dropped and a one-line
`RestoreError` names the table.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bravo_pipeline.archive.restore_types import (
    MAX_TYPE_TEXT,
    TypeSpec,
    TypeSpecError,
    create_types,
    read_type_specs,
)
from bravo_pipeline.faults import checkpoint
from bravo_pipeline.integrity import (
    FileDigest,
    IntegrityError,
    Manifest,
    expected_digest,
    load_manifest,
    verified_bytes,
    verified_lines,
)
from bravo_pipeline.names import SCHEMA_FILE, UnsafeNameError, check_identifier, printable, table_filename
from bravo_pipeline.source.connection import SourceError, connect, describe_error
from bravo_pipeline.source.databases import build_database

_TIMESTAMP_RE = re.compile(r"^timestamp(\(\d+\))? without time zone$")
_TIMESTAMPTZ_RE = re.compile(r"^timestamp(\(\d+\))? with time zone$")
_JSON_TYPES = {"json", "jsonb"}

Converter = Callable[[Any], Any]


class RestoreError(RuntimeError):
    """A restore that failed, worded for the user (one line)."""


@dataclass(frozen=True)
class _ColumnSpec:
    name: str
    type: str
    nullable: bool
    convert: Converter


@dataclass(frozen=True)
class _TableSpec:
    name: str
    columns: tuple[_ColumnSpec, ...]
    primary_key: tuple[str, ...]
    row_count: int | None


# ---------------------------------------------------------------------------
# JSON value → COPY value
# ---------------------------------------------------------------------------


class JsonNumber(str):
    """A JSON number kept as its exact text (never a binary float; `-0` stays `-0`)."""

    __slots__ = ()


def parse_row(text: bytes | str) -> Any:
    """One JSON row, numbers kept as their exact text (`JsonNumber`)."""
    return json.loads(text, parse_float=JsonNumber, parse_int=JsonNumber)


def json_text(value: Any) -> str:
    """JSON text of a value from `parse_row` (numbers written exactly as they were read)."""
    if isinstance(value, JsonNumber):
        return str(value)
    if isinstance(value, dict):
        items = (json.dumps(key, ensure_ascii=False) + ":" + json_text(item) for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _element_text(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def array_literal(
    value: list[Any], element: Callable[[Any], str] = _element_text, *, nested: bool = True
) -> str:
    """PostgreSQL array input text of a JSON array: every element quoted, nulls as NULL.

    With `nested`, inner JSON arrays are inner dimensions; without (json/jsonb
    arrays), every top-level element is one value.
    """
    parts = []
    for item in value:
        if item is None:
            parts.append("NULL")
        elif nested and isinstance(item, list):
            parts.append(array_literal(item, element))
        else:
            text = element(item).replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'"{text}"')
    return "{" + ",".join(parts) + "}"


def _identity(value: Any) -> Any:
    return value


_EXPANDED_YEAR_RE = re.compile(r"^([+-])(\d{4,})(-.*)$")


def _timestamp_input(value: str) -> str:
    """The export's timestamp text as PostgreSQL reads it: a signed (expanded) year becomes AD/BC."""
    found = _EXPANDED_YEAR_RE.match(value)
    if found is None:
        return value  # ISO 8601 in years 1-9999, or infinity / -infinity
    sign, digits, rest = found.groups()
    year = int(digits) * (-1 if sign == "-" else 1)
    return f"{1 - year:04d}{rest} BC" if year <= 0 else f"{year}{rest}"


def _timestamp(value: Any) -> Any:
    """timestamp without time zone: the text without its `Z`."""
    if not isinstance(value, str):
        return value
    return _timestamp_input(value[:-1] if value.endswith("Z") else value)


def _timestamptz(value: Any) -> Any:
    return _timestamp_input(value) if isinstance(value, str) else value


def _from_base64(value: Any) -> Any:
    return base64.b64decode(value, validate=True) if isinstance(value, str) else value


def _to_json(value: Any) -> Any:
    return None if value is None else json_text(value)


def _array(value: Any) -> Any:
    return array_literal(value) if isinstance(value, list) else value


def _json_array(value: Any) -> Any:
    return array_literal(value, json_text, nested=False) if isinstance(value, list) else value


def converter_for(type_: str) -> Converter:
    """How a JSON value of a column of PostgreSQL type `type_` (format_type text) is written."""
    base = type_.strip()
    is_array = base.endswith("[]")
    while base.endswith("[]"):
        base = base[:-2]
    if is_array:
        if base in _JSON_TYPES:
            return _json_array
        if _TIMESTAMP_RE.match(base) or _TIMESTAMPTZ_RE.match(base):
            element = _timestamp if _TIMESTAMP_RE.match(base) else _timestamptz
            return lambda value: array_literal(value, element) if isinstance(value, list) else value
        return _array
    if base in _JSON_TYPES:
        return _to_json
    if base == "bytea":
        return _from_base64
    if _TIMESTAMP_RE.match(base):
        return _timestamp
    if _TIMESTAMPTZ_RE.match(base):
        return _timestamptz
    return _identity


# ---------------------------------------------------------------------------
# schema.json and table files
# ---------------------------------------------------------------------------


def _column_spec(table: str, column: Any) -> _ColumnSpec:
    if not isinstance(column, dict):
        raise RestoreError(f"table {printable(table)}: a column entry is not an object")
    name = check_identifier(column.get("name"), "column")
    type_ = column.get("type")
    if not isinstance(type_, str) or not type_ or len(type_) > MAX_TYPE_TEXT:
        raise RestoreError(f"table {printable(table)}: column {printable(name)} has no usable type")
    if not isinstance(column.get("nullable"), bool):
        raise RestoreError(f"table {printable(table)}: column {printable(name)} has no nullable flag")
    return _ColumnSpec(name, type_, column["nullable"], converter_for(type_))


def _table_spec(name: str, entry: Any) -> _TableSpec:
    try:
        check_identifier(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("columns"), list):
            raise RestoreError(f"table {printable(name)}: no column list")
        columns = tuple(_column_spec(name, column) for column in entry["columns"])
        names = [column.name for column in columns]
        if len(set(names)) != len(names):
            raise RestoreError(f"table {printable(name)}: a column is listed twice")
        primary_key = entry.get("primaryKey") or []
        if not isinstance(primary_key, list) or any(key not in names for key in primary_key):
            raise RestoreError(f"table {printable(name)}: the primary key names a column the table lacks")
        count = entry.get("rowCount")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise RestoreError(f"table {printable(name)}: rowCount is not a count")
    except UnsafeNameError as error:
        raise RestoreError(f"{SCHEMA_FILE}: {error}") from None
    return _TableSpec(name, columns, tuple(primary_key), count)


def read_schema(raw_dir: Path, contents: Manifest | None = None) -> tuple[list[TypeSpec], list[_TableSpec]]:
    """The types (in creation order) and the tables of schema.json, validated."""
    path = raw_dir / SCHEMA_FILE
    if not path.is_file():
        raise RestoreError(f"{path}: no schema.json in the raw export")
    try:
        expected = contents.files.get(SCHEMA_FILE) if contents is not None else None
        document = json.loads(verified_bytes(path, expected))
    except (OSError, ValueError) as error:
        raise RestoreError(f"{path}: not readable JSON ({error})") from None
    tables = document.get("tables") if isinstance(document, dict) else None
    if not isinstance(tables, dict):
        raise RestoreError(f"{path}: no tables object")
    try:
        types = read_type_specs(document)
    except TypeSpecError as error:
        raise RestoreError(f"{SCHEMA_FILE}: {error}") from None
    return types, [_table_spec(name, entry) for name, entry in tables.items()]


# ---------------------------------------------------------------------------
# Types, resolved by the server
# ---------------------------------------------------------------------------


def _server_rendering(conn: psycopg.Connection, text: str, with_typmod: bool) -> str | None:
    """format_type of the type `text` names on the server, or None when it names none."""
    query = (
        "SELECT format_type(to_regtype(%(t)s), to_regtypemod(%(t)s))" if with_typmod
        else "SELECT format_type(to_regtype(%(t)s), NULL)"
    )
    try:
        row = conn.execute(query, {"t": text}).fetchone()
    except psycopg.Error:  # servers before 16 raise on a syntax error instead of returning NULL
        return None
    return row[0] if row and row[0] is not None and row[0] != "-" else None


def resolve_types(conn: psycopg.Connection, tables: list[_TableSpec]) -> dict[str, sql.Composable]:
    """Each column type text → the server's own rendering of that type, or RestoreError naming the column.

    Needs an autocommit connection (a failed lookup must not abort a transaction).
    """
    with_typmod = conn.info.server_version >= 170000  # to_regtypemod is PostgreSQL 17+
    resolved: dict[str, sql.Composable] = {}
    for table in tables:
        for column in table.columns:
            if column.type in resolved:
                continue
            rendering = _server_rendering(conn, column.type, with_typmod)
            if rendering != column.type:
                hint = "" if with_typmod or "(" not in column.type else " (type modifiers need PostgreSQL 17+)"
                raise RestoreError(
                    f"table {printable(table.name)}: column {printable(column.name)} has type "
                    f"{column.type!r}, which is not a type on the target server{hint}"
                )
            resolved[column.type] = sql.SQL(rendering)  # the server's rendering, never the file's text
    return resolved


def read_rows(path: Path, table: _TableSpec, expected: FileDigest | None = None) -> Iterator[list[Any]]:
    """Rows of a table file (JSON array, one row per line), converted for COPY, one at a time.

    With `expected`, the file is checked against it as it streams (IntegrityError after the last row).
    """
    names = [column.name for column in table.columns]
    converters = [column.convert for column in table.columns]
    for number, line in enumerate(verified_lines(path, expected), start=1):
        text = line.strip()
        if text in (b"[", b"]", b"[]", b""):
            continue
        try:
            row = parse_row(text.removesuffix(b","))
            yield [convert(row[name]) for name, convert in zip(names, converters, strict=True)]
        except KeyError as error:
            raise ValueError(f"line {number}: no column {error.args[0]}") from None
        except ValueError as error:
            raise ValueError(f"line {number}: {error}") from None


# ---------------------------------------------------------------------------
# SQL
# ---------------------------------------------------------------------------


def _create_table(schema: str, table: _TableSpec, types: dict[str, sql.Composable]) -> sql.Composable:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(
            sql.Identifier(column.name),
            types[column.type],
            sql.SQL("" if column.nullable else " NOT NULL"),
        )
        for column in table.columns
    )
    return sql.SQL("CREATE TABLE {}.{} ({})").format(
        sql.Identifier(schema), sql.Identifier(table.name), columns
    )


def _add_primary_key(schema: str, table: _TableSpec) -> sql.Composable:
    return sql.SQL("ALTER TABLE {}.{} ADD PRIMARY KEY ({})").format(
        sql.Identifier(schema),
        sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(name) for name in table.primary_key),
    )


def _copy_statement(schema: str, table: _TableSpec) -> sql.Composable:
    return sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
        sql.Identifier(schema),
        sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(column.name) for column in table.columns),
    )


def _load_table(conn: psycopg.Connection, schema: str, table: _TableSpec, path: Path,
                expected: FileDigest | None) -> int:
    if not path.is_file():
        raise RestoreError(f"{path.name}: table file missing from the raw export")
    with conn.transaction(), conn.cursor() as cursor:
        written = 0
        with cursor.copy(_copy_statement(schema, table)) as copy:
            for row in read_rows(path, table, expected):
                copy.write_row(row)
                written += 1
        if table.row_count is not None and written != table.row_count:
            raise RestoreError(f"{path.name} holds {written} rows, schema.json says {table.row_count}")
        if table.primary_key:
            cursor.execute(_add_primary_key(schema, table))
    return written


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _one_line(error: BaseException) -> str:
    if isinstance(error, psycopg.Error):
        return describe_error(error)
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _restore_tables(uri: str, schema: str, specs: tuple[list[TypeSpec], list[_TableSpec]], raw_dir: Path,
                    contents: Manifest) -> dict[str, int]:
    counts: dict[str, int] = {}
    current = "(schema)"
    recorded_types, tables = specs
    try:
        with connect(uri, application_name="bravo-pipeline restore", autocommit=True) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            conn.execute("SET DateStyle = 'ISO'")
            with_typmod = conn.info.server_version >= 170000
            create_types(conn, recorded_types, lambda text: _server_rendering(conn, text, with_typmod))
            types = resolve_types(conn, tables)
            with conn.transaction():
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                for table in tables:
                    current = printable(table.name)
                    conn.execute(_create_table(schema, table, types))
            for table in tables:
                current = printable(table.name)
                filename = table_filename(table.name)
                expected = expected_digest(contents, filename, str(raw_dir / filename))
                counts[table.name] = _load_table(conn, schema, table, raw_dir / filename, expected)
                checkpoint("restore:table-loaded")
    except RestoreError:
        raise
    except TypeSpecError as error:
        raise RestoreError(str(error)) from None
    except Exception as error:
        raise RestoreError(f"table {current}: {_one_line(error)}") from None
    return counts


def restore_postgres_from_raw(
    admin_uri: str, raw_dir: Path, database: str, schema: str = "media_tool"
) -> dict[str, int]:
    """Create `database` and load the raw export at `raw_dir` into `schema`; rows per table.

    Every file is checked against the export's summary as it streams. Refuses an
    existing database; the new one appears only once complete (source/databases.py),
    and a RestoreError names the table at fault.
    """
    try:
        _, contents = load_manifest(raw_dir, "raw")
        specs = read_schema(raw_dir, contents)
    except IntegrityError as error:
        raise RestoreError(f"restore into {database} refused: {error}") from None
    counts: dict[str, int] = {}

    def build(uri: str) -> None:
        counts.update(_restore_tables(uri, schema, specs, raw_dir, contents))

    try:
        build_database(admin_uri, database, build, template="template0")
    except (RestoreError, SourceError) as error:
        raise RestoreError(f"restore into {database} failed: {error}") from None
    return counts
