"""Every column type's JSON form, against values written by hand."""

import json
from pathlib import Path

import psycopg

from bravo_pipeline.source.catalog import read_catalog
from bravo_pipeline.source.raw_export import stream_table

CREATE = r"""
CREATE SCHEMA src;
CREATE TABLE src.typed (
    id numeric PRIMARY KEY,
    m money, n numeric(18,6), i int, s smallint, b bigint, flag bool,
    ts timestamp, tz timestamptz, d date, r real, f double precision,
    u uuid, t text, bin bytea, j json, jb jsonb,
    ints int[], uuids uuid[], texts text[], nums numeric[]
);
INSERT INTO src.typed VALUES
 (10, '-0.01', 1234567.890000, 7, -3, 9007199254740993, true,
  '2025-03-01 05:00:00.123456', '2025-03-01 05:00:00.5+02', '2025-01-02', 1.5, 0.1,
  '0b6e3d1a-0000-4000-8000-000000000001', E'Caf\u00e9 "q" \\ back\nline \u65e5\u672c \U0001F600',
  '\x00ff10', '{ "a" :
  [1, 2] }', '{"nested": {"k": [1, null, "x"]}}',
  '{1,NULL,3}', '{0b6e3d1a-0000-4000-8000-000000000002,NULL}', '{"a b",NULL,""}', '{1.50,NULL}'),
 (9, 1234567.89, 0, NULL, NULL, NULL, false,
  '2025-03-01 05:00:00', NULL, NULL, NULL, NULL,
  NULL, '', NULL, NULL, '[]', '{}', '{}', '{}', NULL),
 (100, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE src.nokey (a int, j json);
INSERT INTO src.nokey VALUES (2, '{"z":1}'), (1, NULL), (2, '{"a":1}');
CREATE TABLE src.empty (id int PRIMARY KEY);
"""

EXPECTED_ROWS = [
    {"id": "9", "m": "1234567.89", "n": "0.000000", "i": None, "s": None, "b": None, "flag": False,
     "ts": "2025-03-01T05:00:00Z", "tz": None, "d": None, "r": None, "f": None,
     "u": None, "t": "", "bin": None, "j": None, "jb": [], "ints": [], "uuids": [], "texts": [],
     "nums": None},
    {"id": "10", "m": "-0.01", "n": "1234567.890000", "i": 7, "s": -3, "b": 9007199254740993,
     "flag": True, "ts": "2025-03-01T05:00:00.123456Z", "tz": "2025-03-01T03:00:00.5Z",
     "d": "2025-01-02", "r": 1.5, "f": 0.1,
     "u": "0b6e3d1a-0000-4000-8000-000000000001", "t": 'Café "q" \\ back\nline 日本 😀',
     "bin": "AP8Q", "j": {"a": [1, 2]}, "jb": {"nested": {"k": [1, None, "x"]}},
     "ints": [1, None, 3], "uuids": ["0b6e3d1a-0000-4000-8000-000000000002", None],
     "texts": ["a b", None, ""], "nums": ["1.50", None]},
    {"id": "100", **{key: None for key in
     ["m", "n", "i", "s", "b", "flag", "ts", "tz", "d", "r", "f", "u", "t", "bin", "j", "jb",
      "ints", "uuids", "texts", "nums"]}},
]


def _export(uri: str, table_name: str, path: Path):
    with psycopg.connect(uri, autocommit=True) as conn:
        [table] = [t for t in read_catalog(conn, "src") if t.name == table_name]
        with conn.cursor() as cursor:
            return stream_table(cursor, "src", table, path)


def test_every_type_maps_to_the_spec_form(fresh_database: str, tmp_path: Path) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(CREATE)
    result = _export(fresh_database, "typed", tmp_path / "typed.json")
    text = (tmp_path / "typed.json").read_text(encoding="utf-8")
    lines = text.split("\n")
    assert lines[0] == "[" and lines[-2] == "]" and lines[-1] == ""
    assert all(line.endswith("},") for line in lines[1:-3]) and lines[-3].endswith("}")
    rows = json.loads(text)
    assert rows == EXPECTED_ROWS
    assert list(rows[1]) == list(EXPECTED_ROWS[1])  # column order kept
    assert result.count == 3 and result.size == len(text.encode())
    # exact decimal text, never a float, and no locale formatting of money
    assert '"m":"1234567.89"' in text and "$" not in text


def test_no_primary_key_orders_by_all_columns_and_empty_is_brackets(
    fresh_database: str, tmp_path: Path
) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(CREATE)
    _export(fresh_database, "nokey", tmp_path / "nokey.json")
    assert json.loads((tmp_path / "nokey.json").read_text()) == [
        {"a": 1, "j": None}, {"a": 2, "j": {"a": 1}}, {"a": 2, "j": {"z": 1}}
    ]
    empty = _export(fresh_database, "empty", tmp_path / "empty.json")
    assert (tmp_path / "empty.json").read_text() == "[]\n" and empty.count == 0


def test_timestamp_arrays_are_utc_z_element_by_element(fresh_database: str, tmp_path: Path) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA src")
        conn.execute("CREATE TABLE src.stamps (id int PRIMARY KEY, ta timestamp[], tza timestamptz[])")
        conn.execute("INSERT INTO src.stamps VALUES (1, '{2025-03-01 05:00:00.5,NULL}', "
                     "'{2025-03-01 05:00:00+02}'), (2, '{}', NULL)")
    _export(fresh_database, "stamps", tmp_path / "stamps.json")
    assert json.loads((tmp_path / "stamps.json").read_text()) == [
        {"id": 1, "ta": ["2025-03-01T05:00:00.5Z", None], "tza": ["2025-03-01T03:00:00Z"]},
        {"id": 2, "ta": [], "tza": None},
    ]
