"""Restore a raw export into a new PostgreSQL database, then export it again: same bytes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bravo_pipeline.archive.pg_restore_json import (
    JsonNumber,
    RestoreError,
    converter_for,
    json_text,
    parse_row,
    restore_postgres_from_raw,
)
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.source.databases import drop_database
from bravo_pipeline.source.raw_export import export_raw
from bravo_pipeline.uris import with_database
from bravo_pipeline_tests.archive.conftest import EXPORT_TS
from bravo_pipeline_tests.conftest import refresh_summary

TS = EXPORT_TS


def _database_exists(admin_uri: str, name: str) -> bool:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


@pytest.fixture
def target_database(admin_uri: str, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "restore_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:40]
    drop_database(admin_uri, name)
    yield name
    drop_database(admin_uri, name)


def test_converters_keep_exact_values() -> None:
    assert converter_for("timestamp without time zone")("2025-03-01T05:00:00.123456Z") == (
        "2025-03-01T05:00:00.123456"
    )
    convert = converter_for("timestamp(3) without time zone")
    assert convert("2025-03-01T05:00:00.1Z") == "2025-03-01T05:00:00.1"
    assert converter_for("timestamp with time zone")("2025-03-01T05:00:00Z") == "2025-03-01T05:00:00Z"
    assert converter_for("timestamp without time zone")("-0043-03-15T10:00:00.25Z") == "0044-03-15T10:00:00.25 BC"
    assert converter_for("timestamp with time zone")("+0000-01-01T00:00:00Z") == "0001-01-01T00:00:00Z BC"
    assert converter_for("timestamp with time zone")("+10000-01-01T00:00:00Z") == "10000-01-01T00:00:00Z"
    assert converter_for("timestamp without time zone")("infinity") == "infinity"
    assert converter_for("timestamp without time zone[]")(["-infinity", None]) == '{"-infinity",NULL}'
    assert converter_for("bytea")("AAEC/w==") == b"\x00\x01\x02\xff"
    assert converter_for("bytea")(None) is None
    assert converter_for("money")("-0.01") == "-0.01"
    row = parse_row(b'{"a": -0, "b": 0.1000000000000000055511151231257827, "c": [1e400, null, "x"]}')
    assert row["a"] == "-0" and isinstance(row["a"], JsonNumber)
    assert converter_for("jsonb")(row) == (
        '{"a":-0,"b":0.1000000000000000055511151231257827,"c":[1e400,null,"x"]}'
    )
    assert converter_for("jsonb")(None) is None
    assert converter_for("integer[]")([[JsonNumber("1"), None], []]) == '{{"1",NULL},{}}'
    assert converter_for("text[]")(['a"b\\c', "NULL", None]) == '{"a\\"b\\\\c","NULL",NULL}'
    assert converter_for("boolean[]")([True, False]) == '{"t","f"}'
    assert converter_for("jsonb[]")([{"x": "é"}, [1], None]) == '{"{\\"x\\":\\"é\\"}","[1]",NULL}'
    assert json_text("a\nb") == '"a\\nb"'


def test_restore_then_export_gives_identical_files(
    source_exports: ExportsLayout, admin_uri: str, target_database: str, tmp_path: Path
) -> None:
    raw_dir = source_exports.stage_dir("raw", TS)
    counts = restore_postgres_from_raw(admin_uri, raw_dir, target_database)
    summary = json.loads((raw_dir / "export-summary.json").read_text())
    assert counts == {name: entry["count"] for name, entry in summary["tables"].items()}

    again = tmp_path / "again"
    again.mkdir()
    export_raw(
        with_database(admin_uri, target_database),
        "media_tool",
        again,
        TS,
        source={"kind": "demo", "dump": None},
    )
    for name, entry in summary["tables"].items():
        assert (again / entry["filename"]).read_bytes() == (raw_dir / entry["filename"]).read_bytes(), name
    original = json.loads((raw_dir / "schema.json").read_text())
    restored = json.loads((again / "schema.json").read_text())
    assert restored["tables"] == original["tables"]
    assert restored["database"] == target_database


EXOTIC_TABLE = """
CREATE TABLE media_tool.exotic (
  id integer PRIMARY KEY, b bytea, j json, jb jsonb, tz timestamptz, ts timestamp(3), r real,
  d double precision, n numeric, m money, ta timestamp[], tza timestamptz[], ba bytea[], ja jsonb[],
  na numeric[], fa float8[], t text, iv interval, tm time, dt date, bo boolean, ia integer[][],
  vc varchar(5) NOT NULL
)
"""
EXOTIC_ROWS = """
INSERT INTO media_tool.exotic VALUES
 (1, '\\x00ff0a5c'::bytea, '{"b": 1.10, "a": [1e400, null, "\\u00e9\\n"]}',
  '{"z": 0.1000000000000000055511151231257827}',
  '2025-03-01 05:00:00.123456+02', '2025-03-01 05:00:00.123', 1.1, 0.30000000000000004, 'NaN', -1234567.89,
  ARRAY['2025-01-01 00:00:00.5'::timestamp, NULL], ARRAY['2025-01-01 00:00:00+00'::timestamptz],
  ARRAY['\\x00'::bytea, NULL], ARRAY['{"x": [1, 2.50]}'::jsonb, NULL], ARRAY[1.50, NULL, 'NaN']::numeric[],
  ARRAY['Infinity', '-0', 1e-300]::float8[], E'tab\there\\back\nnew "q" é 🚀', '1 day 02:03:04.5',
  '23:59:59.999999', '0044-03-15 BC', true, '{{1,2},{3,NULL}}', 'abc'),
 (2, NULL, NULL, 'null', NULL, NULL, 'Infinity', '-Infinity', 12.500, NULL, '{}', NULL, '{}', '{}', '{}',
  '{}', '', NULL, NULL, NULL, NULL, '{}', '')
