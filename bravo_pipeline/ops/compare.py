"""Compare two exports: every row of every table, matched by primary key, and the transformed campaigns.

Memory grows with the number of rows of one table, never with their size. Each
file is streamed one line (one row) at a time. The older file is indexed as
key → 16-byte digest of the row's text + byte offset of its line; the newer file
is then streamed against that index. A row whose text differs is read again
from the older file by its offset and compared column by column.

No Dagster here: the CLI and the assets both call `compare_exports` and `render`.
"""

from __future__ import annotations

import hashlib
import heapq
import html
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from bravo_pipeline.integrity import FileDigest, IntegrityError, Manifest, load_manifest, verified_bytes, verified_lines
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.names import CAMPAIGNS_FILE as TRANSFORMED_FILE
from bravo_pipeline.names import SCHEMA_FILE, UnsafeNameError, comparison_report_file, table_filename
from bravo_pipeline.quality.checks import count_rows
from bravo_pipeline.timestamps import InvalidTimestampError, iso_utc, validate_timestamp

Format = Literal["json", "html", "markdown"]
TRANSFORMED_IGNORED = frozenset({"exportTimestamp"})
EXAMPLE_LIMIT = 10
ROW_LABEL_CHARS = 200
_EXTENSIONS: dict[str, str] = {"json": "json", "html": "html", "markdown": "md"}
_DIGEST_BYTES = 16
_MISSING = object()
_SKIPPED_LINES = frozenset({b"", b"[", b"]", b"[]"})
_DECODER = json.JSONDecoder()
_scan_value = _DECODER.scan_once
_scan_string = json.decoder.scanstring
_SPACE = " \t\n\r"
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class CompareError(ValueError):
    pass


# ---------------------------------------------------------------------------
# What an export holds
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    path: Path
    columns: dict[str, str]  # name → PostgreSQL type, in table order
    primary_key: tuple[str, ...]
    digest: FileDigest | None = None  # what the export's summary records of the file


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CompareError(f"cannot read {path}: {error}") from None


def _require_export(layout: ExportsLayout, ts: str) -> str:
    try:
        validate_timestamp(ts)
    except InvalidTimestampError as error:
        raise CompareError(str(error)) from None
    if not layout.is_complete("raw", ts):
        raise CompareError(f"export {ts} does not exist under {layout.root}")
    return ts


def _manifest(folder: Path, stage: str) -> tuple[dict[str, Any], Manifest]:
    try:
        return load_manifest(folder, stage)
    except IntegrityError as error:
        raise CompareError(str(error)) from None


def export_tables(layout: ExportsLayout, ts: str) -> dict[str, TableSpec]:
    """Every table of the raw export `ts`: its file, columns and primary key (from schema.json)."""
    folder = layout.stage_dir("raw", ts)
    document, contents = _manifest(folder, "raw")
    summary = document.get("tables", {})
    try:
        schema_data = verified_bytes(folder / SCHEMA_FILE, contents.files.get(SCHEMA_FILE))
        schema = json.loads(schema_data).get("tables", {})
    except (OSError, ValueError, IntegrityError) as error:
        raise CompareError(f"cannot read {folder / SCHEMA_FILE}: {error}") from None
    undescribed = sorted(set(summary) - set(schema))
    if undescribed:
        raise CompareError(f"{folder / SCHEMA_FILE} does not describe table(s) {', '.join(undescribed)}")
    tables = {}
    for name, entry in schema.items():
        try:
            filename = table_filename(name)
        except UnsafeNameError as error:
            raise CompareError(f"{folder / SCHEMA_FILE}: {error}") from None
        columns = {column["name"]: column["type"] for column in entry.get("columns", [])}
        tables[name] = TableSpec(folder / filename, columns, tuple(entry.get("primaryKey") or ()),
                                 contents.files.get(filename))
    return tables


# ---------------------------------------------------------------------------
# Streaming rows
# ---------------------------------------------------------------------------


