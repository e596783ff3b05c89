"""Stream every table of one consistent snapshot into `raw/<ts>/` files.

A table goes from PostgreSQL to its file without ever being a Python list:
COPY hands over JSON rows, which are written in blocks of about a megabyte
(commas added between rows, hashed on the way). Memory stays flat whatever
the table size.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import psycopg
from psycopg import sql

from bravo_pipeline.allocator import reuse_freed_blocks
from bravo_pipeline.collector import cycles_collected_less_often
from bravo_pipeline.durable import EarlyWriteback
from bravo_pipeline.hashing import HashingWriter
from bravo_pipeline.integrity import seal
from bravo_pipeline.names import EXPORT_SUMMARY_FILE, SCHEMA_FILE, printable, table_filename
from bravo_pipeline.source.catalog import Table, read_catalog, read_types, split_known
from bravo_pipeline.source.connection import SourceError, connect, describe_error
from bravo_pipeline.source.json_rows import copy_json_rows
from bravo_pipeline.source.table_split import (
    MIN_SPLIT_BYTES,
    Piece,
    PieceFile,
    TableJoin,
    join_pieces,
    part_path,
    plan_pieces,
    table_sizes,
)
from bravo_pipeline.timestamps import iso_utc
from bravo_pipeline.uris import host_of

FLUSH_BYTES = 1 << 20
FOLLOW_BYTES = 8 << 20  # a growing part file is appended to its table once this much more is ready
STATEMENT_TIMEOUT = "30min"


@dataclass(frozen=True)
class TableFile:
    table: Table
    count: int
    filename: str
    size: int
    sha256: str
    seconds: float

    def summary_entry(self) -> dict[str, object]:
        return {"count": self.count, "filename": self.filename, "size": self.size, "sha256": self.sha256}


@dataclass
class RawExportResult:
    tables: list[TableFile]
    extra_tables: list[str]
    summary: dict[str, object]


def copy_rows(cursor: psycopg.Cursor, query: sql.Composable, out: HashingWriter | BinaryIO,
              first: bytes, on_write: Callable[[], None]) -> int:
    """COPY `query`'s rows into `out` joined by ",\n", `first` before the first row; the row count.

    Every row ends in the only newline it holds (json_rows makes sure), so each block becomes
    the file's text by one replace, whatever the message boundaries; the row count is what the
    replace added. The newline after the last row so far is held back until more rows follow."""
    rows = 0
    started = held_back = False
    pending: list[bytes | memoryview] = []
    pending_bytes = 0

    def flush() -> None:
        nonlocal rows, started, held_back, pending_bytes
        data = b"".join(pending)
        pending.clear()
        pending_bytes = 0
        if not data:
            return
        out.write(b",\n" if held_back else b"" if started else first)
        started = True
        body = data.replace(b"\n", b",\n")
        rows += len(body) - len(data)
        held_back = data.endswith(b"\n")
        out.write(memoryview(body)[:-2] if held_back else body)
        on_write()

    with cursor.copy(query) as copy:
        for chunk in copy:  # each memoryview owns its buffer: kept as it is, joined once
            pending.append(chunk)
            pending_bytes += len(chunk)
            if pending_bytes >= FLUSH_BYTES:
                flush()
    flush()
    return rows


def _check_rowcount(cursor: psycopg.Cursor, table: Table, rows: int) -> None:
    reported = cursor.rowcount
    if reported != rows:
        raise SourceError(
            f"table {printable(table.name)}: PostgreSQL reported {reported} rows but {rows} were written"
        )


def stream_table(cursor: psycopg.Cursor, schema: str, table: Table, path: Path) -> TableFile:
    """COPY one whole table into `path` as a JSON array, one row per line."""
    return _finish_table(path, [stream_piece(cursor, schema, Piece.whole(table), path)])


def _finish_table(path: Path, pieces: list[PieceFile]) -> TableFile:
    """The table's file closed (its other pieces appended) and on disk, as the summary records it."""
    return _table_file(path, pieces, join_pieces(path, pieces))


def _table_file(path: Path, pieces: list[PieceFile], joined: tuple[int, int, str]) -> TableFile:
    rows, size, digest = joined
    began = min(item.started for item in pieces)
    return TableFile(pieces[0].piece.table, rows, path.name, size, digest, time.perf_counter() - began)