"""


def _export_restore_export(
    source_exports: ExportsLayout, admin_uri: str, target_database: str, tmp_path: Path, *statements: str
) -> tuple[Path, Path, dict[str, int]]:
    """The demo plus `statements`, exported; that export restored and exported again: (first, second, counts)."""
    restore_postgres_from_raw(admin_uri, source_exports.stage_dir("raw", TS), target_database)
    with psycopg.connect(with_database(admin_uri, target_database), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    source = {"kind": "demo", "dump": None}
    export_raw(with_database(admin_uri, target_database), "media_tool", first, TS, source=source)
    again = target_database + "_2"
    drop_database(admin_uri, again)
    try:
        counts = restore_postgres_from_raw(admin_uri, first, again)
        export_raw(with_database(admin_uri, again), "media_tool", second, TS, source=source)
    finally:
        drop_database(admin_uri, again)
    return first, second, counts


def test_unusual_types_survive_restore_and_export(
    source_exports: ExportsLayout, admin_uri: str, target_database: str, tmp_path: Path
) -> None:
    first, second, counts = _export_restore_export(source_exports, admin_uri, target_database, tmp_path,
                                                   EXOTIC_TABLE, EXOTIC_ROWS)
    assert counts["exotic"] == 2
    assert (second / "exotic.json").read_bytes() == (first / "exotic.json").read_bytes()
    for path in first.glob("*.json"):
        if path.name not in ("export-summary.json", "schema.json"):
            assert (second / path.name).read_bytes() == path.read_bytes(), path.name
    schema_first = json.loads((first / "schema.json").read_text())
    schema_second = json.loads((second / "schema.json").read_text())
    assert schema_second["tables"] == schema_first["tables"]


SPECIAL_TIMES = """
CREATE TABLE media_tool.special_times (id integer PRIMARY KEY, ts timestamp, tz timestamptz, ta timestamp[]);
INSERT INTO media_tool.special_times VALUES
 (1, 'infinity', 'infinity', ARRAY['-infinity'::timestamp, NULL]),
 (2, '-infinity', '-infinity', '{}'),
 (3, '0001-01-01 00:00:00 BC', '0001-01-01 00:00:00+00 BC', ARRAY['0044-03-15 10:00:00.25 BC'::timestamp]),
 (4, '0044-03-15 10:00:00.25 BC', '0002-06-01 12:00:00+00 BC', NULL),
 (5, '10000-01-01 00:00:00', '12345-06-07 08:09:10.5+00', ARRAY['10000-01-01'::timestamp]),
 (6, '0001-01-01 00:00:00', '9999-12-31 23:59:59.999999+00', ARRAY['2025-01-01 00:00:00.5'::timestamp]);
