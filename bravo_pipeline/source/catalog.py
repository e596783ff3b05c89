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


# Every non-built-in type a column of the schema's tables uses: element types of arrays, and the
# base types of domains, recursively. The extension owning a type, if any, comes with it.
_USED_TYPES_SQL = """
WITH RECURSIVE used(oid) AS (
    SELECT CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid IN (
        SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition)
      AND a.attnum > 0 AND NOT a.attisdropped
    UNION
    SELECT CASE WHEN b.typcategory = 'A' AND b.typelem <> 0 THEN b.typelem ELSE b.oid END
    FROM used u JOIN pg_type t ON t.oid = u.oid JOIN pg_type b ON b.oid = t.typbasetype
    WHERE t.typtype = 'd'
)
SELECT t.oid, format_type(t.oid, NULL), n.nspname, t.typname, t.typtype,
       e.extname, e.extversion, en.nspname,
       CASE WHEN bt.typcategory = 'A' AND bt.typelem <> 0 THEN bt.typelem ELSE bt.oid END
FROM used u
JOIN pg_type t ON t.oid = u.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
LEFT JOIN pg_depend d ON d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
LEFT JOIN pg_extension e ON e.oid = d.refobjid
LEFT JOIN pg_namespace en ON en.oid = e.extnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
"""

_ENUM_LABELS_SQL = "SELECT enumlabel FROM pg_enum WHERE enumtypid = %s ORDER BY enumsortorder"

_DOMAIN_SQL = "SELECT format_type(typbasetype, typtypmod), typnotnull, typdefault FROM pg_type WHERE oid = %s"
_DOMAIN_CHECKS_SQL = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE contypid = %s AND contype = 'c' ORDER BY conname
"""

_KINDS = {"b": "base", "c": "composite", "d": "domain", "e": "enum", "m": "multirange", "p": "pseudo",
          "r": "range"}


def domain_definition(conn: psycopg.Connection, oid: int) -> dict[str, object]:
    """A domain as schema.json records it (and as restore checks the domain it created)."""
    base, not_null, default = conn.execute(_DOMAIN_SQL, [oid]).fetchone()
    checks = conn.execute(_DOMAIN_CHECKS_SQL, [oid]).fetchall()
    return {"baseType": base, "notNull": not_null, "default": default,
            "constraints": [{"name": name, "definition": text} for name, text in checks]}


def read_types(conn: psycopg.Connection, schema: str) -> list[dict[str, object]]:
    """Each non-built-in type the tables of `schema` use, as schema.json records it, in creation order.

    An extension's type: its extension, version and schema. An enum: its labels in
    order. A domain: its base type, NOT NULL, default and CHECK constraints. A
    domain comes after the types it is built on; otherwise the order is by name.
    """
    rows = conn.execute(_USED_TYPES_SQL, [schema]).fetchall()
    entries: dict[int, dict[str, object]] = {}
    bases: dict[int, int] = {}
    for oid, rendering, nspname, typname, typtype, extname, extversion, extschema, base_oid in rows:
        entry: dict[str, object] = {"name": rendering, "schema": nspname, "typeName": typname}
        if extname is not None:
            entry.update(kind="extension", extension=extname, version=extversion, extensionSchema=extschema)
        elif typtype == "e":
            entry.update(kind="enum", labels=[label for (label,) in conn.execute(_ENUM_LABELS_SQL, [oid])])
        elif typtype == "d":
            entry.update(kind="domain", **domain_definition(conn, oid))
            bases[oid] = base_oid
        else:
            entry.update(kind=_KINDS.get(typtype, typtype))
        entries[oid] = entry

    def depth(oid: int) -> int:
        return 1 + depth(bases[oid]) if oid in bases and bases[oid] in entries else 0

    return [entries[oid] for oid in sorted(entries, key=lambda oid: (depth(oid), str(entries[oid]["name"])))]


# What the schema's objects depend on outside it, followed through pg_depend: the types of its
# columns, the base types of its domains, the functions its defaults and constraints call.
# (pg_depend does not list built-in objects, so what is found is never PostgreSQL's own.)
_OUTSIDE_DEPENDENCIES_SQL = """
WITH RECURSIVE reach(classid, objid) AS (
    SELECT 'pg_class'::regclass::oid, c.oid FROM pg_class c WHERE c.relnamespace = %(ns)s
    UNION SELECT 'pg_type'::regclass::oid, t.oid FROM pg_type t WHERE t.typnamespace = %(ns)s
    UNION SELECT 'pg_proc'::regclass::oid, p.oid FROM pg_proc p WHERE p.pronamespace = %(ns)s
    UNION SELECT 'pg_attrdef'::regclass::oid, d.oid FROM pg_attrdef d
          JOIN pg_class c ON c.oid = d.adrelid WHERE c.relnamespace = %(ns)s
    UNION SELECT 'pg_constraint'::regclass::oid, k.oid FROM pg_constraint k WHERE k.connamespace = %(ns)s
    UNION
    SELECT d.refclassid, d.refobjid FROM reach r
    JOIN pg_depend d ON d.classid = r.classid AND d.objid = r.objid
    WHERE d.deptype IN ('n', 'a') AND d.refclassid IN ('pg_type'::regclass, 'pg_proc'::regclass)
)
SELECT DISTINCT e.extname, NULL FROM reach r
JOIN pg_depend d ON d.classid = r.classid AND d.objid = r.objid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid
UNION
SELECT DISTINCT NULL, n.nspname FROM reach r
LEFT JOIN pg_type t ON r.classid = 'pg_type'::regclass AND t.oid = r.objid
LEFT JOIN pg_proc p ON r.classid = 'pg_proc'::regclass AND p.oid = r.objid
JOIN pg_namespace n ON n.oid = coalesce(t.typnamespace, p.pronamespace)
WHERE n.oid <> %(ns)s AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = r.classid AND x.objid = r.objid
                  AND x.deptype = 'e')
"""


def outside_dependencies(conn: psycopg.Connection, schema: str) -> tuple[list[str], list[str]]:
    """The extensions, and the other schemas, whose objects the tables of `schema` need (sorted)."""
    row = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    if row is None:
        raise SourceError(f"schema {schema!r} does not exist in the source database")
    found = conn.execute(_OUTSIDE_DEPENDENCIES_SQL, {"ns": row[0]}).fetchall()
    return (sorted(name for name, _ in found if name is not None),
            sorted(name for _, name in found if name is not None))


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