def stream_piece(cursor: psycopg.Cursor, schema: str, piece: Piece, final: Path,
                 report: Callable[[int], None] = lambda _: None) -> PieceFile:
    """COPY one key range: piece 0 into the table's file, hashed; the others into their part files,
    telling `report` how many bytes of it are complete after every block."""
    query = copy_json_rows(schema, piece.table, piece.where())
    started = time.perf_counter()
    if piece.index == 0:
        with final.open("wb") as handle:
            out = HashingWriter(handle)
            writeback = EarlyWriteback(handle)
            rows = copy_rows(cursor, query, out, b"[\n", lambda: writeback.wrote(out.size))
        _check_rowcount(cursor, piece.table, rows)
        return PieceFile(piece, final, rows, out, started)
    path = part_path(final, piece.index)
    with path.open("wb") as handle:

        def flushed() -> None:
            handle.flush()
            report(handle.tell())

        rows = copy_rows(cursor, query, handle, b"", flushed)
    _check_rowcount(cursor, piece.table, rows)
    return PieceFile(piece, path, rows, None, started)


def _begin_snapshot(conn: psycopg.Connection, label: str) -> None:
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    _begin_settings(conn, label)


def _begin_settings(conn: psycopg.Connection, label: str) -> None:
    conn.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
    conn.execute("SET LOCAL TIME ZONE 'UTC'")
    conn.execute("SET LOCAL DateStyle = 'ISO'")
    conn.execute("SET LOCAL extra_float_digits = 1")
    conn.execute("SELECT set_config('application_name', %s, true)", [label])


def schema_document(database: str, schema: str, files: list[TableFile],
                    types: list[dict[str, object]]) -> dict[str, object]:
    return {
        "database": database,
        "schema": schema,
        "types": types,
        "tables": {
            item.table.name: {
                "filename": item.filename,
                "columns": [column.as_json() for column in item.table.columns],
                "primaryKey": list(item.table.primary_key),
                "rowCount": item.count,
            }
            for item in files
        },
    }


def write_json(path: Path, document: object) -> dict[str, object]:
    """Write `document` as indented JSON; its size and sha256, as a summary records a file."""
    data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    with path.open("wb") as handle:
        out = HashingWriter(handle)
        out.write(data)
    return {"filename": path.name, "size": out.size, "sha256": out.hexdigest()}


def _snapshot_connection(uri: str, label: str) -> psycopg.Connection:
    conn = connect(uri, application_name=label, autocommit=True)
    _begin_snapshot(conn, label)
    return conn


def _stream_all(conn: psycopg.Connection, schema: str, tables: list[Table], target: Path,
                on_table: Callable[[TableFile], None]) -> list[TableFile]:
    files = []
    with conn.cursor() as cursor:
        for table in tables:
            try:
                item = stream_table(cursor, schema, table, target / table_filename(table.name))
            except psycopg.Error as error:
                raise SourceError(f"table {printable(table.name)}: {describe_error(error)}") from None
            files.append(item)
            on_table(item)
    return files


def _stream_pieces(conn: psycopg.Connection, schema: str, pieces: queue.Queue[Piece], target: Path,
                   done: Callable[[PieceFile], None], report: Callable[[Piece, int], None],
                   stop: threading.Event) -> None:
    """Take the next piece until none is left (or another worker failed): a worker that finishes a
    big piece early takes more small ones, whatever the estimates said."""
    with conn.cursor() as cursor:
        while not stop.is_set():
            try:
                piece = pieces.get_nowait()
            except queue.Empty:
                return
            try:
                done(stream_piece(cursor, schema, piece, target / table_filename(piece.table.name),
                                  lambda size, piece=piece: report(piece, size)))
            except psycopg.Error as error:
                raise SourceError(f"table {printable(piece.table.name)}: {describe_error(error)}") from None


