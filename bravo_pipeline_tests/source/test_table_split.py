"""A table cut into key ranges across workers comes out byte for byte as one stream writes it."""

import io
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from bravo_pipeline.source import raw_export
from bravo_pipeline.source.catalog import Column, Table, read_catalog
from bravo_pipeline.source.connection import SourceError
from bravo_pipeline.source.raw_export import TableFile, copy_rows, export_raw, stream_piece, stream_table
from bravo_pipeline.source.table_split import Piece, PieceFile, TableJoin, join_pieces, plan_pieces, table_sizes

TS = "20250622-072114"

# Keys a careless split would get wrong: text needing quotes and backslashes in a literal, an
# order that is not byte order (citext), composite keys, timestamps, and a hostile table name.
HOSTILE = r"""
CREATE EXTENSION citext;
CREATE TABLE media_tool."big; DROP TABLE x --" (
    name citext NOT NULL, n int NOT NULL, at timestamptz, note text,
    PRIMARY KEY (name, n));
INSERT INTO media_tool."big; DROP TABLE x --"
SELECT (ARRAY['O''Brien', 'back\slash', 'Ärger', 'apple', 'Zebra', 'zebra', E'new\nline', '日本'])[1 + g % 8]
       || (g % 97)::text, g, timestamptz '2025-01-01 00:00:00.5+02' + g * interval '1 minute',
       (SELECT string_agg(md5((g * k)::text), '') FROM generate_series(1, g % 60) AS k)
FROM generate_series(1, 6000) AS g;
CREATE TABLE media_tool.stamps (at timestamptz PRIMARY KEY, v numeric);
INSERT INTO media_tool.stamps SELECT timestamptz '1999-12-31 23:59:59.999999+00' + g * interval '1.5 seconds', g / 7.0
FROM generate_series(1, 5000) AS g;
CREATE TABLE media_tool.nokey (a int);
INSERT INTO media_tool.nokey SELECT g % 10 FROM generate_series(1, 3000) AS g;
"""


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.name != "export-summary.json"}


def _export(uri: str, schema: str, folder: Path, workers: int, min_split_bytes: int = 0) -> dict[str, object]:
    folder.mkdir(parents=True)
    result = export_raw(uri, schema, folder, TS, source={"kind": "live", "dump": None}, workers=workers,
                        min_split_bytes=min_split_bytes)
    return result.summary


@pytest.fixture
def hostile_source(demo_copy: str) -> str:
    """A copy of the demo source with extra tables whose keys are hard to cut."""
    with psycopg.connect(demo_copy, autocommit=True) as conn:
        conn.execute(HOSTILE)
        conn.execute("ANALYZE")
    return demo_copy


def test_split_tables_are_byte_identical_to_one_stream(hostile_source: str, tmp_path: Path) -> None:
    with psycopg.connect(hostile_source) as conn:
        big = next(t for t in read_catalog(conn, "media_tool") if t.name == "big; DROP TABLE x --")
        tables = read_catalog(conn, "media_tool")
        sizes = table_sizes(conn, "media_tool")
        pieces = plan_pieces(conn, "media_tool", tables, sizes, 3, 0)
    assert [p.parts for p in pieces if p.table == big] == [3, 3, 3]  # it really is cut in three
    one = _export(hostile_source, "media_tool", tmp_path / "one", workers=1)
    three = _export(hostile_source, "media_tool", tmp_path / "three", workers=3)
    assert _files(tmp_path / "three") == _files(tmp_path / "one")  # no part file left behind either
    assert three["tables"] == one["tables"]  # counts, sizes and sha256 of what is on disk
    assert three["tables"]["big; DROP TABLE x --"]["count"] == 6000
    with psycopg.connect(hostile_source) as conn:
        assert conn.execute("SELECT to_regclass('x')").fetchone()[0] is None


def test_the_demo_source_split_across_two_workers_matches_one_worker(demo_uri: str, tmp_path: Path) -> None:
    with psycopg.connect(demo_uri) as conn:
        tables = read_catalog(conn, "media_tool")
        sizes = table_sizes(conn, "media_tool")
        split = {p.table.name for p in plan_pieces(conn, "media_tool", tables, sizes, 2, 0) if p.parts > 1}
    assert split  # the biggest table holds more than half of the bytes
    one = _export(demo_uri, "media_tool", tmp_path / "one", workers=1)
    two = _export(demo_uri, "media_tool", tmp_path / "two", workers=2)
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    assert two["tables"] == one["tables"]


