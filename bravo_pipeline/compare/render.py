"""A compare report as JSON, Markdown or HTML, and written to its file."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from bravo_pipeline.compare.reading import CompareError
from bravo_pipeline.compare.report import has_changes
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.names import comparison_report_file
from bravo_pipeline.timestamps import validate_timestamp

Format = Literal["json", "html", "markdown"]
_EXTENSIONS: dict[str, str] = {"json": "json", "html": "html", "markdown": "md"}


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


def changed_tables_markdown(details: dict[str, Any]) -> str:
    """The tables that changed (rows or schema, `has_changes`) as a short Markdown table."""
    lines = ["| table | rows before | rows after | added | removed | changed |", "|---|---|---|---|---|---|"]
    for table, entry in sorted(details.items()):
        if has_changes(entry):
            lines.append(f"| {_md(table)} | {entry['count_v1']} | {entry['count_v2']} | {entry['added']} | "
                         f"{entry['removed']} | {entry['changed']} |")
    return "\n".join(lines) if len(lines) > 2 else "No table changed."


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