def _row_lines(path: Path | None, digest: FileDigest | None = None) -> Iterator[tuple[int, bytes]]:
    """(byte offset, row text without the trailing comma) of every row line of a file.

    With `digest`, the file is checked against it as it streams (after the last line).
    """
    if path is None:
        return
    offset = 0
    try:
        for line in verified_lines(path, digest):
            start = offset
            offset += len(line)
            body = line.rstrip()
            if body.endswith(b","):
                body = body[:-1]
            if body in _SKIPPED_LINES:
                continue
            if not body.startswith(b"{"):
                raise CompareError(f"{path}: line at byte {start} is not one row object")
            yield start, body
    except IntegrityError as error:
        raise CompareError(str(error)) from None
    except OSError as error:
        raise CompareError(f"cannot read {path}: {error}") from None


def _parse(body: bytes, path: Path | None) -> dict[str, Any]:
    try:
        row = json.loads(body)
    except json.JSONDecodeError as error:
        raise CompareError(f"{path}: a row is not valid JSON ({error.msg})") from None
    if not isinstance(row, dict):
        raise CompareError(f"{path}: a row is not a JSON object")
    return row


def _read_body_at(handle: IO[bytes], offset: int) -> bytes:
    handle.seek(offset)
    body = handle.readline().rstrip()
    return body[:-1] if body.endswith(b",") else body


def _read_row_at(handle: IO[bytes], offset: int, path: Path | None) -> dict[str, Any]:
    return _parse(_read_body_at(handle, offset), path)


def _skip_space(text: str, index: int) -> int:
    """`index`, moved past any JSON whitespace (exports have none between fields: cheap check first)."""
    if text[index] not in _SPACE:
        return index
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _split_fields(body: bytes, path: Path | None) -> dict[str, tuple[str, Any]]:
    """Each top-level field of a row: (its JSON text as written, its value)."""
    text = body.decode("utf-8")
    try:
        return _scan_fields(text)
    except (ValueError, IndexError, StopIteration) as error:
        raise CompareError(f"{path}: a row is not a valid JSON object ({error!r})") from None


def _scan_fields(text: str) -> dict[str, tuple[str, Any]]:
    fields: dict[str, tuple[str, Any]] = {}
    index = _skip_space(text, 1)
    if text[index] == "}":
        return fields
    while True:
        if text[index] != '"':
            raise ValueError(f"field name expected at {index}")
        name, index = _scan_string(text, index + 1)
        index = _skip_space(text, index)
        if text[index] != ":":
            raise ValueError(f"':' expected at {index}")
        start = _skip_space(text, index + 1)
        value, index = _scan_value(text, start)
        fields[name] = (text[start:index], value)
        index = _skip_space(text, index)
        if text[index] == "}":
            return fields
        if text[index] != ",":
            raise ValueError(f"',' or '}}' expected at {index}")
        index = _skip_space(text, index + 1)


