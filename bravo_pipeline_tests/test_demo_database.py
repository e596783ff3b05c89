"""The demo source database, built for real on the session's embedded server at scale 0.01."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bravo_pipeline.demo_database import (
    DemoDatabase,
    build_demo_database,
    demo_database_scale,
)
from bravo_pipeline.source.tables import FIXED_SIZE_TABLES, KNOWN_TABLES, ROWS_AT_SCALE_1

DATABASE = "demo_test_small"
SCHEMA = "media_tool"
SCALE = 0.01

CAMPAIGN_COLUMNS = [
    ("id", "text"),
    ("campaign_number", "text"),
    ("campaign_name", "text"),
    ("account_id", "text"),
    ("agency_id", "text"),
    ("budget", "money"),
    ("proposed_budget", "numeric"),
    ("expected_revenue", "numeric"),
    ("stage", "text"),
    ("flight_date", "timestamp without time zone"),
    ("end_date", "timestamp without time zone"),
    ("goals_kpis", "text"),
    ("new_business", "boolean"),
    ("owner_user_id", "text"),
    ("lead_account_owner_user_id", "text"),
    ("sales_rep_user_id", "text"),
    ("created_at", "timestamp without time zone"),
    ("updated_at", "timestamp without time zone"),
    ("modified_time", "timestamp without time zone"),
    ("is_deleted", "boolean"),
]


def _drop(admin_uri: str, database: str) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def _uri(admin_uri: str, database: str = DATABASE) -> str:
    return admin_uri.rsplit("/", 1)[0] + "/" + database


def _rows(admin_uri: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(_uri(admin_uri), autocommit=True) as conn:
        conn.execute(f"SET search_path = {SCHEMA}")
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def _scalar(admin_uri: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    return _rows(admin_uri, query, params)[0][0]


def _primary_keys(admin_uri: str) -> dict[str, list[str]]:
    rows = _rows(
        admin_uri,
        "SELECT c.conrelid::regclass::text, array_agg(a.attname ORDER BY k.ord)"
        " FROM pg_constraint c"
        " CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
        " WHERE c.contype = 'p' AND c.connamespace = %s::regnamespace"
        " GROUP BY c.conrelid",
        (SCHEMA,),
    )
    return {name.rsplit(".", 1)[-1]: list(columns) for name, columns in rows}


def _digests(admin_uri: str) -> dict[str, str | None]:
    keys = _primary_keys(admin_uri)
    digests: dict[str, str | None] = {}
    for table in KNOWN_TABLES:
        order = ", ".join(f"t.{column}" for column in keys[table])
        digests[table] = _scalar(
            admin_uri, f"SELECT md5(string_agg(t::text, '|' ORDER BY {order})) FROM {table} t"
        )
    return digests


def _expected_counts(scale: float) -> dict[str, int]:
    expected = {}
    for table in KNOWN_TABLES:
        base = ROWS_AT_SCALE_1[table]
        if base == 0 or table in FIXED_SIZE_TABLES:
            expected[table] = base
        else:
            expected[table] = max(1, round(base * scale))
    expected["strategies"] = expected["campaigns"]
    return expected


@pytest.fixture(scope="module")
def demo(admin_uri: str) -> Iterator[tuple[DemoDatabase, list[str]]]:
    messages: list[str] = []
    result = build_demo_database(
        admin_uri, database=DATABASE, scale=SCALE, reset=True, progress=messages.append
    )
    yield result, messages
    _drop(admin_uri, DATABASE)


def test_all_tables_exist_with_primary_keys(demo: tuple[DemoDatabase, list[str]], admin_uri: str) -> None:
    tables = {
        name
        for (name,) in _rows(admin_uri, "SELECT tablename FROM pg_tables WHERE schemaname = %s", (SCHEMA,))
    }
    assert tables == set(KNOWN_TABLES)
    keys = _primary_keys(admin_uri)
    assert set(keys) == set(KNOWN_TABLES)
    assert keys["reps_x_teams"] == ["rep_id", "team_id"]
    assert keys["tactic_media_platforms"] == ["tactic_id", "media_platform_id"]
    assert keys["platform_buy_daily_impressions"] == ["date", "media_buy_id"]
    assert keys["platform_buy_daily_videos"] == ["date", "media_buy_id"]
    assert keys["line_items_history"] == ["history_id"]
    unlogged = _scalar(
        admin_uri,
        "SELECT count(*) FROM pg_class WHERE relnamespace = %s::regnamespace AND relpersistence <> 'p'",
        (SCHEMA,),
    )
    assert unlogged == 0


def test_row_counts_follow_the_scaling_rule(demo: tuple[DemoDatabase, list[str]], admin_uri: str) -> None:
    result, messages = demo
    expected = _expected_counts(SCALE)
    assert result.row_counts == expected
    assert (result.database, result.schema, result.scale) == (DATABASE, SCHEMA, SCALE)
    for table in KNOWN_TABLES:
        assert _scalar(admin_uri, f"SELECT count(*) FROM {table}") == expected[table], table
    assert sorted(messages) == sorted(f"{t}: {n} rows" for t, n in expected.items())


def test_campaigns_has_exactly_the_spec_columns(demo: tuple[DemoDatabase, list[str]], admin_uri: str) -> None:
    columns = _rows(
        admin_uri,
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = 'campaigns' ORDER BY ordinal_position",
        (SCHEMA,),
    )
    assert columns == CAMPAIGN_COLUMNS


@pytest.mark.parametrize(
    ("table", "column", "udt", "precision", "scale"),
    [
        ("media_buys", "budget", "money", None, None),
        ("media_buys", "spend", "numeric", 18, 6),
        ("media_buys", "campaign_numbers", "_text", None, None),
        ("line_items", "media_trader_user_ids", "_uuid", None, None),
        ("line_items", "media_platform_ids", "_int4", None, None),
        ("line_items", "pacing_details", "jsonb", None, None),
        ("line_items", "target_margin", "numeric", 9, 6),
        ("line_items", "price", "numeric", 18, 6),
        ("line_items", "id", "uuid", None, None),
        ("media_platform_entities", "metadata", "jsonb", None, None),
        ("media_platform_entities", "id", "int8", None, None),
        ("line_item_media_buys", "planned_units", "int8", None, None),
        ("line_item_media_buys", "start_date", "date", None, None),
        ("users", "modified_time", "timestamp", None, None),
        ("media_buys_history", "history_id", "int8", None, None),
        ("media_buys_history", "budget", "money", None, None),
    ],
)
def test_column_types(
    demo: tuple[DemoDatabase, list[str]],
    admin_uri: str,
    table: str,
    column: str,
    udt: str,
    precision: int | None,
    scale: int | None,
) -> None:
    row = _rows(
        admin_uri,
        "SELECT udt_name, numeric_precision, numeric_scale FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s AND column_name = %s",
        (SCHEMA, table, column),
    )
    assert row, f"{table}.{column} missing"
    got_udt, got_precision, got_scale = row[0]
    assert got_udt == udt
    if precision is not None:
        assert (got_precision, got_scale) == (precision, scale)


def test_history_tables_hold_every_base_column(demo: tuple[DemoDatabase, list[str]], admin_uri: str) -> None:
    query = (
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"
    )
    for table in KNOWN_TABLES:
        if not table.endswith("_history"):
            continue
        history = _rows(admin_uri, query, (SCHEMA, table))
        base = _rows(admin_uri, query, (SCHEMA, table.removesuffix("_history")))
        assert history[:2] == [("history_id", "bigint"), ("changeset_id", "bigint")], table
        assert set(base) <= set(history), table


DIRTY_EDGES = {
    "null campaign names": "SELECT count(*) FROM campaigns WHERE campaign_name IS NULL",
    "null campaign budgets": "SELECT count(*) FROM campaigns WHERE budget IS NULL",
    "budget over a million": "SELECT count(*) FROM campaigns WHERE budget::numeric > 1000000",
    "negative budget": "SELECT count(*) FROM campaigns WHERE budget::numeric < 0",
    "media buy budget over a million": "SELECT count(*) FROM media_buys WHERE budget::numeric > 1000000",
    "negative media buy budget": "SELECT count(*) FROM media_buys WHERE budget::numeric < 0",
    "non-ASCII campaign names": "SELECT count(*) FROM campaigns WHERE campaign_name ~ '[^\\x01-\\x7f]'",
    "CJK names": "SELECT count(*) FROM campaigns WHERE campaign_name ~ '[\\u4e00-\\u9fff]'",
    "emoji names": "SELECT count(*) FROM campaigns WHERE campaign_name ~ '[\\U0001F300-\\U0001FAFF]'",
    "double quotes in names": "SELECT count(*) FROM campaigns WHERE strpos(campaign_name, '\"') > 0",
    "backslash in text": "SELECT count(*) FROM campaigns WHERE strpos(goals_kpis, E'\\\\') > 0",
    "newline in text": "SELECT count(*) FROM campaigns WHERE strpos(goals_kpis, E'\\n') > 0",
    "soft-deleted campaigns": "SELECT count(*) FROM campaigns WHERE is_deleted",
    "soft-deleted line items": "SELECT count(*) FROM line_items WHERE is_deleted",
    "soft-deleted accounts": "SELECT count(*) FROM accounts WHERE is_deleted",
    "null modified_time": "SELECT count(*) FROM campaigns WHERE modified_time IS NULL",
    "campaign with an agency": "SELECT count(*) FROM campaigns c JOIN accounts a ON a.id = c.agency_id"
    " WHERE c.agency_id <> c.account_id",
    "uuid[] holding a NULL": "SELECT count(*) FROM line_items"
    " WHERE array_position(media_trader_user_ids, NULL) IS NOT NULL",
    "int[] holding a NULL": "SELECT count(*) FROM line_items"
    " WHERE array_position(media_platform_ids, NULL) IS NOT NULL",
    "empty uuid[]": "SELECT count(*) FROM line_items WHERE media_trader_user_ids = '{}'",
    "empty int[]": "SELECT count(*) FROM line_items WHERE media_platform_ids = '{}'",
    "empty text[]": "SELECT count(*) FROM media_buys WHERE campaign_numbers = '{}'",
    "orphan strategies": "SELECT count(*) FROM strategies s"
    " WHERE NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = s.campaign_id)",
    "campaigns without strategy": "SELECT count(*) FROM campaigns c"
    " WHERE NOT EXISTS (SELECT 1 FROM strategies s WHERE s.campaign_id = c.id)",
    "orphan line items": "SELECT count(*) FROM line_items li"
    " WHERE NOT EXISTS (SELECT 1 FROM strategies s WHERE s.id = li.strategy_id)",
    "trader ids matching no user": "SELECT count(*) FROM line_items li, unnest(li.media_trader_user_ids) u"
    " WHERE u IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE users.id = u)",
    "trader ids matching a user": "SELECT count(*) FROM line_items li, unnest(li.media_trader_user_ids) u"
    " JOIN users ON users.id = u",
    "owner matching no user": "SELECT count(*) FROM campaigns c"
    " WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.zoho_user_id = c.owner_user_id)",
    "nested jsonb metadata": "SELECT count(*) FROM media_platform_entities"
    " WHERE jsonb_typeof(metadata -> 'targeting' -> 'geo_locations') = 'object'"
    " AND jsonb_typeof(metadata -> 'targeting' -> 'interests') = 'array'",
    "nested jsonb pacing details": "SELECT count(*) FROM line_items"
    " WHERE jsonb_typeof(pacing_details -> 'rules') = 'object'",
    "null pacing details": "SELECT count(*) FROM line_items WHERE pacing_details IS NULL",
    "timestamps with microseconds": "SELECT count(*) FROM campaigns"
    " WHERE created_at <> date_trunc('second', created_at)",
}


@pytest.mark.parametrize("edge", sorted(DIRTY_EDGES))
def test_dirty_edges_are_present(demo: tuple[DemoDatabase, list[str]], admin_uri: str, edge: str) -> None:
    assert _scalar(admin_uri, DIRTY_EDGES[edge]) > 0, edge


def test_ids_and_realism(demo: tuple[DemoDatabase, list[str]], admin_uri: str) -> None:
    assert _scalar(admin_uri, "SELECT bool_and(id ~ '^[0-9]{19}$') FROM campaigns")
    assert _scalar(admin_uri, "SELECT bool_and(id ~ '^[0-9]{19}$') FROM accounts")
    assert _scalar(admin_uri, "SELECT bool_and(zoho_user_id ~ '^[0-9]{19}$') FROM users")
    assert _scalar(admin_uri, "SELECT bool_and(campaign_number ~ '^CN-[0-9]+$') FROM campaigns")
    assert _rows(admin_uri, "SELECT name FROM channels ORDER BY id")[0] == ("Display",)
    lead = _scalar(
        admin_uri, "SELECT avg((lead_account_owner_user_id IS NOT NULL)::int) FROM campaigns"
    )
    assert 0.8 < lead < 0.95
    metadata_size = _scalar(admin_uri, "SELECT avg(length(metadata::text)) FROM media_platform_entities")
    assert 3000 < metadata_size < 4500


def test_same_scale_is_deterministic(demo: tuple[DemoDatabase, list[str]], admin_uri: str) -> None:
    before = _digests(admin_uri)
    rebuilt = build_demo_database(admin_uri, database=DATABASE, scale=SCALE, reset=True)
    assert rebuilt.row_counts == demo[0].row_counts
    assert _digests(admin_uri) == before


def test_existing_complete_database_is_reused(demo: tuple[DemoDatabase, list[str]], admin_uri: str) -> None:
    assert demo_database_scale(admin_uri, DATABASE, SCHEMA) == SCALE
    before = _digests(admin_uri)
    oid_before = _scalar(admin_uri, "SELECT oid FROM pg_database WHERE datname = current_database()")
    started = time.monotonic()
    again = build_demo_database(admin_uri, database=DATABASE, scale=SCALE)
    assert time.monotonic() - started < 2
    assert again.row_counts == demo[0].row_counts
    assert _scalar(admin_uri, "SELECT oid FROM pg_database WHERE datname = current_database()") == oid_before
    assert _scalar(admin_uri, "SELECT obj_description(%s::regnamespace, 'pg_namespace')", (SCHEMA,)) == (
        f"bravo-demo scale={SCALE} complete"
    )
    assert _digests(admin_uri) == before


def test_incomplete_or_other_scale_is_rebuilt(admin_uri: str) -> None:
    database = "demo_test_rebuild"
    try:
        build_demo_database(admin_uri, database=database, scale=0.002, reset=True)
        assert demo_database_scale(admin_uri, database) == 0.002
        with psycopg.connect(_uri(admin_uri, database), autocommit=True) as conn:
            conn.execute(f"COMMENT ON SCHEMA {SCHEMA} IS NULL")  # as if the build had crashed
        assert demo_database_scale(admin_uri, database) is None
        rebuilt = build_demo_database(admin_uri, database=database, scale=0.002)
        assert demo_database_scale(admin_uri, database) == 0.002
        assert rebuilt.row_counts == _expected_counts(0.002)
        other = build_demo_database(admin_uri, database=database, scale=0.003)
        assert demo_database_scale(admin_uri, database) == 0.003
        assert other.row_counts == _expected_counts(0.003)
    finally:
        _drop(admin_uri, database)
    assert demo_database_scale(admin_uri, database) is None


@pytest.mark.parametrize("scale", [0, -1, 20.5, math.nan])
def test_invalid_scale_raises(admin_uri: str, scale: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        build_demo_database(admin_uri, database="demo_test_never_created", scale=scale)
    assert demo_database_scale(admin_uri, "demo_test_never_created") is None