"""
SPECIAL_TIMES_JSON = [
    {"id": 1, "ts": "infinity", "tz": "infinity", "ta": ["-infinity", None]},
    {"id": 2, "ts": "-infinity", "tz": "-infinity", "ta": []},
    {"id": 3, "ts": "+0000-01-01T00:00:00Z", "tz": "+0000-01-01T00:00:00Z", "ta": ["-0043-03-15T10:00:00.25Z"]},
    {"id": 4, "ts": "-0043-03-15T10:00:00.25Z", "tz": "-0001-06-01T12:00:00Z", "ta": None},
    {"id": 5, "ts": "+10000-01-01T00:00:00Z", "tz": "+12345-06-07T08:09:10.5Z", "ta": ["+10000-01-01T00:00:00Z"]},
    {"id": 6, "ts": "0001-01-01T00:00:00Z", "tz": "9999-12-31T23:59:59.999999Z", "ta": ["2025-01-01T00:00:00.5Z"]},
]


def test_special_timestamps_have_one_json_form_and_round_trip(
    source_exports: ExportsLayout, admin_uri: str, target_database: str, tmp_path: Path
) -> None:
    first, second, counts = _export_restore_export(source_exports, admin_uri, target_database, tmp_path,
                                                   SPECIAL_TIMES)
    assert json.loads((first / "special_times.json").read_text()) == SPECIAL_TIMES_JSON
    assert counts["special_times"] == 6
    assert (second / "special_times.json").read_bytes() == (first / "special_times.json").read_bytes()


def _corrupt(raw_dir: Path, tmp_path: Path, table: str, edit: str) -> Path:
    copy = tmp_path / "raw"
    shutil.copytree(raw_dir, copy)
    path = copy / f"{table}.json"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if edit == "bad boolean":
        row = json.loads(lines[2].rstrip().removesuffix(","))
        row["is_deleted"] = "maybe"
        lines[2] = json.dumps(row) + ",\n"
    else:
        lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    refresh_summary(copy)  # bad data that the summary describes: the failure comes from PostgreSQL
    return copy


@pytest.mark.parametrize("edit", ["bad boolean", "truncated line"])
def test_failure_drops_the_half_restored_database(
    source_exports: ExportsLayout, admin_uri: str, target_database: str, tmp_path: Path, edit: str
) -> None:
    raw_dir = _corrupt(source_exports.stage_dir("raw", TS), tmp_path, "campaigns", edit)
    with pytest.raises(RestoreError) as caught:
        restore_postgres_from_raw(admin_uri, raw_dir, target_database)
    message = str(caught.value)
    assert "\n" not in message and "table campaigns" in message and target_database in message
    assert not _database_exists(admin_uri, target_database)


def test_existing_database_is_refused_and_kept(
    source_exports: ExportsLayout, admin_uri: str, target_database: str
) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{target_database}"')
    with pytest.raises(RestoreError, match=f"database {target_database} already exists"):
        restore_postgres_from_raw(admin_uri, source_exports.stage_dir("raw", TS), target_database)
    assert _database_exists(admin_uri, target_database)


OWN_TYPES = [
    "CREATE EXTENSION vector SCHEMA media_tool",
    "CREATE EXTENSION citext",
    "CREATE TYPE media_tool.mood AS ENUM ('sad', 'ok', 'happy, \"quoted\"')",
    "ALTER TYPE media_tool.mood ADD VALUE 'meh' BEFORE 'ok'",  # sort order is not creation order
    "CREATE DOMAIN media_tool.year AS integer CHECK (VALUE >= 1900 AND VALUE <= 2100)",
    "CREATE DOMAIN media_tool.recent_year AS media_tool.year NOT NULL DEFAULT 2025 "
    "CONSTRAINT after_2000 CHECK (VALUE > 2000)",
    "CREATE DOMAIN media_tool.code AS varchar(8) CHECK (VALUE ~ '^[A-Z]+$')",
    "CREATE DOMAIN media_tool.amount AS numeric(12,2)",
    "CREATE DOMAIN media_tool.moment AS timestamp(3)",
    """CREATE TABLE media_tool.typed (id integer PRIMARY KEY, mood media_tool.mood, moods media_tool.mood[],
       y media_tool.year, r media_tool.recent_year, c media_tool.code, e media_tool.vector(3), ci citext,
       a media_tool.amount, m media_tool.moment)""",
    """INSERT INTO media_tool.typed VALUES
       (1, 'meh', ARRAY['sad', 'happy, "quoted"']::media_tool.mood[], 1999, 2024, 'ABC', '[1,2.5,-3]', 'MiXeD',
        1234567890.10, '2025-03-01 05:00:00.5'),
       (2, NULL, '{}', NULL, 2001, NULL, NULL, NULL, NULL, NULL)""",
]


def _types_by_name(raw_dir: Path) -> dict[str, dict]:
    return {entry["name"]: entry for entry in json.loads((raw_dir / "schema.json").read_text())["types"]}


def test_enums_domains_and_extension_types_are_recorded_and_recreated(
    source_exports: ExportsLayout, admin_uri: str, target_database: str, tmp_path: Path
) -> None:
    first, second, counts = _export_restore_export(source_exports, admin_uri, target_database, tmp_path,
                                                   *OWN_TYPES)
    types = _types_by_name(first)
    assert list(types) == ["citext", "media_tool.amount", "media_tool.code", "media_tool.moment",
                           "media_tool.mood", "media_tool.vector", "media_tool.year",
                           "media_tool.recent_year"]  # a domain after its base
    assert types["media_tool.mood"]["labels"] == ["sad", "meh", "ok", 'happy, "quoted"']
    assert types["media_tool.vector"] | {"version": "v"} == {
        "name": "media_tool.vector", "schema": "media_tool", "typeName": "vector", "kind": "extension",
        "extension": "vector", "version": "v", "extensionSchema": "media_tool"}
    assert types["media_tool.recent_year"] == {
        "name": "media_tool.recent_year", "schema": "media_tool", "typeName": "recent_year", "kind": "domain",
        "baseType": "media_tool.year", "notNull": True, "default": "2025",
        "constraints": [{"name": "after_2000", "definition": "CHECK (((VALUE)::integer > 2000))"}]}
    assert types["media_tool.code"]["baseType"] == "character varying(8)"
    assert counts["typed"] == 2
    assert _types_by_name(second) == types | {"media_tool.recent_year": {  # defaults are not restored
        **types["media_tool.recent_year"], "default": None}}
    for path in first.glob("*.json"):
        if path.name not in ("export-summary.json", "schema.json"):
            assert (second / path.name).read_bytes() == path.read_bytes(), path.name
    assert json.loads((first / "typed.json").read_text())[0] == {
        "id": 1, "mood": "meh", "moods": ["sad", 'happy, "quoted"'], "y": 1999, "r": 2024, "c": "ABC",
        "e": "[1,2.5,-3]", "ci": "MiXeD", "a": 1234567890.10, "m": "2025-03-01T05:00:00.5"}
    assert b'"a":1234567890.10,' in (first / "typed.json").read_bytes()  # the exact text


def _crafted_types(raw_dir: Path, tmp_path: Path, entries: list[dict]) -> Path:
    """A copy of the raw export whose schema.json records `entries` as its types, summary resealed."""
    crafted = Path(shutil.copytree(raw_dir, tmp_path / "crafted"))
    schema = json.loads((crafted / "schema.json").read_text())
    schema["types"] = entries
    (crafted / "schema.json").write_text(json.dumps(schema))
    refresh_summary(crafted)
    return crafted


def _domain(definition: str, **extra: object) -> dict:
    return {"name": "media_tool.evil", "schema": "media_tool", "typeName": "evil", "kind": "domain",
            "baseType": "integer", "notNull": False, "default": None,
            "constraints": [{"name": "c", "definition": definition}], **extra}


@pytest.mark.parametrize(("entry", "message"), [
    (_domain("CHECK ((VALUE > 0)); CREATE ROLE intruder SUPERUSER; --"), "multiple commands"),
    (_domain("CHECK ((pg_sleep(0) IS NOT NULL))"), "restored row (pg_sleep(double precision))"),
    (_domain("CHECK ((VALUE > 0)) DEFAULT 1"), "reads its definition otherwise"),
    (_domain("NOT NULL"), "is not a CHECK"),
    ({"name": "x", "schema": "media_tool", "typeName": "x", "kind": "extension", "extension": "dblink",
      "version": "1.2", "extensionSchema": "media_tool"}, "type x is not a type of extension dblink"),
    ({"name": "v", "schema": "public", "typeName": "vector", "kind": "extension", "extension": "vector",
      "version": "0.0.1", "extensionSchema": "public"}, "extension vector 0.0.1 is not available"),
    ({"name": "media_tool.pair", "schema": "media_tool", "typeName": "pair", "kind": "composite"},
     "type media_tool.pair is a composite type, which restore --postgres cannot recreate"),
])
def test_a_crafted_type_is_refused_and_nothing_is_left(
    source_exports: ExportsLayout, admin_uri: str, target_database: str, tmp_path: Path,
    entry: dict, message: str
) -> None:
    crafted = _crafted_types(source_exports.stage_dir("raw", TS), tmp_path, [entry])
    with pytest.raises(RestoreError, match=r"^(restore into \S+ failed: |schema\.json: )type ") as caught:
        restore_postgres_from_raw(admin_uri, crafted, target_database)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not _database_exists(admin_uri, target_database)
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'intruder'").fetchone() is None