def _open(path: Path | None) -> Any:
    if path is None:
        return nullcontext(None)
    try:
        return path.open("rb")
    except OSError as error:
        raise CompareError(f"cannot read {path}: {error}") from None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=_DIGEST_BYTES).digest()


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same JSON types (`true` is not `1`, key order does not matter)."""
    if type(a) is not type(b) or a != b:
        return False
    return not isinstance(a, dict | list) or _canonical(a) == _canonical(b)


# ---------------------------------------------------------------------------
# Keys and examples
# ---------------------------------------------------------------------------


def _freeze(value: Any) -> Any:
    return _canonical(value) if isinstance(value, dict | list) else value


def _rank(value: Any) -> tuple[int, Any, str]:
    if value is None:
        return (0, 0, "")
    if isinstance(value, int | float):
        return (1, value, "")
    return (2, 0, str(value))


def _key_order(key: Any) -> tuple[tuple[int, Any, str], ...]:
    parts = key if isinstance(key, tuple) else (key,)
    return tuple(_rank(part) for part in parts)


def key_label(key: Any) -> str:
    """How a key appears in examples: the value itself, or a JSON array for a composite key."""
    if isinstance(key, tuple):
        return json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))
    return key if isinstance(key, str) else json.dumps(key)


class _Smallest:
    """The `limit` smallest items seen, without keeping them all."""

    def __init__(self, order: Callable[[Any], Any], limit: int = EXAMPLE_LIMIT) -> None:
        self._order = order
        self._limit = limit
        self._items: list[Any] = []

    def add(self, item: Any) -> None:
        self._items.append(item)
        if len(self._items) >= 50 * self._limit:
            self._items = heapq.nsmallest(self._limit, self._items, key=self._order)

    def extend(self, items: Iterable[Any]) -> None:
        self._items = heapq.nsmallest(self._limit, [*self._items, *items], key=self._order)

    def smallest(self) -> list[Any]:
        return heapq.nsmallest(self._limit, self._items, key=self._order)


# ---------------------------------------------------------------------------
# Row diff of one table (or of the transformed documents)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowRule:
    key: tuple[str, ...]  # empty: no primary key, the whole row is the key
    columns: tuple[str, ...] | None  # compared columns; None: every field of either row
    ignored: frozenset[str] = frozenset()


@dataclass
class RowDiff:
    count_v1: int = 0
    count_v2: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    field_changes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(
        default_factory=lambda: {"added": [], "removed": [], "changed": []}
    )


Digests = tuple[FileDigest | None, FileDigest | None]


def diff_rows(old: Path | None, new: Path | None, rule: RowRule, digests: Digests = (None, None)) -> RowDiff:
    """Every row of `old` against every row of `new` (a None path is an empty table).

    Each file is checked against its digest (from its export's summary) as it streams.
    """
    if rule.key:
        return _diff_keyed(old, new, rule, digests)
    return _diff_multiset(old, new, rule, digests)


def _row_key(row: dict[str, Any], columns: tuple[str, ...], path: Path | None) -> Any:
    try:
        values = tuple(_freeze(row[column]) for column in columns)
    except KeyError as error:
        raise CompareError(f"{path}: a row has no key column {error.args[0]!r}") from None
    return values[0] if len(values) == 1 else values


def _fingerprint(body: bytes, row: dict[str, Any] | None, rule: RowRule) -> bytes:
    """Digest of the row's text, or of its canonical form without the ignored fields."""
    if not rule.ignored:
        return _digest(body)
    assert row is not None
    kept = {name: value for name, value in row.items() if name not in rule.ignored}
    return _digest(_canonical(kept).encode())


_FAST_KEY_BYTES = 256


def _key_prefix(rule: RowRule) -> bytes | None:
    """`{"id":` when rows can be keyed without parsing them (one key column, nothing ignored)."""
    if len(rule.key) != 1 or rule.ignored:
        return None
    return b"{" + json.dumps(rule.key[0], ensure_ascii=False).encode() + b":"


def _fast_key(body: bytes, prefix: bytes | None) -> Any:
    """The key value when it is the row's first field (the usual case), else _MISSING.

    Decodes only that value, not the whole row: a 4 KB row is keyed in a microsecond.
    """
    if prefix is None or not body.startswith(prefix):
        return _MISSING
    head = body[len(prefix) : len(prefix) + _FAST_KEY_BYTES].decode("utf-8", errors="ignore")
    try:
        value, end = _DECODER.raw_decode(head)
    except json.JSONDecodeError:
        return _MISSING
    if end >= len(head) or head[end] not in ",}" or isinstance(value, dict | list):
        return _MISSING
    return value


def _keyed_row(
    body: bytes, path: Path | None, rule: RowRule, prefix: bytes | None
) -> tuple[Any, dict[str, Any] | None]:
    """(key, parsed row or None when the row did not need parsing)."""
    key = _fast_key(body, prefix)
    if key is not _MISSING:
        return key, None
    row = _parse(body, path)
    return _row_key(row, rule.key, path), row


def _compared_fields(old: dict[str, Any], new: dict[str, Any], rule: RowRule) -> Iterable[str]:
    if rule.columns is not None:
        return rule.columns
    return sorted((old.keys() | new.keys()) - rule.ignored)


def _changed_fields(
    old: dict[str, tuple[str, Any]], new: dict[str, tuple[str, Any]], rule: RowRule
) -> list[str]:
    """Compared fields whose value differs: the same text is the same value, else the values decide."""
    changed = []
    for name in _compared_fields(old, new, rule):
        before, after = old.get(name), new.get(name)
        if before is None or after is None:
            if before is not after:
                changed.append(name)
        elif before[0] != after[0] and not _same(before[1], after[1]):
            changed.append(name)
    return changed


def _index_keyed(path: Path | None, rule: RowRule, digest: FileDigest | None) -> dict[Any, bytes]:
    """key → row digest + byte offset of the row's line."""
    index: dict[Any, bytes] = {}
    prefix = _key_prefix(rule)
    for offset, body in _row_lines(path, digest):
        key, row = _keyed_row(body, path, rule, prefix)
        if key in index:
            raise CompareError(f"{path}: primary key {key_label(key)} appears twice")
        index[key] = _fingerprint(body, row, rule) + offset.to_bytes(8, "little")
    return index


def _diff_keyed(old: Path | None, new: Path | None, rule: RowRule, digests: Digests) -> RowDiff:
    diff = RowDiff()
    added, changed, removed = (_Smallest(_key_order) for _ in range(3))
    prefix = _key_prefix(rule)
    with _open(old) as old_handle:
        index = _index_keyed(old, rule, digests[0])
        diff.count_v1 = len(index)
        for _, body in _row_lines(new, digests[1]):
            diff.count_v2 += 1
            key, row = _keyed_row(body, new, rule, prefix)
            entry = index.pop(key, None)
            if entry is None:
                diff.added += 1
                added.add(key)
            elif entry[:_DIGEST_BYTES] != _fingerprint(body, row, rule):
                old_body = _read_body_at(old_handle, int.from_bytes(entry[_DIGEST_BYTES:], "little"))
                fields = _changed_fields(_split_fields(old_body, old), _split_fields(body, new), rule)
                if fields:
                    diff.changed += 1
                    changed.add(key)
                    diff.field_changes.update(fields)
    diff.removed = len(index)
    removed.extend(index)
    diff.examples = {
        "added": [key_label(key) for key in added.smallest()],
        "removed": [key_label(key) for key in removed.smallest()],
        "changed": [key_label(key) for key in changed.smallest()],
    }
    return diff


def _row_identity(row: dict[str, Any], rule: RowRule) -> tuple[bytes, dict[str, Any]]:
    names = rule.columns if rule.columns is not None else sorted(row.keys() - rule.ignored)
    compared = {name: row.get(name) for name in names}
    return _digest(_canonical(compared).encode()), compared


def _row_text(compared: dict[str, Any]) -> str:
    text = json.dumps(compared, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= ROW_LABEL_CHARS else text[: ROW_LABEL_CHARS - 1] + "…"


def _diff_multiset(old: Path | None, new: Path | None, rule: RowRule, digests: Digests) -> RowDiff:
    """Tables without a primary key: rows are equal or not, so only added/removed."""
    diff = RowDiff()
    remaining: Counter[bytes] = Counter()
    first_offset: dict[bytes, int] = {}
    added, removed = _Smallest(str), _Smallest(str)
    with _open(old) as old_handle:
        for offset, body in _row_lines(old, digests[0]):
            diff.count_v1 += 1
            digest, _ = _row_identity(_parse(body, old), rule)
            remaining[digest] += 1
            first_offset.setdefault(digest, offset)
        for _, body in _row_lines(new, digests[1]):
            diff.count_v2 += 1
            digest, compared = _row_identity(_parse(body, new), rule)
            if remaining[digest] > 0:
                remaining[digest] -= 1
                continue
            diff.added += 1
            added.add(_row_text(compared))
        for digest, count in remaining.items():
            if count > 0:
                diff.removed += count
                _, compared = _row_identity(_read_row_at(old_handle, first_offset[digest], old), rule)
                removed.add(_row_text(compared))
    diff.examples = {"added": added.smallest(), "removed": removed.smallest(), "changed": []}
    return diff


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def _matching_key(s1: TableSpec, s2: TableSpec) -> tuple[str, ...]:
    for key in (s2.primary_key, s1.primary_key):
        if key and all(column in s1.columns and column in s2.columns for column in key):
            return key
    return ()


def table_rule(s1: TableSpec | None, s2: TableSpec | None) -> RowRule:
    if s1 is not None and s2 is not None:
        common = tuple(column for column in s1.columns if column in s2.columns)
        return RowRule(_matching_key(s1, s2), common)
    present = s1 or s2
    assert present is not None
    return RowRule(present.primary_key, tuple(present.columns))


def schema_changes(s1: TableSpec | None, s2: TableSpec | None) -> dict[str, list[Any]]:
    """Columns added, removed and retyped (a table in one export only: all its columns)."""
    before = s1.columns if s1 is not None else {}
    after = s2.columns if s2 is not None else {}
    return {
        "added_columns": [column for column in after if column not in before],
        "removed_columns": [column for column in before if column not in after],
        "type_changes": [
            {"column": column, "from": before[column], "to": after[column]}
            for column in before
            if column in after and before[column] != after[column]
        ],
    }


def diff_percent(count_v1: int, count_v2: int) -> str:
    if count_v1 == 0:
        return "n/a"
    return f"{(count_v2 - count_v1) / count_v1 * 100:.2f}%"


def _unchanged_rows(s1: TableSpec | None, s2: TableSpec | None) -> int | None:
    """The row count when both files are recorded with one digest and both match it, else None.

    Two files with the same sha256 hold the same rows, so the row-by-row diff is
    skipped; each file is still read once and hashed (a file that differs from
    its summary fails the compare as in the diff).
    """
    if s1 is None or s2 is None or s1.digest is None or s1.digest != s2.digest:
        return None
    try:
        counts = {count_rows(spec.path, spec.digest) for spec in (s1, s2)}
    except IntegrityError as error:
        raise CompareError(str(error)) from None
    except OSError as error:
        raise CompareError(f"cannot read {error.filename}: {error.strerror}") from None
    return counts.pop()


def table_report(s1: TableSpec | None, s2: TableSpec | None) -> dict[str, Any]:
    unchanged = _unchanged_rows(s1, s2)
    if unchanged is not None:
        diff = RowDiff(count_v1=unchanged, count_v2=unchanged)
    else:
        diff = diff_rows(s1.path if s1 else None, s2.path if s2 else None, table_rule(s1, s2),
                         (s1.digest if s1 else None, s2.digest if s2 else None))
    return {
        "count_v1": diff.count_v1,
        "count_v2": diff.count_v2,
        "count_diff": diff.count_v2 - diff.count_v1,
        "count_diff_percent": diff_percent(diff.count_v1, diff.count_v2),
        "added": diff.added,
        "removed": diff.removed,
        "changed": diff.changed,
        "field_changes": dict(sorted(diff.field_changes.items(), key=lambda item: (-item[1], item[0]))),
        "schema": schema_changes(s1, s2),
        "examples": diff.examples,
    }


def has_changes(detail: dict[str, Any]) -> bool:
    schema = detail["schema"]
    counts = detail["added"] or detail["removed"] or detail["changed"]
    return bool(counts or schema["added_columns"] or schema["removed_columns"] or schema["type_changes"])


def transformed_report(layout: ExportsLayout, ts1: str, ts2: str) -> dict[str, int] | None:
    """Added/removed/changed campaign documents (by `_id`); None unless both are transformed."""
    if not (layout.is_complete("transformed", ts1) and layout.is_complete("transformed", ts2)):
        return None
    folders = [layout.stage_dir("transformed", ts) for ts in (ts1, ts2)]
    digests = tuple(_manifest(folder, "transformed")[1].files.get(TRANSFORMED_FILE) for folder in folders)
    diff = diff_rows(folders[0] / TRANSFORMED_FILE, folders[1] / TRANSFORMED_FILE,
                     RowRule(("_id",), None, TRANSFORMED_IGNORED), digests)  # type: ignore[arg-type]
    return {"added": diff.added, "removed": diff.removed, "changed": diff.changed}


def compare_exports(
    layout: ExportsLayout,
    ts1: str,
    ts2: str,
    now: datetime | None = None,
    *,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The compare report of raw exports `ts1` (older) and `ts2`: every row of every table."""
    _require_export(layout, ts1)
    _require_export(layout, ts2)
    tables1, tables2 = export_tables(layout, ts1), export_tables(layout, ts2)
    details: dict[str, Any] = {}
    for name in sorted(tables1.keys() | tables2.keys()):
        progress(name)
        details[name] = table_report(tables1.get(name), tables2.get(name))
    progress("transformed campaigns")
    return {
        "timestamp": iso_utc(now or datetime.now(UTC)),
        "version1": ts1,
        "version2": ts2,
        "summary": {
            "total_tables": len(details),
            "tables_with_changes": sum(1 for detail in details.values() if has_changes(detail)),
            "total_records_v1": sum(detail["count_v1"] for detail in details.values()),
            "total_records_v2": sum(detail["count_v2"] for detail in details.values()),
        },
        "details": details,
        "transformed": {"campaigns": transformed_report(layout, ts1, ts2)},
    }


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def default_report_path(layout: ExportsLayout, ts1: str, ts2: str, fmt: Format) -> Path:
    if fmt not in _EXTENSIONS:
        raise CompareError(f"unknown report format {fmt!r}: use json, html or markdown")
    return layout.reports_dir / comparison_report_file(validate_timestamp(ts1), validate_timestamp(ts2),
                                                       _EXTENSIONS[fmt])


def write_report(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def render(report: dict[str, Any], fmt: Format) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return _render_markdown(report)
    if fmt == "html":
        return _render_html(report)
    raise CompareError(f"unknown report format {fmt!r}: use json, html or markdown")


def _n(value: int) -> str:
    return f"{value:,}"


def _signed(value: int) -> str:
    return f"{value:+,}" if value else "0"


def _summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    summary = report["summary"]
    return [
        ("Tables compared", _n(summary["total_tables"])),
        ("Tables with changes", _n(summary["tables_with_changes"])),
        (f"Records in {report['version1']}", _n(summary["total_records_v1"])),
        (f"Records in {report['version2']}", _n(summary["total_records_v2"])),
    ]


_OVERVIEW_HEADER = ("Table", "Rows v1", "Rows v2", "Diff", "Diff %", "Added", "Removed", "Changed")


def _overview_cells(name: str, detail: dict[str, Any]) -> list[str]:
    return [
        name,
        _n(detail["count_v1"]),
        _n(detail["count_v2"]),
        _signed(detail["count_diff"]),
        detail["count_diff_percent"],
        _n(detail["added"]),
        _n(detail["removed"]),
        _n(detail["changed"]),
    ]


def _schema_lines(schema: dict[str, list[Any]]) -> list[tuple[str, list[str]]]:
    return [
        ("Added columns", list(schema["added_columns"])),
        ("Removed columns", list(schema["removed_columns"])),
        ("Type changes", [f"{c['column']}: {c['from']} → {c['to']}" for c in schema["type_changes"]]),
    ]


def _example_lines(examples: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    return [(kind.capitalize(), list(examples[kind])) for kind in ("added", "removed", "changed")]


def _transformed_text(report: dict[str, Any]) -> dict[str, int] | None:
    return report.get("transformed", {}).get("campaigns")


def _transformed_cells(transformed: dict[str, int]) -> list[str]:
    return [_n(transformed[kind]) for kind in ("added", "removed", "changed")]


def _unchanged_tables(report: dict[str, Any]) -> list[str]:
    return [name for name, detail in report["details"].items() if not has_changes(detail)]


# Markdown ------------------------------------------------------------------


def _md(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(header: Iterable[str], rows: Iterable[Iterable[str]], numeric_from: int = 1) -> list[str]:
    header = list(header)
    align = ["---" if index < numeric_from else "---:" for index in range(len(header))]
    lines = ["| " + " | ".join(_md(cell) for cell in header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    return lines


def _md_code_list(items: list[str]) -> str:
    return ", ".join(f"`{_md(item).replace('`', 'ˋ')}`" for item in items) if items else "none"


def _md_table_section(name: str, detail: dict[str, Any]) -> list[str]:
    lines = [f"### {_md(name)}", ""]
    lines += _md_table(_OVERVIEW_HEADER[1:], [_overview_cells(name, detail)[1:]], numeric_from=0)
    lines += ["", "**Field changes**", ""]
    fields = detail["field_changes"]
    if fields:
        lines += _md_table(("Column", "Rows changed"), [(c, _n(n)) for c, n in fields.items()])
    else:
        lines.append("none")
    lines += ["", "**Schema changes**", ""]
    lines += [f"- {label}: {_md_code_list(items)}" for label, items in _schema_lines(detail["schema"])]
    lines += ["", "**Examples** (first ids, sorted)", ""]
    lines += [f"- {label}: {_md_code_list(items)}" for label, items in _example_lines(detail["examples"])]
    return [*lines, ""]


def _render_markdown(report: dict[str, Any]) -> str:
    details = report["details"]
    lines = [
        f"# Export comparison: {report['version1']} → {report['version2']}",
        "",
        f"Generated {report['timestamp']}.",
        "",
        "## Summary",
        "",
        *_md_table(("", "Value"), _summary_rows(report)),
        "",
        "## Tables",
        "",
        *_md_table(
            (*_OVERVIEW_HEADER, "Changes"),
            [[*_overview_cells(n, d), "yes" if has_changes(d) else ""] for n, d in details.items()],
        ),
        "",
        "## Transformed campaigns",
        "",
    ]
    transformed = _transformed_text(report)
    if transformed is None:
        lines.append("Not compared: one of the versions has no transformed export.")
    else:
        lines += _md_table(("Added", "Removed", "Changed"), [_transformed_cells(transformed)], 0)
    lines += ["", "## Tables with changes", ""]
    changed = [name for name, detail in details.items() if has_changes(detail)]
    if not changed:
        lines += ["No table changed.", ""]
    for name in changed:
        lines += _md_table_section(name, details[name])
    unchanged = _unchanged_tables(report)
    if unchanged:
        lines += [f"Tables without changes: {', '.join(_md(name) for name in unchanged)}.", ""]
    return "\n".join(lines)


# HTML ------------------------------------------------------------------------

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 2rem;
       color: #1f2328; background: #fff; line-height: 1.4; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.changed td { background: #fff8c5; font-weight: 600; }
section.table { border-left: 4px solid #d4a72c; padding-left: 1rem; margin-bottom: 1.5rem; }
code { background: #f6f8fa; padding: 0 0.25rem; border-radius: 3px; font-size: 0.9em; }
.muted { color: #656d76; }
"""


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_table(
    header: Iterable[str], rows: Iterable[tuple[Iterable[str], bool]], numeric_from: int = 1
) -> str:
    head = "".join(f"<th>{_h(cell)}</th>" for cell in header)
    body = []
    for cells, highlight in rows:
        tds = "".join(
            f'<td class="num">{_h(c)}</td>' if i >= numeric_from else f"<td>{_h(c)}</td>"
            for i, c in enumerate(cells)
        )
        body.append(f'<tr class="changed">{tds}</tr>' if highlight else f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_list(items: list[tuple[str, list[str]]]) -> str:
    entries = []
    none = '<span class="muted">none</span>'
    for label, values in items:
        shown = ", ".join(f"<code>{_h(v)}</code>" for v in values) if values else none
        entries.append(f"<li>{_h(label)}: {shown}</li>")
    return f"<ul>{''.join(entries)}</ul>"


def _html_table_section(name: str, detail: dict[str, Any]) -> str:
    fields = detail["field_changes"]
    field_table = (
        _html_table(("Column", "Rows changed"), [((c, _n(n)), False) for c, n in fields.items()])
        if fields
        else '<p class="muted">none</p>'
    )
    return (
        f'<section class="table"><h3>{_h(name)}</h3>'
        + _html_table(_OVERVIEW_HEADER[1:], [(_overview_cells(name, detail)[1:], False)], numeric_from=0)
        + "<h4>Field changes</h4>"
        + field_table
        + "<h4>Schema changes</h4>"
        + _html_list(_schema_lines(detail["schema"]))
        + "<h4>Examples <span class=\"muted\">(first ids, sorted)</span></h4>"
        + _html_list(_example_lines(detail["examples"]))
        + "</section>"
    )


def _html_transformed(report: dict[str, Any]) -> str:
    transformed = _transformed_text(report)
    if transformed is None:
        return '<p class="muted">Not compared: one of the versions has no transformed export.</p>'
    cells = _transformed_cells(transformed)
    return _html_table(("Added", "Removed", "Changed"), [(cells, any(transformed.values()))], 0)


def _render_html(report: dict[str, Any]) -> str:
    details = report["details"]
    title = f"Export comparison: {report['version1']} → {report['version2']}"
    overview = _html_table(
        _OVERVIEW_HEADER, [(_overview_cells(n, d), has_changes(d)) for n, d in details.items()]
    )
    changed = [name for name, detail in details.items() if has_changes(detail)]
    sections = "".join(_html_table_section(name, details[name]) for name in changed)
    unchanged = _unchanged_tables(report)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_h(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_h(title)}</h1><p class=\"muted\">Generated {_h(report['timestamp'])}</p>",
        "<h2>Summary</h2>",
        _html_table(("", "Value"), [(row, False) for row in _summary_rows(report)]),
        "<h2>Tables</h2>",
        overview,
        "<h2>Transformed campaigns</h2>",
        _html_transformed(report),
        "<h2>Tables with changes</h2>",
        sections or '<p class="muted">No table changed.</p>',
        f"<p class=\"muted\">Tables without changes: {_h(', '.join(unchanged))}</p>" if unchanged else "",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
