"""The compare report of two exports: every table, and the transformed campaigns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bravo_pipeline.compare.diff import RowDiff, RowRule, diff_rows
from bravo_pipeline.compare.reading import CompareError, TableSpec, export_tables, manifest_of, require_export
from bravo_pipeline.integrity import IntegrityError
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.names import CAMPAIGNS_FILE as TRANSFORMED_FILE
from bravo_pipeline.quality.checks import count_rows
from bravo_pipeline.timestamps import iso_utc

TRANSFORMED_IGNORED = frozenset({"exportTimestamp"})


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
    digests = tuple(manifest_of(folder, "transformed")[1].files.get(TRANSFORMED_FILE) for folder in folders)
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
    require_export(layout, ts1)
    require_export(layout, ts2)
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


