"""The types schema.json records, recreated on the target before any table that uses them.

An extension's type → `CREATE EXTENSION` of the recorded extension and version
(refused when the server does not offer that version), then the type must exist
and belong to it. An enum → its labels in order. A domain → its base type, NOT
NULL and CHECK constraints (its default is not restored, like column defaults).

Everything here comes from a file, so nothing becomes SQL text but a domain's
CHECK definitions, and those are held to three rules: the statement is sent as
one prepared statement (a second statement cannot ride along), the server's own
reading of the created domain must equal the record exactly (no clause can be
added), and no function the constraints call may be volatile (a check runs on
every restored row, so it must not be able to act: pg_sleep, set_config, dblink
and the like are refused; immutable and stable functions are read-only). A type of any other kind
(composite, range, a base type outside an extension) is refused with its name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from bravo_pipeline.names import UnsafeNameError, check_identifier, printable
from bravo_pipeline.source.catalog import domain_definition

MAX_TYPE_TEXT = 200
MAX_DEFINITION_TEXT = 2_000
MAX_LABEL_BYTES = 63  # NAMEDATALEN - 1


class TypeSpecError(ValueError):
    """A recorded type that cannot be recreated, worded for the user (one line)."""


@dataclass(frozen=True)
class TypeSpec:
    name: str  # format_type's rendering, as the columns name it: "media_tool.mood", "vector"
    schema: str
    type_name: str
    kind: str
    extension: str | None = None
    version: str | None = None
    extension_schema: str | None = None
    labels: tuple[str, ...] = ()
    base_type: str | None = None
    not_null: bool = False
    constraints: tuple[tuple[str, str], ...] = ()


def _text(entry: dict[str, Any], key: str, name: str, limit: int = MAX_TYPE_TEXT) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise TypeSpecError(f"type {printable(name)}: no usable {key}")
    return value


def _labels(entry: dict[str, Any], name: str) -> tuple[str, ...]:
    labels = entry.get("labels")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise TypeSpecError(f"type {printable(name)}: enum labels are not a list of strings")
    if len(set(labels)) != len(labels) or any(not label or len(label.encode()) > MAX_LABEL_BYTES
                                               for label in labels):
        raise TypeSpecError(f"type {printable(name)}: an enum label is empty, repeated or too long")
    return tuple(labels)


def _constraints(entry: dict[str, Any], name: str) -> tuple[tuple[str, str], ...]:
    items = entry.get("constraints") or []
    if not isinstance(items, list):
        raise TypeSpecError(f"type {printable(name)}: constraints are not a list")
    found = []
    for item in items:
        if not isinstance(item, dict):
            raise TypeSpecError(f"type {printable(name)}: a constraint is not an object")
        definition = _text(item, "definition", name, MAX_DEFINITION_TEXT)
        if not definition.startswith("CHECK ("):
            raise TypeSpecError(f"type {printable(name)}: constraint {printable(definition[:40])} is not a CHECK")
        found.append((check_identifier(item.get("name"), "constraint"), definition))
    return tuple(found)


def type_spec(entry: Any) -> TypeSpec:
    """One entry of schema.json's `types`, validated; TypeSpecError names what is wrong."""
    if not isinstance(entry, dict):
        raise TypeSpecError("a types entry is not an object")
    name = _text(entry, "name", "?")
    try:
        schema = check_identifier(entry.get("schema"), "schema")
        type_name = check_identifier(entry.get("typeName"), "type")
        kind = entry.get("kind")
        if kind == "extension":
            return TypeSpec(name, schema, type_name, kind,
                            extension=check_identifier(entry.get("extension"), "extension"),
                            version=_text(entry, "version", name, 64),
                            extension_schema=check_identifier(entry.get("extensionSchema"), "schema"))
        if kind == "enum":
            return TypeSpec(name, schema, type_name, kind, labels=_labels(entry, name))
        if kind == "domain":
            if not isinstance(entry.get("notNull"), bool):
                raise TypeSpecError(f"type {printable(name)}: no notNull flag")
            return TypeSpec(name, schema, type_name, kind, base_type=_text(entry, "baseType", name),
                            not_null=entry["notNull"], constraints=_constraints(entry, name))
    except UnsafeNameError as error:
        raise TypeSpecError(f"type {printable(name)}: {error}") from None
    raise TypeSpecError(f"type {printable(name)} is a {printable(str(kind))} type, which restore --postgres "
                        "cannot recreate (it recreates enums, domains and extension types)")


def read_type_specs(document: dict[str, Any]) -> list[TypeSpec]:
    types = document.get("types", [])
    if not isinstance(types, list):
        raise TypeSpecError("types is not a list")
    specs = [type_spec(entry) for entry in types]
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise TypeSpecError("a type is listed twice")
    return specs


# ---------------------------------------------------------------------------
# On the server
# ---------------------------------------------------------------------------


