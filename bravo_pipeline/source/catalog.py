"""What the source holds: tables, columns, types, primary keys (read from pg_catalog)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from bravo_pipeline.source.connection import SourceError
from bravo_pipeline.source.tables import KNOWN_TABLES


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type(), e.g. "numeric(18,6)", "uuid[]", "timestamp without time zone"
    base_type: str  # the element type name for arrays, else the type name: "numeric", "uuid"
    is_array: bool
    nullable: bool
    default: str | None

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "type": self.type, "nullable": self.nullable, "default": self.default}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]


_TABLES_SQL = """
SELECT c.oid, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""

_COLUMNS_SQL = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod),
       CASE WHEN t.typcategory = 'A' THEN et.typname ELSE t.typname END,
       t.typcategory = 'A', NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_PRIMARY_KEYS_SQL = """
SELECT i.indrelid, a.attname
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisprimary AND i.indrelid = ANY(%s)
ORDER BY i.indrelid, k.position
"""


def read_catalog(conn: psycopg.Connection, schema: str) -> list[Table]:
    """Every table of `schema`, in name order. Raises SourceError when the schema is missing."""
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    if exists is None:
        raise SourceError(f"schema {schema!r} does not exist in the source database")
    relations = conn.execute(_TABLES_SQL, [schema]).fetchall()
    oids = [oid for oid, _ in relations]
    columns: dict[int, list[Column]] = {oid: [] for oid in oids}
    for oid, name, type_, base, is_array, nullable, default in conn.execute(_COLUMNS_SQL, [oids]):
        columns[oid].append(Column(name, type_, base, is_array, nullable, default))
    keys: dict[int, list[str]] = {oid: [] for oid in oids}
    for oid, name in conn.execute(_PRIMARY_KEYS_SQL, [oids]):
        keys[oid].append(name)
    return [Table(name, tuple(columns[oid]), tuple(keys[oid])) for oid, name in relations]


def split_known(tables: list[Table]) -> tuple[list[Table], list[str]]:
    """All tables to export, and the names of the extra (unknown) ones.

    Raises SourceError naming the known tables that are missing.
    """
    present = {table.name for table in tables}
    missing = [name for name in KNOWN_TABLES if name not in present]
    if missing:
        raise SourceError(f"table(s) missing in the source: {', '.join(missing)}")
    extra = sorted(present - set(KNOWN_TABLES))
    return tables, extra
