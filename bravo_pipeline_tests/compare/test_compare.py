"""compare: every row of every table of two exports, matched by primary key."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bravo_pipeline.compare import (
    CompareError,
    compare_exports,
    default_report_path,
    render,
    write_report,
)
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.source.raw_export import export_raw
from bravo_pipeline_tests.conftest import refresh_summary

TS1, TS2 = "20250101-000000", "20250102-000000"
NOW = datetime(2025, 1, 3, 12, 0, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------
# Writing exports by hand, in the raw file format
# ---------------------------------------------------------------------------


@dataclass
class TableDef:
    columns: list[tuple[str, str]]
    primary_key: list[str]
    rows: Iterable[dict[str, Any]] = field(default_factory=list)


def write_rows(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """A JSON array with one row object per line, as the raw export writes it."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(("[\n" if count == 0 else ",\n") + json.dumps(row, separators=(",", ":")))
            count += 1
        handle.write("\n]\n" if count else "[]\n")
    return count


def write_raw_export(root: Path, ts: str, tables: dict[str, TableDef]) -> None:
    folder = root / "raw" / ts
    folder.mkdir(parents=True)
    counts = {name: write_rows(folder / f"{name}.json", table.rows) for name, table in tables.items()}
    schema = {
        "tables": {
            name: {
                "columns": [
                    {"name": column, "type": type_, "nullable": True, "default": None}
                    for column, type_ in table.columns
                ],
                "primaryKey": table.primary_key,
                "rowCount": counts[name],
            }
            for name, table in tables.items()
        }
    }
    (folder / "schema.json").write_text(json.dumps(schema))
    summary = {
        "exportTimestamp": ts,
        "tables": {name: {"count": counts[name], "filename": f"{name}.json"} for name in tables},
        "totalRecords": sum(counts.values()),
    }
    (folder / "export-summary.json").write_text(json.dumps(summary))
    refresh_summary(folder)


def write_transformed(root: Path, ts: str, documents: list[dict[str, Any]]) -> None:
    folder = root / "transformed" / ts
    folder.mkdir(parents=True)
    write_rows(folder / "campaigns.json", [{**doc, "exportTimestamp": ts} for doc in documents])
    (folder / "transformation-summary.json").write_text(json.dumps({"exportTimestamp": ts}))
    refresh_summary(folder)


# ---------------------------------------------------------------------------
# Two real exports of the demo database, with known changes in between
# ---------------------------------------------------------------------------


@dataclass
class Changes:
    added_campaigns: list[str]
    updated_campaigns: list[str]
    deleted_line_items: list[str]
    updated_user: str


def _export(uri: str, layout: ExportsLayout, ts: str) -> None:
    staging = layout.begin_staging("raw", ts)
    export_raw(uri, "media_tool", staging, ts, source={"kind": "demo", "dump": None})
    layout.publish(staging, "raw", ts, replace=False)


UNREFERENCED_LINE_ITEMS = ("00000000-0000-4000-8000-00000000cafe", "00000000-0000-4000-8000-00000000beef")


def _add_deletable_line_items(uri: str) -> None:
    """Every demo line item is referenced by a media buy: add two that can go without a trace."""
    with psycopg.connect(uri, autocommit=True) as conn:
        for line_item_id in UNREFERENCED_LINE_ITEMS:
            conn.execute(
                "INSERT INTO media_tool.line_items (id, name, is_deleted) VALUES (%s, 'to delete', false)",
                [line_item_id],
            )


def _change_source(uri: str) -> Changes:
    with psycopg.connect(uri, autocommit=True) as conn:
        updated = conn.execute(
            "UPDATE media_tool.campaigns SET stage = coalesce(stage, '') || ' (revised)' "
            "WHERE id IN (SELECT id FROM media_tool.campaigns ORDER BY id LIMIT 4) RETURNING id"
        ).fetchall()
        added = ["cmp-new-1", "cmp-new-2", "cmp-new-3"]
        for campaign_id in added:
            conn.execute(
                "INSERT INTO media_tool.campaigns (id, campaign_name, stage, is_deleted) "
                "VALUES (%s, %s, 'Planning', false)",
                [campaign_id, f"Compare test {campaign_id}"],
            )
        deleted = conn.execute(
            "DELETE FROM media_tool.line_items WHERE id = ANY(%s::uuid[]) RETURNING id::text",
            [list(UNREFERENCED_LINE_ITEMS)],
        ).fetchall()
        [(user,)] = conn.execute(
            "UPDATE media_tool.users SET name = coalesce(name, '') || ' Jr.' "
            "WHERE id = (SELECT id FROM media_tool.users ORDER BY id LIMIT 1) RETURNING id::text"
        ).fetchall()
        conn.execute("ALTER TABLE media_tool.accounts ADD COLUMN region text")
    assert len(updated) == 4 and len(deleted) == 2
    return Changes(added, sorted(row[0] for row in updated), sorted(row[0] for row in deleted), user)


@pytest.fixture(scope="module")
def demo_exports(
    admin_uri: str, demo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ExportsLayout, Changes]]:
    with psycopg.connect(admin_uri, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS cmp_src WITH (FORCE)")
        admin.execute("CREATE DATABASE cmp_src TEMPLATE media_tool_demo")
    uri = admin_uri.rsplit("/", 1)[0] + "/cmp_src"
    layout = ExportsLayout(tmp_path_factory.mktemp("compare") / "exports")
    try:
        _add_deletable_line_items(uri)
        _export(uri, layout, TS1)
        changes = _change_source(uri)
        _export(uri, layout, TS2)
        yield layout, changes
    finally:
        with psycopg.connect(admin_uri, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS cmp_src WITH (FORCE)")


def test_compare_reports_exactly_the_changes_made(demo_exports: tuple[ExportsLayout, Changes]) -> None:
    layout, changes = demo_exports
    report = compare_exports(layout, TS1, TS2, now=NOW)

    assert report["timestamp"] == "2025-01-03T12:00:00Z"
    assert (report["version1"], report["version2"]) == (TS1, TS2)
    details = report["details"]
    assert report["summary"]["total_tables"] == len(details) == 27
    assert report["summary"]["tables_with_changes"] == 4
    assert report["summary"]["total_records_v2"] == report["summary"]["total_records_v1"] + 3 - 2

    campaigns = details["campaigns"]
    assert (campaigns["added"], campaigns["removed"], campaigns["changed"]) == (3, 0, 4)
    assert campaigns["count_diff"] == 3 == campaigns["count_v2"] - campaigns["count_v1"]
    assert campaigns["count_diff_percent"] == f"{3 / campaigns['count_v1'] * 100:.2f}%"
    assert campaigns["field_changes"] == {"stage": 4}
    assert campaigns["examples"] == {
        "added": changes.added_campaigns, "removed": [], "changed": changes.updated_campaigns,
    }

    line_items = details["line_items"]
    assert (line_items["added"], line_items["removed"], line_items["changed"]) == (0, 2, 0)
    assert line_items["count_diff"] == -2
    assert line_items["examples"]["removed"] == changes.deleted_line_items

    users = details["users"]
    assert (users["added"], users["removed"], users["changed"]) == (0, 0, 1)
    assert users["field_changes"] == {"name": 1}
    assert users["examples"]["changed"] == [changes.updated_user]

    accounts = details["accounts"]
    assert accounts["schema"] == {"added_columns": ["region"], "removed_columns": [], "type_changes": []}
    assert (accounts["added"], accounts["removed"], accounts["changed"]) == (0, 0, 0)
    assert accounts["field_changes"] == {}

    for name, detail in details.items():
        if name not in {"campaigns", "line_items", "users", "accounts"}:
            assert (detail["added"], detail["removed"], detail["changed"]) == (0, 0, 0), name
            assert detail["count_v1"] == detail["count_v2"]
    assert report["transformed"] == {"campaigns": None}  # nothing transformed


def test_compare_transformed_campaigns_ignores_export_timestamp(
    demo_exports: tuple[ExportsLayout, Changes],
) -> None:
    layout, _ = demo_exports
    price = {"targetAmount": "1.00", "currency": "USD"}
    write_transformed(layout.root, TS1, [
        {"_id": "a", "stage": "Live", "price": price},
        {"_id": "b", "stage": "Live", "price": price},
        {"_id": "c", "stage": "Live", "price": price},
    ])
    write_transformed(layout.root, TS2, [
        {"_id": "b", "stage": "Closed", "price": price},  # changed
        {"_id": "c", "stage": "Live", "price": dict(reversed(price.items()))},  # same, keys reordered
        {"_id": "d", "stage": "Live", "price": price},  # added
    ])
    try:
        report = compare_exports(layout, TS1, TS2, now=NOW)
        assert report["transformed"] == {"campaigns": {"added": 1, "removed": 1, "changed": 1}}
    finally:
        for ts in (TS1, TS2):
            for path in (layout.root / "transformed" / ts).iterdir():
                path.unlink()
            (layout.root / "transformed" / ts).rmdir()


def test_render_all_formats(demo_exports: tuple[ExportsLayout, Changes]) -> None:
    layout, changes = demo_exports
    report = compare_exports(layout, TS1, TS2, now=NOW)

    assert json.loads(render(report, "json")) == report

    page = render(report, "html")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    for forbidden in ("http://", "https://", "<script src", "<link"):
        assert forbidden not in page
    for table in report["details"]:
        assert f"<td>{table}</td>" in page
    assert page.count('<tr class="changed">') >= 4
    assert changes.added_campaigns[0] in page

    markdown = render(report, "markdown")
    assert "## Summary" in markdown
    assert "| Table | Rows v1 | Rows v2 |" in markdown
    assert "### campaigns" in markdown and "### accounts" in markdown
    assert "| stage | 4 |" in markdown
    assert "Added columns: `region`" in markdown
    assert re.search(r"^\| campaigns \| [0-9,]+ \| [0-9,]+ \| \+3 \|", markdown, re.MULTILINE)


def test_missing_export_is_named(demo_exports: tuple[ExportsLayout, Changes]) -> None:
    layout, _ = demo_exports
    with pytest.raises(CompareError, match=f"export 20240101-000000 does not exist under {layout.root}"):
        compare_exports(layout, TS1, "20240101-000000")
    incomplete = layout.root / "raw" / "20240202-000000"
    incomplete.mkdir()
    (incomplete / "campaigns.json").write_text("[]\n")
    try:
        with pytest.raises(CompareError, match="export 20240202-000000 does not exist"):
            compare_exports(layout, "20240202-000000", TS2)
    finally:
        (incomplete / "campaigns.json").unlink()
        incomplete.rmdir()
    with pytest.raises(CompareError, match="invalid export timestamp"):
        compare_exports(layout, "../x", TS2)


# ---------------------------------------------------------------------------
# Hand-written exports: keys, schema changes, tables in one export only
# ---------------------------------------------------------------------------


def _small_exports(root: Path) -> ExportsLayout:
    write_raw_export(root, TS1, {
        "pairs": TableDef([("a", "integer"), ("b", "text"), ("val", "text")], ["a", "b"], [
            {"a": 1, "b": "x", "val": "p"}, {"a": 1, "b": "y", "val": "q"}, {"a": 2, "b": "x", "val": "r"},
        ]),
        "log": TableDef([("m", "text")], [], [{"m": "a"}, {"m": "a"}, {"m": "b"}]),
        "old_only": TableDef([("id", "integer")], ["id"], [{"id": 1}, {"id": 2}]),
        "typed": TableDef([("id", "integer"), ("amount", "integer"), ("flag", "jsonb")], ["id"], [
            {"id": 1, "amount": 1, "flag": {"on": True}}, {"id": 2, "amount": 2, "flag": {"on": 1}},
        ]),
        "nums": TableDef([("id", "bigint")], ["id"], []),
    })
    write_raw_export(root, TS2, {
        "pairs": TableDef([("a", "integer"), ("b", "text"), ("val", "text")], ["a", "b"], [
            {"a": 1, "b": "x", "val": "changed"},
            {"a": 2, "b": "x", "val": "r"},
            {"a": 3, "b": "z", "val": "s"},
        ]),
        "log": TableDef([("m", "text")], [], [{"m": "a"}, {"m": "c"}]),
        "new_only": TableDef([("id", "text")], ["id"], [{"id": "<b>&'\""}]),
        "typed": TableDef([("id", "integer"), ("amount", "numeric"), ("flag", "jsonb")], ["id"], [
            {"id": 1, "amount": "1.00", "flag": {"on": 1}}, {"id": 2, "amount": "2.00", "flag": {"on": 1}},
        ]),
        "nums": TableDef([("id", "bigint")], ["id"], [{"id": 10}, {"id": 2}, {"id": 9}]),
    })
    return ExportsLayout(root)


def test_composite_keys_no_key_and_one_sided_tables(tmp_path: Path) -> None:
    report = compare_exports(_small_exports(tmp_path), TS1, TS2, now=NOW)
    details = report["details"]
    assert sorted(details) == ["log", "new_only", "nums", "old_only", "pairs", "typed"]
    assert report["summary"]["tables_with_changes"] == 6

    pairs = details["pairs"]
    assert (pairs["added"], pairs["removed"], pairs["changed"]) == (1, 1, 1)
    assert pairs["examples"] == {"added": ['[3,"z"]'], "removed": ['[1,"y"]'], "changed": ['[1,"x"]']}
    assert pairs["field_changes"] == {"val": 1}

    log = details["log"]
    assert (log["added"], log["removed"], log["changed"]) == (1, 2, 0)
    assert log["examples"] == {"added": ['{"m":"c"}'], "removed": ['{"m":"a"}', '{"m":"b"}'], "changed": []}

    old_only = details["old_only"]
    assert (old_only["count_v1"], old_only["count_v2"], old_only["removed"]) == (2, 0, 2)
    assert old_only["count_diff_percent"] == "-100.00%"
    assert old_only["schema"]["removed_columns"] == ["id"]

    new_only = details["new_only"]
    assert (new_only["added"], new_only["count_diff_percent"]) == (1, "n/a")
    assert new_only["schema"]["added_columns"] == ["id"]

    typed = details["typed"]
    assert typed["schema"]["type_changes"] == [{"column": "amount", "from": "integer", "to": "numeric"}]
    assert typed["changed"] == 2
    assert typed["field_changes"] == {"amount": 2, "flag": 1}  # true → 1 is a change, 1 → 1 is not

    assert details["nums"]["examples"]["added"] == ["2", "9", "10"]  # numeric keys sort as numbers
    assert report["transformed"] == {"campaigns": None}


def test_html_and_markdown_escape_values(tmp_path: Path) -> None:
    report = compare_exports(_small_exports(tmp_path), TS1, TS2, now=NOW)
    page = render(report, "html")
    assert "<b>&" not in page
    assert "&lt;b&gt;&amp;&#x27;&quot;" in page
    markdown = render(report, "markdown")
    assert "Not compared" in markdown
    assert "`[1,\"x\"]`" in markdown


def test_report_path_and_atomic_write(tmp_path: Path) -> None:
    layout = ExportsLayout(tmp_path)
    expected = tmp_path / "comparison-reports" / f"compare-{TS1}-vs-{TS2}"
    assert default_report_path(layout, TS1, TS2, "json") == expected.with_suffix(".json")
    assert default_report_path(layout, TS1, TS2, "html") == expected.with_suffix(".html")
    path = default_report_path(layout, TS1, TS2, "markdown")
    assert path == expected.with_suffix(".md")
    write_report(path, "first\n")
    write_report(path, "second\n")
    assert path.read_text() == "second\n"
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_corrupt_row_is_reported(tmp_path: Path) -> None:
    layout = _small_exports(tmp_path)
    (tmp_path / "raw" / TS2 / "pairs.json").write_text('[\n{"a":1,"b":"x","val":\n]\n')
    with pytest.raises(CompareError, match=r"pairs\.json"):
        compare_exports(layout, TS1, TS2)


# ---------------------------------------------------------------------------
# Memory: ~60 MB per file, compared in a subprocess
# ---------------------------------------------------------------------------

MEMORY_ROWS = 20_000
COMPARE_IN_SUBPROCESS = """
import json, resource, sys, time
from pathlib import Path
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.compare import compare_exports
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
report = compare_exports(ExportsLayout(Path(sys.argv[1])), sys.argv[2], sys.argv[3])
seconds = time.perf_counter() - started
detail = report["details"]["wide"]
print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "before_kb": before,
                  "seconds": seconds, "detail": detail}))
"""


def _wide_row(i: int, *, name: str = "", doc_version: int = 0) -> dict[str, Any]:
    payload = hashlib.md5(str(i).encode()).hexdigest() * 90  # ~2.9 KB
    return {"id": i, "name": name or f"row {i}", "doc": {"v": doc_version, "text": payload, "n": [i, -i]}}


def _wide_rows(*, version: int) -> Iterator[dict[str, Any]]:
    for i in range(1, MEMORY_ROWS + 1):
        if version == 2 and i <= 50:
            continue  # removed
        renamed = version == 2 and i % 100 == 0
        redoc = version == 2 and i % 250 == 1
        row = _wide_row(i, name=f"renamed {i}" if renamed else "", doc_version=1 if redoc else 0)
        yield row if version == 1 else {**row, "extra": None}
    if version == 2:
        for i in range(MEMORY_ROWS + 1, MEMORY_ROWS + 31):
            yield {**_wide_row(i), "extra": None}


def test_compare_memory_stays_small(tmp_path: Path) -> None:
    """Version 2 adds a column, so every row's text differs and every row is compared field by field."""
    columns = [("id", "bigint"), ("name", "text"), ("doc", "jsonb")]
    write_raw_export(tmp_path, TS1, {"wide": TableDef(columns, ["id"], _wide_rows(version=1))})
    write_raw_export(
        tmp_path, TS2, {"wide": TableDef([*columns, ("extra", "text")], ["id"], _wide_rows(version=2))}
    )
    size = (tmp_path / "raw" / TS1 / "wide.json").stat().st_size
    assert size > 55_000_000

    completed = subprocess.run(
        [sys.executable, "-c", COMPARE_IN_SUBPROCESS, str(tmp_path), TS1, TS2],
        capture_output=True, text=True, check=True,
    )
    result = json.loads(completed.stdout)
    detail = result["detail"]
    renamed = MEMORY_ROWS // 100
    redocs = len([i for i in range(51, MEMORY_ROWS + 1) if i % 250 == 1])
    assert (detail["added"], detail["removed"], detail["changed"]) == (30, 50, renamed + redocs)
    assert detail["field_changes"] == {"name": renamed, "doc": redocs}
    assert detail["examples"]["removed"] == [str(i) for i in range(1, 11)]
    assert detail["schema"]["added_columns"] == ["extra"]
    # ru_maxrss survives exec: the child starts with the peak of the pytest process that forked it,
    # so only the growth during the compare says anything about the compare.
    rss_mb, growth_mb = result["rss_kb"] / 1024, (result["rss_kb"] - result["before_kb"]) / 1024
    print(f"compare of 2 × {size / 1e6:.0f} MB: {result['seconds']:.1f}s, "
          f"peak RSS {rss_mb:.0f} MB (+{growth_mb:.0f} MB during compare)")
    assert growth_mb < 100, f"compare grew the process by {growth_mb:.0f} MB"


def test_identical_tables_skip_the_row_diff_but_are_still_verified(tmp_path: Path) -> None:
    tables = {"t": TableDef([("id", "integer"), ("v", "text")], ["id"], [{"id": i, "v": f"x{i}"} for i in range(5)])}
    for ts in (TS1, TS2):
        write_raw_export(tmp_path, ts, tables)
        refresh_summary(tmp_path / "raw" / ts)  # the summaries record each file's sha256
    layout = ExportsLayout(tmp_path)
    detail = compare_exports(layout, TS1, TS2, now=NOW)["details"]["t"]
    assert (detail["count_v1"], detail["count_v2"], detail["added"], detail["removed"], detail["changed"]) == (
        5, 5, 0, 0, 0)
    assert detail["examples"] == {"added": [], "removed": [], "changed": []} and detail["field_changes"] == {}
    changed = tmp_path / "raw" / TS2 / "t.json"
    changed.write_bytes(changed.read_bytes().replace(b'"x3"', b'"y3"'))  # same size, other bytes
    with pytest.raises(CompareError, match=r"t\.json"):
        compare_exports(layout, TS1, TS2, now=NOW)
