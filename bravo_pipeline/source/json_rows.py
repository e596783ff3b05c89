"""SQL that makes PostgreSQL write one table as JSON rows in the export format.

PostgreSQL builds every row's JSON itself (`row_to_json`); each column is first
projected so that its JSON form is the one the spec asks for:

- numeric and money → exact decimal strings (money via numeric: never its
  locale-formatted text);
- timestamp → ISO 8601 UTC with `Z`, fractional seconds as stored; `infinity` and
  `-infinity` as those words; a year outside 1-9999 in ISO 8601's expanded form
  with a sign and astronomical numbering (1 BC is `+0000`, 2 BC `-0001`,
  10000 AD `+10000`);
- bytea → base64 without line breaks;
- json → jsonb (normalised, so a row never contains a raw newline);
- everything else → PostgreSQL's own JSON (numbers, booleans, dates, arrays, jsonb).

The COPY uses CSV with control characters as quote and delimiter: JSON text
never contains either, so the rows arrive verbatim (COPY's text format would
double every backslash).
"""

from __future__ import annotations

from psycopg import sql

from bravo_pipeline.source.catalog import Column, Table

_DECIMAL_TYPES = {"numeric", "money"}
_UNORDERABLE_TYPES = {"json", "xml", "point", "polygon", "line", "circle", "box", "path"}

COPY_OPTIONS = sql.SQL("(FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')")


def _utc_text(value: sql.Composable) -> sql.Composable:
    """`value` (a timestamp, in UTC) as the export's text: see the module docstring."""
    return sql.SQL(
        "CASE WHEN {0} >= '0001-01-01' AND {0} < '10000-01-01' THEN (to_json({0})#>>'{{}}') || 'Z' "
        "WHEN NOT isfinite({0}) THEN {0}::text "
        "ELSE (SELECT CASE WHEN y < 0 THEN '-' ELSE '+' END "
        "|| lpad(abs(y)::text, greatest(4, length(abs(y)::text)), '0') "
        "|| regexp_replace(replace(to_json({0})#>>'{{}}', ' BC', ''), '^[0-9]+', '') || 'Z' "
        "FROM (SELECT CASE WHEN extract(year FROM {0}) < 0 THEN extract(year FROM {0})::int + 1 "
        "ELSE extract(year FROM {0})::int END AS y) AS astronomical) END"
    ).format(value)


def _each_element(ident: sql.Composable, element: sql.Composable) -> sql.Composable:
    """Apply `element` (written in terms of `x`) to every element of a one-dimensional array, keeping nulls."""
    return sql.SQL(
        "CASE WHEN {0} IS NULL THEN NULL ELSE COALESCE((SELECT array_agg({1} ORDER BY o) "
        "FROM unnest({0}) WITH ORDINALITY AS u(x, o)), '{{}}'::text[]) END"
    ).format(ident, element)


def column_projection(column: Column) -> sql.Composable:
    ident = sql.Identifier(column.name)
    base, is_array = column.base_type, column.is_array
    if base in _DECIMAL_TYPES:
        target = "numeric[]::text[]" if is_array else "numeric::text"
        expression: sql.Composable = sql.SQL("{}::" + target).format(ident)
    elif base == "timestamp":
        expression = _each_element(ident, _utc_text(sql.SQL("x"))) if is_array else _utc_text(ident)
    elif base == "timestamptz":
        utc = sql.SQL("({} AT TIME ZONE 'UTC')")
        expression = (_each_element(ident, _utc_text(utc.format(sql.SQL("x")))) if is_array
                      else _utc_text(utc.format(ident)))
    elif base == "bytea" and not is_array:
        expression = sql.SQL("translate(encode({}, 'base64'), E'\\n', '')").format(ident)
    elif base == "json":
        expression = sql.SQL("{}::jsonb" + ("[]" if is_array else "")).format(ident)
    else:
        return ident
    return sql.SQL("{} AS {}").format(expression, ident)


def order_by(table: Table) -> sql.Composable:
    # Qualified names: an unqualified ORDER BY name would sort by the projected text.
    if table.primary_key:
        return sql.SQL(", ").join(sql.Identifier("src", name) for name in table.primary_key)
    keys = []
    for column in table.columns:
        ident = sql.Identifier("src", column.name)
        if column.base_type in _UNORDERABLE_TYPES:
            keys.append(sql.SQL("{}::text").format(ident))
        else:
            keys.append(ident)
    return sql.SQL(", ").join(keys)


def select_json_rows(schema: str, table: Table, where: sql.Composable | None = None) -> sql.Composable:
    """SELECT returning one JSON text per row, ordered by primary key; `where` (on `src`) narrows it."""
    projections = sql.SQL(", ").join(column_projection(column) for column in table.columns)
    condition = sql.SQL(" WHERE {}").format(where) if where is not None else sql.SQL("")
    return sql.SQL(
        "SELECT row_to_json(_row.*)::text FROM (SELECT {} FROM {}.{} AS src{} ORDER BY {}) AS _row"
    ).format(projections, sql.Identifier(schema), sql.Identifier(table.name), condition, order_by(table))


def copy_json_rows(schema: str, table: Table, where: sql.Composable | None = None) -> sql.Composable:
    return sql.SQL("COPY ({}) TO STDOUT {}").format(select_json_rows(schema, table, where), COPY_OPTIONS)