def _create_schema(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def _type_oid(conn: psycopg.Connection, spec: TypeSpec) -> int | None:
    row = conn.execute(
        "SELECT t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = %s AND t.typname = %s", [spec.schema, spec.type_name]
    ).fetchone()
    return row[0] if row else None


def _create_extension(conn: psycopg.Connection, spec: TypeSpec, created: set[str]) -> None:
    assert spec.extension and spec.version and spec.extension_schema
    if spec.extension not in created:
        offered = conn.execute(
            "SELECT 1 FROM pg_available_extension_versions WHERE name = %s AND version = %s",
            [spec.extension, spec.version],
        ).fetchone()
        if offered is None:
            raise TypeSpecError(f"type {printable(spec.name)}: extension {printable(spec.extension)} "
                                f"{printable(spec.version)} is not available on the target server")
        _create_schema(conn, spec.extension_schema)
        conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {} VERSION {}").format(
            sql.Identifier(spec.extension), sql.Identifier(spec.extension_schema), sql.Literal(spec.version)))
        created.add(spec.extension)
    member = conn.execute(
        "SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid "
        "WHERE d.classid = 'pg_type'::regclass AND d.objid = %s AND d.deptype = 'e' AND e.extname = %s",
        [_type_oid(conn, spec), spec.extension],
    ).fetchone()
    if member is None:
        raise TypeSpecError(f"type {printable(spec.name)} is not a type of extension {printable(spec.extension)}")


def _create_enum(conn: psycopg.Connection, spec: TypeSpec) -> None:
    conn.execute(sql.SQL("CREATE TYPE {}.{} AS ENUM ({})").format(
        sql.Identifier(spec.schema), sql.Identifier(spec.type_name),
        sql.SQL(", ").join(sql.Literal(label) for label in spec.labels)))


_CHECK_TREES_SQL = "SELECT conbin::text FROM pg_constraint WHERE contypid = %s AND contype = 'c'"
# In the stored expression tree: the functions called (FUNCEXPR) and the operators applied (OPEXPR,
# DISTINCTEXPR, NULLIFEXPR, SCALARARRAYOPEXPR); pg_depend does not list built-in ones.
_CALLED_FUNCTION = re.compile(r":(?:funcid|opfuncid) (\d+)")
_APPLIED_OPERATOR = re.compile(r":opno (\d+)")
_VOLATILE_SQL = """
SELECT p.oid::regprocedure::text FROM pg_proc p
WHERE p.provolatile = 'v' AND (p.oid = ANY(%(functions)s)
      OR p.oid IN (SELECT oprcode FROM pg_operator WHERE oid = ANY(%(operators)s)))
ORDER BY 1
"""


def _volatile_calls(conn: psycopg.Connection, trees: list[str]) -> list[str]:
    """The volatile functions (those that may have side effects) the expression trees call."""
    text = " ".join(trees)
    functions = sorted({int(oid) for oid in _CALLED_FUNCTION.findall(text)})
    operators = sorted({int(oid) for oid in _APPLIED_OPERATOR.findall(text)})
    return [name for (name,) in conn.execute(_VOLATILE_SQL, {"functions": functions, "operators": operators})]


def _create_domain(conn: psycopg.Connection, spec: TypeSpec, base: sql.Composable) -> None:
    parts: list[sql.Composable] = [sql.SQL("CREATE DOMAIN {}.{} AS {}").format(
        sql.Identifier(spec.schema), sql.Identifier(spec.type_name), base)]
    if spec.not_null:
        parts.append(sql.SQL("NOT NULL"))
    for name, definition in spec.constraints:
        parts.append(sql.SQL("CONSTRAINT {} {}").format(sql.Identifier(name), sql.SQL(definition)))
    try:
        conn.execute(sql.SQL(" ").join(parts), prepare=True)  # one prepared statement: nothing can ride along
    except psycopg.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TypeSpecError(f"type {printable(spec.name)}: {first}") from None
    oid = _type_oid(conn, spec)
    trees = [tree for (tree,) in conn.execute(_CHECK_TREES_SQL, [oid])]
    if side_effects := _volatile_calls(conn, trees):
        raise TypeSpecError(f"type {printable(spec.name)}: its constraints call volatile functions, which "
                            f"could act on every restored row ({', '.join(side_effects)})")
    recorded = {"baseType": spec.base_type, "notNull": spec.not_null, "default": None,  # defaults: not restored
                "constraints": [{"name": name, "definition": text} for name, text in spec.constraints]}
    if domain_definition(conn, oid) != recorded:
        raise TypeSpecError(f"type {printable(spec.name)}: the server reads its definition otherwise than "
                            "schema.json records it")


def create_types(conn: psycopg.Connection, specs: list[TypeSpec],
                 resolve: Callable[[str], str | None]) -> None:
    """Create every recorded type, in order, on an autocommit connection to the new database.

    `resolve(text)` is the server's rendering of a type text (None when it names
    none): a domain's base type must render exactly as recorded.
    """
    extensions: set[str] = set()
    for spec in specs:
        if spec.kind == "extension":
            _create_extension(conn, spec, extensions)
            continue
        _create_schema(conn, spec.schema)
        if spec.kind == "enum":
            _create_enum(conn, spec)
            continue
        assert spec.base_type is not None
        rendering = resolve(spec.base_type)
        if rendering != spec.base_type:
            raise TypeSpecError(f"type {printable(spec.name)}: base type {printable(spec.base_type)} is not a "
                                "type on the target server")
        _create_domain(conn, spec, sql.SQL(rendering))
    for spec in specs:
        if resolve(spec.name) != spec.name:
            raise TypeSpecError(f"type {printable(spec.name)} was created but the server names it otherwise")
