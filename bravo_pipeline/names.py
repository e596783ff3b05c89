"""Every name the pipeline gives to a file, a folder or a database, and the table → file name mapping.

A source table name is untrusted text: PostgreSQL allows any character but NUL in
a quoted identifier (`/`, `..`, newlines, a leading dot, up to 63 bytes). Its
file name inside a stage folder is a reversible encoding that can only be a
plain file name in that folder:

- the bytes `a-z`, `0-9` and `_` stay as they are, so `campaigns` → `campaigns.json`;
- every other byte of the UTF-8 name (upper case, `-`, `.`, `/`, `%`, spaces,
  control characters, non-ASCII) becomes `%XX` (upper-case hex), so a file
  name never holds a path separator, never starts with a dot, and two names
  that differ only in case never share a file on a case-insensitive disk;
- a name whose file would be one of the stage's own files (`schema`) has its
  first byte encoded too: `%73chema.json`.

At most 63 bytes encode to at most 189 + 5 characters, within the 255 of every
file system. `table_name_of` decodes and accepts only canonical encodings, so
each table has exactly one file name and each file name at most one table.
"""

from __future__ import annotations

import re

EXPORT_SUMMARY_FILE = "export-summary.json"
SCHEMA_FILE = "schema.json"
TRANSFORMATION_SUMMARY_FILE = "transformation-summary.json"
CAMPAIGNS_FILE = "campaigns.json"
REGISTRY_FILE = "mongodb-versions.json"
TEMP_DIR = "temp"
LOGS_DIR = "logs"
REPORTS_DIR = "comparison-reports"

TABLE_FILE_SUFFIX = ".json"
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1
_KEPT = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_")
_RESERVED_STEMS = frozenset(
    name.removesuffix(TABLE_FILE_SUFFIX)
    for name in (EXPORT_SUMMARY_FILE, SCHEMA_FILE, TRANSFORMATION_SUMMARY_FILE)
)
_ENCODED = re.compile(r"^(?:[a-z0-9_]|%[0-9A-F]{2})+$")


class UnsafeNameError(ValueError):
    """A table name that cannot be a table, or a file name that is no table's."""


def printable(name: str) -> str:
    """A name as one line of a message: plain when it is plain, else quoted with escapes."""
    if name and all(c.isprintable() for c in name) and name.strip() == name and "'" not in name:
        return name
    return repr(name)


def check_identifier(name: object, what: str = "table") -> str:
    """`name` if PostgreSQL could hold it as an identifier, else UnsafeNameError."""
    if not isinstance(name, str) or not name:
        raise UnsafeNameError(f"{what} name {name!r} is empty or not text")
    if "\x00" in name:
        raise UnsafeNameError(f"{what} name {printable(name)} holds a NUL character")
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise UnsafeNameError(
            f"{what} name {printable(name)} is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES} bytes"
        )
    return name


def table_filename(table: str) -> str:
    """The file of `table` in `raw/<ts>/` (see the module docstring)."""
    raw = check_identifier(table).encode("utf-8")
    stem = "".join(chr(byte) if byte in _KEPT else f"%{byte:02X}" for byte in raw)
    if stem in _RESERVED_STEMS:
        stem = f"%{raw[0]:02X}" + stem[1:]
    return stem + TABLE_FILE_SUFFIX


def table_name_of(filename: str) -> str:
    """The table whose file is `filename`; UnsafeNameError when no table maps to it."""
    stem = filename.removesuffix(TABLE_FILE_SUFFIX)
    if stem == filename or not _ENCODED.match(stem):
        raise UnsafeNameError(f"{printable(filename)} is not the file name of a table")
    try:
        table = _decode(stem)
        check_identifier(table)
    except (ValueError, UnicodeDecodeError):
        raise UnsafeNameError(f"{printable(filename)} is not the file name of a table") from None
    if table_filename(table) != filename:
        raise UnsafeNameError(f"{printable(filename)} is not the canonical file name of a table")
    return table


def _decode(stem: str) -> str:
    out = bytearray()
    index = 0
    while index < len(stem):
        if stem[index] == "%":
            out.append(int(stem[index + 1 : index + 3], 16))
            index += 3
        else:
            out.append(ord(stem[index]))
            index += 1
    return out.decode("utf-8")


def log_file(ts: str) -> str:
    """The plain-text log of one export timestamp, in `logs/`."""
    return f"pipeline_{ts}.log"


def staged_dump_file(ts: str, extension: str) -> str:
    """A dump copied (or un-gzipped) into `temp/` before its restore."""
    return f"prod_dump_{ts}.{extension}"


def staged_dump_pattern(ts: str) -> str:
    """The glob pattern of every file `staged_dump_file(ts, …)` can name."""
    return f"prod_dump_{ts}.*"


def comparison_report_file(ts1: str, ts2: str, extension: str) -> str:
    """A report of `compare`, in `comparison-reports/`."""
    return f"compare-{ts1}-vs-{ts2}.{extension}"


def version_database(ts: str) -> str:
    """The MongoDB database of one export version."""
    return f"mediatool_{ts}"


def dump_database_name(ts: str) -> str:
    """The PostgreSQL database a dump of `ts` is restored into (and `restore --postgres` rebuilds)."""
    return f"media_tool_{ts}"