def _stream_parallel(conn: psycopg.Connection, uri: str, label: str, schema: str, tables: list[Table],
                     target: Path, workers: int, on_table: Callable[[TableFile], None],
                     min_split_bytes: int) -> list[TableFile]:
    """Workers on their own connections, all in the snapshot exported by `conn`; a table bigger than
    one worker's share is cut into key ranges (table_split), which this thread joins into the
    table's file while the workers stream (TableJoin)."""
    snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
    pieces = plan_pieces(conn, schema, tables, table_sizes(conn, schema), workers, min_split_bytes)
    written: queue.Queue[PieceFile] = queue.Queue()
    waiting_pieces: queue.Queue[Piece] = queue.Queue()
    for piece in sorted(pieces, key=lambda p: (-p.estimate, p.table.name, p.index)):  # biggest first
        waiting_pieces.put(piece)
    joins = {piece.table.name: TableJoin(target / table_filename(piece.table.name), piece.parts)
             for piece in pieces if piece.parts > 1}
    stop = threading.Event()

    def report(piece: Piece, size: int) -> None:
        joins[piece.table.name].written[piece.index] = size

    def work() -> None:
        try:
            worker = connect(uri, application_name=label, autocommit=True)
            try:
                worker.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                worker.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
                _begin_settings(worker, label)
                _stream_pieces(worker, schema, waiting_pieces, target, written.put, report, stop)
                worker.execute("COMMIT")
            finally:
                worker.close()
        except BaseException:
            stop.set()
            raise

    files: list[TableFile] = []

    def collect(min_bytes: int) -> None:
        while not written.empty():
            item = written.get()
            if item.piece.parts == 1:
                files.append(_finish_table(item.path, [item]))
                on_table(files[-1])
            else:
                joins[item.piece.table.name].finished(item)
        for join in joins.values():
            if not join.complete and join.advance(min_bytes=min_bytes):
                files.append(_table_file(join.final, join.pieces, join.result()))
                on_table(files[-1])

    count = min(workers, len(pieces))
    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            futures = [pool.submit(work) for _ in range(count)]
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
                collect(FOLLOW_BYTES)
                for future in finished:
                    future.result()
        collect(0)
    finally:
        for join in joins.values():
            join.close()
    return files


def _changed_after_the_rest(summary_path: Path) -> None:
    """Touch the summary until its inode change time is later than every other file's (filesystem
    clocks tick in milliseconds): raw_completeness then trusts the digests computed while those
    files were written, unless one of them changes after the summary."""
    newest = max(entry.stat().st_ctime_ns for entry in summary_path.parent.iterdir() if entry != summary_path)
    while summary_path.stat().st_ctime_ns <= newest:
        time.sleep(0.002)
        os.utime(summary_path)


@cycles_collected_less_often()  # thousands of row buffers at a time: see bravo_pipeline/collector.py
def export_raw(
    uri: str,
    schema: str,
    target: Path,
    ts: str,
    *,
    source: dict[str, object],
    on_table: Callable[[TableFile], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
    workers: int = 1,
    min_split_bytes: int = MIN_SPLIT_BYTES,
) -> RawExportResult:
    """Export every table of `schema` at `uri` into the empty folder `target`.

    All tables come from one REPEATABLE READ READ ONLY snapshot (shared by every
    worker through pg_export_snapshot). Writes the table files, then schema.json,
    then export-summary.json last.
    """
    reuse_freed_blocks()
    started = time.perf_counter()
    exported_at = datetime.now(UTC)
    label = f"bravo-pipeline export {ts}"
    conn = _snapshot_connection(uri, label)
    try:
        database = conn.info.dbname
        tables, extra = split_known(read_catalog(conn, schema))
        types = read_types(conn, schema)
        for name in extra:
            warn(f"table {printable(name)} is not one of the 27 known tables; exporting it too")
        if workers > 1:
            files = _stream_parallel(conn, uri, label, schema, tables, target, workers, on_table,
                                     min_split_bytes)
        else:
            files = _stream_all(conn, schema, tables, target, on_table)
        conn.execute("COMMIT")
    finally:
        conn.close()
    files.sort(key=lambda item: item.table.name)
    schema_file = write_json(target / SCHEMA_FILE, schema_document(database, schema, files, types))
    seconds = time.perf_counter() - started
    summary = {
        "exportedAt": iso_utc(exported_at),
        "exportTimestamp": ts,
        "database": database,
        "host": host_of(uri),
        "source": source,
        "snapshot": "consistent",
        "tables": {item.table.name: item.summary_entry() for item in files},
        "schemaFile": schema_file,
        "totalRecords": sum(item.count for item in files),
        "totalBytes": sum(item.size for item in files),
        "durationSeconds": round(seconds, 3),
    }
    summary = seal(summary)
    write_json(target / EXPORT_SUMMARY_FILE, summary)
    _changed_after_the_rest(target / EXPORT_SUMMARY_FILE)
    return RawExportResult(files, extra, summary)
