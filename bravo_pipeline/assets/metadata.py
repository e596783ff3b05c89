"""Small, useful metadata for the UI: column schemas and short previews."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

from dagster import TableColumn, TableSchema

from bravo_pipeline.source.catalog import Table

PREVIEW_ROWS = 5
PREVIEW_VALUE_CHARS = 120


def table_column_schema(table: Table) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn(
                name=column.name,
                type=column.type,
                description="primary key" if column.name in table.primary_key else None,
            )
            for column in table.columns
        ]
    )


def _shorten(value: object) -> object:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and len(value) > PREVIEW_VALUE_CHARS:
        return value[:PREVIEW_VALUE_CHARS] + "…"
    return value


def preview_rows(path: Path, rows: int = PREVIEW_ROWS) -> list[dict[str, object]]:
    """The first rows of a one-row-per-line JSON array file, long values shortened."""
    preview = []
    with path.open(encoding="utf-8") as handle:
        for line in islice(handle, 1, rows + 1):
            line = line.rstrip().rstrip(",")
            if not line.startswith("{"):
                break
            row = json.loads(line)
            preview.append({key: _shorten(value) for key, value in row.items()})
    return preview
