"""Split one big table into primary-key ranges that workers export side by side.

When one table holds most of the bytes, table-level workers cannot share the
work. Its rows are then cut at a few primary-key values, picked from a small
sample of the table's pages, into ranges `[lower, upper)` that each worker
streams in key order from the same snapshot. The pieces are then joined, in
key order, into the one file a single stream would have written, byte for byte.

Any cut values give the same file (only the balance depends on the sample):
the ranges cover every key exactly once because they are compared with the
table's own ordering. The cut values travel as text literals of unknown type,
so PostgreSQL parses them as the key column's type (and collation) itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import psycopg
from psycopg import sql

from bravo_pipeline.durable import EarlyWriteback
from bravo_pipeline.faults import checkpoint
from bravo_pipeline.hashing import HashingWriter
from bravo_pipeline.source.catalog import Table

SAMPLE_PAGES = 300  # pages read to choose the cut values: a few MB whatever the table size
MIN_SPLIT_BYTES = 64 << 20  # below this a table is not worth the extra pass that joins its pieces
_PAGE_BYTES = 8192
FIRST_PIECE_SHARE = 0.8  # measured on the dominant-table bench: 0.8 lets piece 0 end first

Key = tuple[str, ...]


@dataclass(frozen=True)
class Piece:
    """Rows of `table` with lower <= key < upper (None: unbounded), number `index` of `parts`."""

    table: Table
    index: int
    parts: int
    lower: Key | None
    upper: Key | None
    estimate: int  # bytes, for dealing pieces to workers

    @classmethod
    def whole(cls, table: Table) -> Piece:
        return cls(table, 0, 1, None, None, 0)

    def where(self) -> sql.Composable | None:
        conditions = []
        if self.lower is not None:
            conditions.append(_compare(self.table, ">=", self.lower))
        if self.upper is not None:
            conditions.append(_compare(self.table, "<", self.upper))
        return sql.SQL(" AND ").join(conditions) if conditions else None


@dataclass
class PieceFile:
    """What one piece wrote: piece 0 into the table's file (hashed), the others into their own files."""

    piece: Piece
    path: Path
    rows: int
    writer: HashingWriter | None  # piece 0 only: the hash so far, to go on with when joining
    started: float  # time.perf_counter() when its COPY began


def _key_columns(table: Table) -> sql.Composable:
    columns = [sql.Identifier("src", name) for name in table.primary_key]
    return columns[0] if len(columns) == 1 else sql.SQL("ROW({})").format(sql.SQL(", ").join(columns))


def _compare(table: Table, operator: str, key: Key) -> sql.Composable:
    literals = [sql.Literal(value) for value in key]
    bound = literals[0] if len(literals) == 1 else sql.SQL("ROW({})").format(sql.SQL(", ").join(literals))
    return sql.SQL("{} " + operator + " {}").format(_key_columns(table), bound)


def cut_keys(conn: psycopg.Connection, schema: str, table: Table, fractions: list[float]) -> list[Key]:
    """Increasing key values that cut a sample of the table at `fractions` (each in 0..1) of its rows."""
    pages = conn.execute(
        "SELECT pg_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s", [schema, table.name]).fetchone()
    percent = min(100.0, 100.0 * SAMPLE_PAGES * _PAGE_BYTES / max(_PAGE_BYTES, pages[0] if pages else 0))
    keys = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier("src", name))
                              for name in table.primary_key)
    order = sql.SQL(", ").join(sql.Identifier("src", name) for name in table.primary_key)
    sample = conn.execute(sql.SQL(
        "SELECT {} FROM {}.{} AS src TABLESAMPLE SYSTEM ({}) REPEATABLE (0) ORDER BY {}"
    ).format(keys, sql.Identifier(schema), sql.Identifier(table.name), sql.Literal(percent), order)).fetchall()
    cuts: list[Key] = []
    if len(sample) <= len(fractions):
        return cuts
    for fraction in fractions:
        key = tuple(sample[min(len(sample) - 1, int(len(sample) * fraction))])
        if not cuts or key != cuts[-1]:
            cuts.append(key)
    return cuts