def _whole_and_pieces(database: str, tmp_path: Path, rows: int, cuts: list[tuple[str, ...]],
                      order: tuple[int, ...]) -> tuple[TableFile, Path, list[PieceFile]]:
    """A table `src.t` of `rows` rows streamed whole, and cut at `cuts` streamed in `order`."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA src; CREATE TABLE src.t (id int PRIMARY KEY, v text);"
                     f"INSERT INTO src.t SELECT g, 'v' || g FROM generate_series(1, {rows}) AS g")
        [table] = read_catalog(conn, "src")
        with conn.cursor() as cursor:
            whole = stream_table(cursor, "src", table, tmp_path / "whole.json")
            bounds = [None, *cuts, None]
            final = tmp_path / "t.json"
            parts = len(bounds) - 1
            pieces = [stream_piece(cursor, "src", Piece(table, i, parts, bounds[i], bounds[i + 1], 0), final)
                      for i in order]
    return whole, final, pieces


@pytest.mark.parametrize("cuts", [[("0",), ("0",)], [("0",), ("50",)], [("40",), ("9999",)],
                                  [("-5",), ("-1",)]], ids=["empty-first-two", "empty-first", "empty-last",
                                                            "all-but-last-empty"])
def test_empty_pieces_join_into_the_same_file(fresh_database: str, tmp_path: Path, cuts) -> None:
    whole, final, pieces = _whole_and_pieces(fresh_database, tmp_path, 80, cuts, (2, 0, 1))  # out of order
    rows, size, digest = join_pieces(final, pieces)
    assert final.read_bytes() == (tmp_path / "whole.json").read_bytes()
    assert (rows, size, digest) == (whole.count, whole.size, whole.sha256)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "whole.json"]


def test_a_table_with_no_rows_in_any_piece_is_an_empty_array(fresh_database: str, tmp_path: Path) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA src; CREATE TABLE src.t (id int PRIMARY KEY)")
        [table] = read_catalog(conn, "src")
        with conn.cursor() as cursor:
            pieces = [stream_piece(cursor, "src", Piece(table, i, 2, b[0], b[1], 0), tmp_path / "t.json")
                      for i, b in enumerate([(None, ("5",)), (("5",), None)])]
    assert join_pieces(tmp_path / "t.json", pieces)[0] == 0
    assert (tmp_path / "t.json").read_bytes() == b"[]\n"


class _MessagesCursor:
    """What psycopg's COPY hands over, but with message boundaries PostgreSQL itself never makes."""

    def __init__(self, messages: list[bytes]) -> None:
        self._messages = messages

    def copy(self, _query: object) -> "_MessagesCursor":
        return self

    def __enter__(self) -> list[memoryview]:
        return [memoryview(message) for message in self._messages]

    def __exit__(self, *_: object) -> None:
        return None


@pytest.mark.parametrize("messages", [[b'{"a":1}\n', b'{"a":2}\n{"a":3}\n', b'{"a":4}\n'],
                                      [b'{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}\n'],
                                      [b'{"a":1}\n{"a"', b':2}\n{', b'"a":3}\n{"a":4}', b'\n']],
                         ids=["two-in-one", "all-in-one", "split-rows"])
@pytest.mark.parametrize("flush_bytes", [1 << 20, 1, 5], ids=["one-block", "block-per-message", "mid-row"])
def test_rows_are_one_per_line_whatever_the_message_and_block_boundaries(
        messages: list[bytes], flush_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raw_export, "FLUSH_BYTES", flush_bytes)
    out = io.BytesIO()
    rows = copy_rows(_MessagesCursor(messages), sql.SQL(""), out, b"[\n", lambda: None)
    assert rows == 4
    assert out.getvalue() == b'[\n{"a":1},\n{"a":2},\n{"a":3},\n{"a":4}'


class _CountedMessagesCursor(_MessagesCursor):
    def __init__(self, messages: list[bytes], rowcount: int) -> None:
        super().__init__(messages)
        self.rowcount = rowcount


@pytest.mark.parametrize(("messages", "rowcount"), [([b'{"a":1}\n', b'{"a":2}\n'], 3),
                                                    ([b'{"a":"x\ny"}\n'], 1)],
                         ids=["a-row-lost", "a-raw-newline-in-a-row"])
def test_rows_written_must_be_the_rows_postgresql_sent(messages: list[bytes], rowcount: int,
                                                       tmp_path: Path) -> None:
    table = Table("spots", (Column("a", "integer", "integer", False, False, None),), ("a",))
    with pytest.raises(SourceError, match=f"table spots: PostgreSQL reported {rowcount} rows but"):
        stream_piece(_CountedMessagesCursor(messages, rowcount), "src", Piece.whole(table), tmp_path / "spots.json")


def test_the_join_follows_a_piece_that_is_still_being_written(fresh_database: str, tmp_path: Path) -> None:
    whole, final, (first, second) = _whole_and_pieces(fresh_database, tmp_path, 500, [("200",)], (0, 1))
    part = second.path
    content = part.read_bytes()
    half = len(content) // 2
    part.write_bytes(content[:half])  # as its worker has written it so far
    join = TableJoin(final, 2)
    join.finished(first)
    join.written[1] = half
    assert not join.advance(min_bytes=half + 1)  # not enough new bytes yet: nothing copied
    size_before = final.stat().st_size
    assert not join.advance(min_bytes=half)
    assert final.stat().st_size == size_before + 2 + half  # ",\n" and what was ready
    with part.open("ab") as handle:
        handle.write(content[half:])
    join.written[1] = len(content)
    join.finished(second)
    assert join.advance()
    join.close()
    assert final.read_bytes() == (tmp_path / "whole.json").read_bytes()
    assert join.result() == (whole.count, whole.size, whole.sha256)
    assert not part.exists()