def table_sizes(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    """Bytes on disk of every table of `schema`, TOAST and indexes included: how work is shared."""
    return dict(conn.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s", [schema]).fetchall())


def _cut_fractions(size: int, share: float, workers: int) -> list[float]:
    """Piece 0 (written straight into the table's file) takes less than one worker's share: its
    worker also hashes, and once it is done the join can follow the next piece while that is
    still being written (TableJoin). The rest is spread evenly over the other workers."""
    first = FIRST_PIECE_SHARE * share / size
    return [first + (1 - first) * number / (workers - 1) for number in range(workers - 1)]


def plan_pieces(conn: psycopg.Connection, schema: str, tables: list[Table], sizes: dict[str, int],
                workers: int, min_split_bytes: int = MIN_SPLIT_BYTES) -> list[Piece]:
    """Every table as one piece, except a table bigger than one worker's share: cut in up to `workers`."""
    share = sum(sizes.get(table.name, 0) for table in tables) / max(1, workers)
    pieces = []
    for table in tables:
        size = sizes.get(table.name, 0)
        fractions: list[float] = []
        cuts: list[Key] = []
        if workers > 1 and table.primary_key and size > share and size >= min_split_bytes:
            fractions = _cut_fractions(size, share, workers)
            cuts = cut_keys(conn, schema, table, fractions)
        bounds: list[Key | None] = [None, *cuts, None]
        parts = len(bounds) - 1
        ends = [0.0, *fractions, 1.0] if len(cuts) == len(fractions) else [i / parts for i in range(parts + 1)]
        pieces.extend(Piece(table, index, parts, bounds[index], bounds[index + 1],
                            int(size * (ends[index + 1] - ends[index])))
                      for index in range(parts))
    return pieces


def part_path(final: Path, index: int) -> Path:
    return final.with_name(f".{final.name}.part{index}")


class TableJoin:
    """Builds a split table's file while its pieces are still being written.

    Piece 0 streams straight into the table's file. Once it is done, the piece after it is
    appended from its part file as that grows (the bytes its worker has reported complete), so
    the copying overlaps the streaming and little is left to copy when the last piece ends;
    then the next piece, and so on, in key order. `advance` appends what it can without waiting."""

    def __init__(self, final: Path, parts: int) -> None:
        self.final = final
        self.parts = parts
        self.written = [0] * parts  # bytes of each part file that its worker has finished writing
        self._done: dict[int, PieceFile] = {}
        self._handle: BinaryIO | None = None
        self._writer: HashingWriter | None = None
        self._writeback: EarlyWriteback | None = None
        self._next = 1  # the piece being appended
        self._appended = 0  # bytes of that piece's part file already appended
        self._rows = 0
        self.complete = False

    def finished(self, item: PieceFile) -> None:
        self._done[item.piece.index] = item

    @property
    def pieces(self) -> list[PieceFile]:
        """The pieces finished so far."""
        return list(self._done.values())

    def advance(self, *, min_bytes: int = 0) -> bool:
        """Append what is complete (a growing part file once `min_bytes` more are ready); True
        when every piece is in and the table's file is closed."""
        if self.complete:
            return True
        if 0 not in self._done:
            return False
        writer = self._open()
        while self._next < self.parts:
            item = self._done.get(self._next)
            path = part_path(self.final, self._next)
            end = path.stat().st_size if item else self.written[self._next]
            if end > self._appended and (item or end - self._appended >= min_bytes):
                if not self._appended:
                    writer.write(b",\n" if self._rows else b"[\n")
                writer.append_file(path, self._appended, end)
                self._appended = end
                self._wrote()
            if item is None:
                return False
            self._rows += item.rows
            path.unlink()
            self._next, self._appended = self._next + 1, 0
        checkpoint("raw:joining")
        writer.write(b"\n]\n" if self._rows else b"[]\n")
        assert self._writeback is not None
        self._writeback.finish()
        self.close()
        self.complete = True
        return True

    def result(self) -> tuple[int, int, str]:
        """(rows, size, sha256) of the closed file."""
        assert self.complete and self._writer is not None
        return self._rows, self._writer.size, self._writer.hexdigest()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> HashingWriter:
        if self._writer is None:
            first = self._done[0]
            assert first.writer is not None and first.path == self.final
            self._handle = self.final.open("r+b")  # not "ab": copy_file_range refuses a file opened to append
            self._handle.seek(0, os.SEEK_END)
            first.writer.redirect(self._handle)
            self._writer, self._writeback, self._rows = first.writer, EarlyWriteback(self._handle), first.rows
        return self._writer

    def _wrote(self) -> None:
        assert self._writeback is not None and self._writer is not None
        self._writeback.wrote(self._writer.size)


def join_pieces(final: Path, files: list[PieceFile]) -> tuple[int, int, str]:
    """Close piece 0's file as one JSON array, pieces 1.. appended in order; (rows, size, sha256)."""
    join = TableJoin(final, files[0].piece.parts)
    for item in files:
        join.finished(item)
    try:
        join.advance()
    finally:
        join.close()
    return join.result()
