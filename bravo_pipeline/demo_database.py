"""The demo source database `media_tool`, generated entirely inside PostgreSQL.

Every table of shared/spec/source-schema.md is filled with one
`INSERT ... SELECT ... FROM generate_series(...)`: each value is derived from
the row number (md5, modulo arithmetic, fixed base timestamps), so one scale
always gives the same rows. The dirty edges of production data (null names and
budgets, soft deletes, non-ASCII text, quotes, backslashes and newlines, money
over a million and negative, arrays holding nulls, dangling references) occur
at every scale from 0.01 up.

Tables load in parallel (one transaction per table), then foreign keys and
indexes are added, the database is analysed and, last, a completion marker is
written as the schema comment, so an interrupted build is detected and redone.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from psycopg import sql

from bravo_pipeline.source.connection import database_exists
from bravo_pipeline.source.tables import FIXED_SIZE_TABLES, KNOWN_TABLES, ROWS_AT_SCALE_1
from bravo_pipeline.uris import with_database

MAX_SCALE = 20.0
WORKERS = 2
MARKER_PREFIX = "bravo-demo scale="
MARKER_SUFFIX = " complete"
_MARKER_RE = re.compile(r"^bravo-demo scale=(\S+) complete$")

# Id bases: 19-digit Zoho-style ids, one range per kind of object.
ZOHO_BASE = 2_461_504_000_000_000_000
ACCOUNT_BASE = ZOHO_BASE + 10_000_000
CAMPAIGN_BASE = ZOHO_BASE + 200_000_000
USER_BASE = ZOHO_BASE + 870_000
REP_BASE = ZOHO_BASE + 950_000
GHOST_USER_BASE = ZOHO_BASE + 9_900_000_000  # zoho ids that match no user
GHOST_CAMPAIGN_BASE = ZOHO_BASE + 9_990_000_000  # campaign ids that do not exist
ENTITY_BASE = 23_840_000_000  # media_platform_entities.id = ENTITY_BASE + n
LINE_ITEMS_PER_STRATEGY = 4  # for the strategies that have line items at all


@dataclass(frozen=True)
class DemoDatabase:
    database: str
    schema: str
    scale: float
    row_counts: dict[str, int]  # table -> rows actually present
    seconds: float


@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    expr: str  # SQL in terms of `i` (bigint row number from 1) and the table's lateral


@dataclass(frozen=True)
class _Table:
    name: str
    rows: int
    columns: tuple[_Column, ...]
    primary_key: tuple[str, ...]
    lateral: str = ""  # extra FROM item(s) evaluated per row, e.g. ", LATERAL (...) d"
    row_var: str = "i"  # name of the generate_series row number


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def demo_database_scale(
    admin_uri: str, database: str = "media_tool", schema: str = "media_tool"
) -> float | None:
    """Scale of an existing complete demo database, or None when absent/incomplete."""
    if not _database_exists(admin_uri, database):
        return None
    with psycopg.connect(with_database(admin_uri, database), autocommit=True) as conn:
        return _read_marker(conn, schema)


def build_demo_database(
    admin_uri: str,
    *,
    database: str = "media_tool",
    schema: str = "media_tool",
    scale: float = 0.1,
    reset: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DemoDatabase:
    """Create (or reuse) the demo database at `scale`; see the module docstring."""
    _check_scale(scale)
    started = time.monotonic()
    target_uri = with_database(admin_uri, database)
    with psycopg.connect(admin_uri, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"bravo-demo:{database}",))
        if not reset and demo_database_scale(admin_uri, database, schema) == scale:
            counts = _row_counts(target_uri, schema)
            return DemoDatabase(database, schema, scale, counts, time.monotonic() - started)
        _recreate_database(admin, database)
        _build(target_uri, schema, scale, progress)
        admin.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"bravo-demo:{database}",))
    counts = _row_counts(target_uri, schema)
    return DemoDatabase(database, schema, scale, counts, time.monotonic() - started)


def scaled_row_counts(scale: float) -> dict[str, int]:
    """Rows each table gets at `scale` (fixed-size tables keep their size, empty stay empty)."""
    _check_scale(scale)
    counts: dict[str, int] = {}
    for table in KNOWN_TABLES:
        base = ROWS_AT_SCALE_1[table]
        if base == 0 or table in FIXED_SIZE_TABLES:
            counts[table] = base
        else:
            counts[table] = max(1, round(base * scale))
    counts["strategies"] = counts["campaigns"]
    return counts


# ---------------------------------------------------------------------------
# Database housekeeping
# ---------------------------------------------------------------------------


def _check_scale(scale: float) -> None:
    if not 0 < scale <= MAX_SCALE:
        raise ValueError(f"demo scale must be > 0 and <= {MAX_SCALE:g}, got {scale!r}")


def _database_exists(admin_uri: str, database: str) -> bool:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        return database_exists(conn, database)


def _marker(scale: float) -> str:
    return f"{MARKER_PREFIX}{scale!r}{MARKER_SUFFIX}"


def _read_marker(conn: psycopg.Connection, schema: str) -> float | None:
    row = conn.execute(
        "SELECT obj_description(oid, 'pg_namespace'),"
        " (SELECT count(*) FROM pg_tables t WHERE t.schemaname = n.nspname"
        "  AND t.tablename = ANY(%s))"
        " FROM pg_namespace n WHERE nspname = %s",
        (list(KNOWN_TABLES), schema),
    ).fetchone()
    if row is None or row[0] is None or row[1] != len(KNOWN_TABLES):
        return None
    match = _MARKER_RE.match(row[0])
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None


def _recreate_database(admin: psycopg.Connection, database: str) -> None:
    name = sql.Identifier(database)
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    admin.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(name)
    )


def _connect(uri: str, schema: str) -> psycopg.Connection:
    conn = psycopg.connect(uri, autocommit=True)
    conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
    conn.execute("SET TIME ZONE 'UTC'")
    return conn


def _row_counts(uri: str, schema: str) -> dict[str, int]:
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, count(*) FROM {}").format(
            sql.Literal(table), sql.Identifier(schema, table)
        )
        for table in KNOWN_TABLES
    )
    with psycopg.connect(uri, autocommit=True) as conn:
        found = {name: int(count) for name, count in conn.execute(query).fetchall()}
    return {table: found[table] for table in KNOWN_TABLES}


# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------


def _build(
    uri: str, schema: str, scale: float, progress: Callable[[str], None] | None
) -> None:
    tables = _all_tables(scaled_row_counts(scale))
    with _connect(uri, "public") as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    _load_tables(uri, schema, tables, progress)
    with _connect(uri, schema) as conn:
        with conn.transaction():
            for statement in _constraints_and_indexes():
                conn.execute(statement)
        conn.execute("ANALYZE")
        conn.execute(
            sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                sql.Identifier(schema), sql.Literal(_marker(scale))
            )
        )


def _load_tables(
    uri: str, schema: str, tables: list[_Table], progress: Callable[[str], None] | None
) -> None:
    """Load the tables over WORKERS connections, biggest first, one transaction per table."""
    todo: queue.Queue[_Table] = queue.Queue()
    for table in sorted(tables, key=_cost, reverse=True):
        todo.put(table)
    lock = threading.Lock()

    def worker() -> None:
        with _connect(uri, schema) as conn:
            while True:
                try:
                    table = todo.get_nowait()
                except queue.Empty:
                    return
                with conn.transaction():
                    for statement in _table_statements(table):
                        conn.execute(statement)
                if progress is not None:
                    with lock:
                        progress(f"{table.name}: {table.rows} rows")

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for future in [pool.submit(worker) for _ in range(WORKERS)]:
            future.result()


def _cost(table: _Table) -> int:
    weight = 25 if table.name == "media_platform_entities" else 1
    return table.rows * weight * len(table.columns)


def _table_statements(table: _Table) -> list[str]:
    columns = ",\n  ".join(f"{c.name} {c.type}" for c in table.columns)
    statements = [f"CREATE TABLE {table.name} (\n  {columns}\n)"]
    if table.rows > 0:
        names = ", ".join(c.name for c in table.columns)
        exprs = ",\n  ".join(c.expr for c in table.columns)
        statements.append(
            f"INSERT INTO {table.name} ({names})\nSELECT\n  {exprs}\n"
            f"FROM generate_series(1::bigint, {table.rows}::bigint) AS {table.row_var}"
            f"{table.lateral}"
        )
    key = ", ".join(table.primary_key)
    statements.append(f"ALTER TABLE {table.name} ADD PRIMARY KEY ({key})")
    return statements


_FOREIGN_KEYS: tuple[tuple[str, str, str], ...] = (
    ("tactics", "channel_id", "channels"),
    ("accounts", "team_id", "teams"),
    ("campaigns", "account_id", "accounts"),
    ("campaigns", "agency_id", "accounts"),
    ("changesets", "user_id", "users"),
    ("media_platform_entities", "media_platform_id", "media_platforms"),
    ("media_platform_entity_metadata", "media_platform_entity_id", "media_platform_entities"),
    ("media_buys", "media_platform_id", "media_platforms"),
    ("media_buys", "media_platform_entity_id", "media_platform_entities"),
    ("media_buys", "changeset_id", "changesets"),
    ("line_items", "channel_id", "channels"),
    ("line_items", "tactic_id", "tactics"),
    ("line_items", "unit_price_type_id", "unit_price_types"),
    ("line_items", "changeset_id", "changesets"),
    ("line_item_media_buys", "line_item_id", "line_items"),
    ("line_item_media_buys", "media_buy_id", "media_buys"),
    ("rate_card", "channel_id", "channels"),
    ("rate_card", "tactic_id", "tactics"),
    ("rate_card", "unit_price_type_id", "unit_price_types"),
    ("reps_x_teams", "rep_id", "reps"),
    ("reps_x_teams", "team_id", "teams"),
    ("tactic_media_platforms", "tactic_id", "tactics"),
    ("tactic_media_platforms", "media_platform_id", "media_platforms"),
    ("line_items_history", "changeset_id", "changesets"),
    ("line_item_media_buys_history", "changeset_id", "changesets"),
    ("media_buys_history", "changeset_id", "changesets"),
    ("rate_card_history", "changeset_id", "changesets"),
    ("strategies_history", "changeset_id", "changesets"),
    ("media_platform_entities_history", "changeset_id", "changesets"),
)

_INDEXES: tuple[tuple[str, str], ...] = (
    ("campaigns", "account_id"),
    ("campaigns", "owner_user_id"),
    ("strategies", "campaign_id"),
    ("line_items", "strategy_id"),
    ("line_item_media_buys", "line_item_id"),
    ("line_item_media_buys", "media_buy_id"),
    ("media_buys", "media_platform_entity_id"),
    ("media_platform_entity_metadata", "media_platform_entity_id"),
    ("line_items_history", "id"),
    ("line_item_media_buys_history", "id"),
    ("media_buys_history", "id"),
    ("rate_card_history", "id"),
    ("strategies_history", "id"),
)


def _constraints_and_indexes() -> list[str]:
    statements = ["ALTER TABLE users ADD CONSTRAINT users_zoho_user_id_key UNIQUE (zoho_user_id)"]
    for table, column, parent in _FOREIGN_KEYS:
        statements.append(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_fkey"
            f" FOREIGN KEY ({column}) REFERENCES {parent} (id)"
        )
    for table, column in _INDEXES:
        statements.append(f"CREATE INDEX {table}_{column}_idx ON {table} ({column})")
    return statements


# ---------------------------------------------------------------------------
# SQL expression helpers
# ---------------------------------------------------------------------------


def _lit(text: str) -> str:
    """A SQL string literal (standard_conforming_strings: only quotes need doubling)."""
    return "'" + text.replace("'", "''") + "'"


def _pick(values: list[str] | tuple[str, ...], index: str) -> str:
    """values[index mod len] as SQL."""
    array = ", ".join(_lit(v) for v in values)
    return f"(ARRAY[{array}])[1 + (({index}) % {len(values)})]"


def _zoho(base: int, n: str) -> str:
    return f"({base}::bigint + ({n}))::text"


def _uuid(kind: str, n: str) -> str:
    return f"md5('{kind}:' || ({n}))::uuid"


def _ts(n: str, rows: int, start: str, span_days: int) -> str:
    """Timestamps spread over `span_days` from `start`, with microseconds."""
    step = round(span_days * 86_400 / max(rows, 1), 6) + 0.000_137
    return f"(timestamp '{start}' + ({n}) * interval '{step:.6f} seconds')"


def _later(ts: str, n: str, max_hours: int) -> str:
    """A timestamp after `ts`, deterministic in `n`."""
    return f"({ts} + ((({n}) * 7919) % {max_hours * 3600}) * interval '1.000001 seconds')"


def _user_zoho(n: str) -> str:
    return _zoho(USER_BASE, f"(1 + (({n}) % {ROWS_AT_SCALE_1['users']})) * 3")


def _user_uuid(n: str) -> str:
    return _uuid("user", f"1 + (({n}) % {ROWS_AT_SCALE_1['users']})")


def _account_id(n: str) -> str:
    return _zoho(ACCOUNT_BASE, f"({n}) * 137")


def _campaign_id(n: str) -> str:
    return _zoho(CAMPAIGN_BASE, f"({n}) * 113")


def _changeset(n: str, counts: dict[str, int]) -> str:
    return f"(1 + ((({n}) * 7919) % {counts['changesets']}))"


def _money(n: str) -> str:
    return f"((5000 + (({n}) * 7919) % 495000) + ((({n}) * 37) % 100) / 100.0)"


def _columns(*spec: tuple[str, str, str]) -> tuple[_Column, ...]:
    return tuple(_Column(name, type_, expr) for name, type_, expr in spec)


# Text samples with the dirty edges production data has.
SPECIAL_NAMES = (
    "Café Crème — Été 2024",
    "東京 ローンチ キャンペーン",
    "Summer 🚀 Launch 🎉",
    'The "Big" Spring Push',
    "Müller & Søn Ærø Øresund",
    "Back\\slash Promo C:\\Media\\Q3",
    "Multi-line\nname with \"quotes\"",
    "Ñandú Niño São Paulo",
    "北京 夏季 促销 ☀️",
    "O'Brien's Pub Crawl",
)
COMPANIES = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
    "Soylent", "Wonka", "Cyberdyne", "Tyrell", "Massive Dynamic", "Oceanic", "Pied Piper",
    "Gringotts", "Monarch", "Aperture", "Black Mesa", "Dunder Mifflin",
)
SECTORS = (
    "Media", "Foods", "Motors", "Health", "Retail", "Bank", "Insurance", "Travel", "Energy",
    "Apparel", "Telecom", "Beverages",
)
OBJECTIVES = (
    "Awareness", "Consideration", "Conversion", "Retargeting", "Launch", "Holiday",
    "Back to School", "Brand Lift", "Lead Gen", "App Installs",
)
FIRST_NAMES = (
    "Anna", "Ben", "Chloé", "David", "Elena", "François", "Grace", "Hiro", "Ines", "Jonas",
    "Karin", "Liam", "María", "Noah", "Olivia", "Pavel", "Quinn", "Renée", "Sofia", "Tomás",
    "Uma", "Victor", "Wei", "Xavier", "Yuki", "Zoë",
)
LAST_NAMES = (
    "Smith", "Álvarez", "Chen", "Dubois", "Eriksen", "García", "Hoffmann", "Ito", "Jansen",
    "Kowalski", "López", "Müller", "Nakamura", "O'Neil", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Novák", "Wong",
)
CITIES = (
    ("New York", "NY", "United States"), ("Chicago", "IL", "United States"),
    ("Los Angeles", "CA", "United States"), ("Austin", "TX", "United States"),
    ("Toronto", "ON", "Canada"), ("Montréal", "QC", "Canada"), ("London", "", "United Kingdom"),
    ("São Paulo", "SP", "Brazil"), ("Zürich", "ZH", "Switzerland"), ("東京", "", "Japan"),
    ("Denver", "CO", "United States"), ("Seattle", "WA", "United States"),
)
STAGES = (
    "New", "Planning", "Proposal", "Approved", "Live", "Live", "Live", "Paused", "Completed",
    "Completed", "Closed (Won)", "Closed (Lost)",
)
GOALS = ("Maximise reach", "CPA under $40", "ROAS 4x", "VCR > 70%", "Drive store visits")
CHANGE_DESCRIPTIONS = (
    "Updated budget", "Changed flight dates", "Added line item", "Edited targeting",
    "Synced from platform", "Created media buy", "Archived strategy",
)
CHANNELS = ("Display", "Video", "Social", "Search", "Audio", "CTV", "Native")
UNIT_PRICE_TYPES = ("CPM", "CPC", "CPA", "CPV", "CPCV", "CPE", "CPL")
MEDIA_PLATFORMS = (
    "Facebook", "Google DV360", "TikTok", "Beeswax", "The Trade Desk", "Google Ads",
    "Microsoft Advertising", "Amazon DSP", "LinkedIn", "Pinterest", "Snapchat", "X (Twitter)",
    "Reddit", "Spotify", "Pandora", "Roku", "Hulu", "Yahoo DSP", "Xandr", "StackAdapt",
    "Simpli.fi", "Basis", "Quantcast", "Criteo",
)
TACTIC_KINDS = (
    "Prospecting", "Retargeting", "Contextual", "Geofencing", "Lookalike", "Behavioral",
)


# ---------------------------------------------------------------------------
# Lookup tables (fixed size)
# ---------------------------------------------------------------------------


def _values_table(name: str, values: tuple[str, ...]) -> _Table:
    return _Table(
        name,
        len(values),
        _columns(("id", "integer", "i::integer"), ("name", "text", _pick(values, "i - 1"))),
        ("id",),
    )


def _tactics(counts: dict[str, int]) -> _Table:
    channel = "1 + ((i - 1) % 7)"
    name = (
        f"{_pick(CHANNELS, '(i - 1) % 7')} || ' - ' || "
        f"{_pick(TACTIC_KINDS, '(i - 1) / 7')}"
    )
    return _Table(
        "tactics",
        counts["tactics"],
        _columns(("id", "integer", "i::integer"), ("name", "text", name),
                 ("channel_id", "integer", f"({channel})::integer")),
        ("id",),
    )


def _teams(counts: dict[str, int]) -> _Table:
    city = _pick(tuple(c[0] for c in CITIES), "i")
    name = f"{_pick(('East', 'West', 'North', 'South', 'Central', 'Global'), 'i / 12')}"
    return _Table(
        "teams",
        counts["teams"],
        _columns(("id", "integer", "i::integer"),
                 ("name", "text", f"{name} || ' ' || {city} || ' ' || i")),
        ("id",),
    )


def _reps(counts: dict[str, int]) -> _Table:
    first, last = _pick(FIRST_NAMES, "i * 5"), _pick(LAST_NAMES, "i * 3")
    return _Table(
        "reps",
        counts["reps"],
        _columns(
            ("id", "text", _zoho(REP_BASE, "i * 7")),
            ("name", "text", f"{first} || ' ' || {last}"),
            ("email", "text", "'rep' || i || '@sales.bravo.example'"),
        ),
        ("id",),
    )


def _reps_x_teams(counts: dict[str, int]) -> _Table:
    # Every rep in one team, the first 30 reps in a second one.
    reps = counts["reps"]
    rep = f"(CASE WHEN i <= {reps} THEN i ELSE i - {reps} END)"
    team = f"(CASE WHEN i <= {reps} THEN i ELSE i - {reps} + 44 END)"
    return _Table(
        "reps_x_teams",
        counts["reps_x_teams"],
        _columns(("rep_id", "text", _zoho(REP_BASE, f"{rep} * 7")),
                 ("team_id", "integer", f"(1 + ({team} - 1) % 88)::integer")),
        ("rep_id", "team_id"),
    )


def _tactic_media_platforms(counts: dict[str, int]) -> _Table:
    tactic = "(1 + (i - 1) / 5)"
    platform = f"(1 + ({tactic} * 5 + ((i - 1) % 5) * 7) % 24)"
    return _Table(
        "tactic_media_platforms",
        counts["tactic_media_platforms"],
        _columns(("tactic_id", "integer", f"{tactic}::integer"),
                 ("media_platform_id", "integer", f"{platform}::integer")),
        ("tactic_id", "media_platform_id"),
    )


def _users(counts: dict[str, int]) -> _Table:
    rows = counts["users"]
    first, last = _pick(FIRST_NAMES, "i * 7"), _pick(LAST_NAMES, "i * 11")
    created = _ts("i", rows, "2019-03-04 09:12:00", 1500)
    role = (
        "CASE WHEN i % 10 < 6 THEN NULL WHEN i % 10 < 8 THEN 'unknown' "
        "WHEN i % 10 = 8 THEN 'media_trader' "
        f"ELSE {_pick(('admin', 'account_manager', 'planner'), 'i / 10')} END"
    )
    return _Table(
        "users",
        rows,
        _columns(
            ("id", "uuid", _uuid("user", "i")),
            ("zoho_user_id", "text", _zoho(USER_BASE, "i * 3")),
            ("name", "text", f"{first} || ' ' || {last}"),
            ("email", "text", f"lower(translate({first} || '.' || {last}, "
                              "'éáíóúöüëñçÁ''', 'eaiououencA')) || i || '@bravo.example'"),
            ("role", "text", role),
            ("created_at", "timestamp", created),
            ("updated_at", "timestamp", _later(created, "i", 9000)),
            ("modified_time", "timestamp",
             f"CASE WHEN i % 9 = 4 THEN NULL ELSE {_later(created, 'i + 1', 9000)} END"),
        ),
        ("id",),
    )


def _rate_card(counts: dict[str, int]) -> _Table:
    return _Table("rate_card", counts["rate_card"], _rate_card_columns(), ("id",))


def _rate_card_columns() -> tuple[_Column, ...]:
    tactic = "(1 + (i - 1) % 36)"
    created = _ts("i", 250, "2021-01-01 00:00:00", 900)
    return _columns(
        ("id", "integer", "i::integer"),
        ("channel_id", "integer", f"(1 + ({tactic} - 1) % 7)::integer"),
        ("tactic_id", "integer", f"{tactic}::integer"),
        ("unit_price_type_id", "integer", "(1 + (i * 3) % 7)::integer"),
        ("price", "numeric(18,6)", "(0.5 + ((i * 7919) % 40000) / 1300.0)::numeric(18,6)"),
        ("effective_date", "date", "(date '2021-01-01' + ((i * 13) % 1200)::integer)"),
        ("created_at", "timestamp", created),
        ("updated_at", "timestamp", _later(created, "i", 4000)),
    )


# ---------------------------------------------------------------------------
# Accounts, campaigns, strategies
# ---------------------------------------------------------------------------


def _company_name(n: str) -> str:
    return (
        f"{_pick(COMPANIES, n)} || ' ' || {_pick(SECTORS, f'({n}) / 20')}"
        f" || ' ' || {_pick(('Inc.', 'LLC', 'Group', 'Co.', 'Ltd', 'GmbH'), f'({n}) / 7')}"
    )


def _accounts(counts: dict[str, int]) -> _Table:
    rows = counts["accounts"]
    created = _ts("i", rows, "2018-06-01 08:00:00", 2200)
    name = f"CASE WHEN i % 31 = 5 THEN {_pick(SPECIAL_NAMES, 'i / 31')} ELSE {_company_name('i')} END"
    owner = f"CASE WHEN i % 43 = 6 THEN {_zoho(GHOST_USER_BASE, 'i')} ELSE {_user_zoho('i * 13')} END"
    return _Table(
        "accounts",
        rows,
        _columns(
            ("id", "text", _account_id("i")),
            ("account_name", "text", name),
            ("account_number", "text", "'AC-' || lpad(i::text, 6, '0')"),
            ("team_id", "integer", "(1 + (i * 31) % 88)::integer"),
            ("owner_user_id", "text", owner),
            ("agency_markup_percentage", "numeric",
             "CASE WHEN i % 6 = 0 THEN NULL ELSE round(((i * 7) % 2000) / 100.0, 2) END"),
            ("referral_percentage", "numeric",
             "CASE WHEN i % 4 = 0 THEN NULL ELSE (i % 5) * 2.5 END"),
            ("city", "text", _pick(tuple(c[0] for c in CITIES), "i")),
            ("state", "text", _pick(tuple(c[1] for c in CITIES), "i")),
            ("country", "text", _pick(tuple(c[2] for c in CITIES), "i")),
            ("is_deleted", "boolean", "(i % 29 = 3)"),
            ("created_at", "timestamp", created),
            ("updated_at", "timestamp", _later(created, "i", 20000)),
            ("modified_time", "timestamp",
             f"CASE WHEN i % 17 = 4 THEN NULL ELSE {_later(created, 'i + 3', 20000)} END"),
        ),
        ("id",),
    )


def _campaign_columns(counts: dict[str, int]) -> tuple[_Column, ...]:
    rows, accounts = counts["campaigns"], counts["accounts"]
    created = _ts("i", rows, "2022-01-03 09:00:00", 1270)
    flight = f"date_trunc('day', {created}) + ((i % 40) + 3) * interval '1 day'"
    name = (
        f"CASE WHEN i % 53 = 8 THEN NULL WHEN i % 37 = 2 THEN {_pick(SPECIAL_NAMES, 'i / 37')} "
        f"ELSE {_pick(COMPANIES, 'i * 7')} || ' ' || {_pick(OBJECTIVES, 'i')} || ' Q' "
        f"|| (1 + i % 4) || ' ' || (2022 + (i * 4) / {rows + 1}) END"
    )
    budget = (
        f"(CASE WHEN i % 41 = 5 THEN NULL WHEN i % 67 = 11 THEN 1234567.89 + (i % 1000) * 1000 "
        f"WHEN i % 71 = 13 THEN -0.01 ELSE {_money('i')} END)::numeric::money"
    )
    goals = (
        "CASE WHEN i % 43 = 8 THEN E'CTR > 0.8%\\nCPA < $25\\n\"Viewable\" impressions only' "
        "WHEN i % 47 = 9 THEN 'Report: C:\\Reports\\Q3\\kpis.xlsx (see \"KPI\" tab)' "
        f"WHEN i % 3 = 0 THEN NULL ELSE {_pick(GOALS, 'i')} END"
    )
    owner = f"CASE WHEN i % 61 = 17 THEN {_zoho(GHOST_USER_BASE, 'i')} ELSE {_user_zoho('i * 7')} END"
    rep_n = f"(1 + (i % {counts['reps']})) * 7"
    rep = (
        f"CASE WHEN i % 50 = 1 THEN NULL WHEN i % 9 = 0 THEN {_user_zoho('i * 5')} "
        f"ELSE {_zoho(REP_BASE, rep_n)} END"
    )
    account = f"(1 + (i * 7) % {accounts})"
    agency = f"CASE WHEN i % 23 = 4 THEN {_account_id(f'1 + (i * 7 + 1) % {accounts}')} END"
    return _columns(
        ("id", "text", _campaign_id("i")),
        ("campaign_number", "text", "'CN-' || (100000 + i)"),
        ("campaign_name", "text", name),
        ("account_id", "text", _account_id(account)),
        ("agency_id", "text", agency),
        ("budget", "money", budget),
        ("proposed_budget", "numeric",
         f"CASE WHEN i % 5 = 0 THEN NULL ELSE round({_money('i + 1')} * 1.1, 2) END"),
        ("expected_revenue", "numeric",
         f"CASE WHEN i % 4 = 0 THEN NULL ELSE round({_money('i + 2')} * 0.18, 2) END"),
        ("stage", "text", _pick(STAGES, "i * 5")),
        ("flight_date", "timestamp", flight),
        ("end_date", "timestamp",
         f"{flight} + ((i * 11) % 120 + 14) * interval '1 day' - interval '1 microsecond'"),
        ("goals_kpis", "text", goals),
        ("new_business", "boolean", "CASE WHEN i % 10 = 0 THEN NULL ELSE i % 3 = 0 END"),
        ("owner_user_id", "text", owner),
        ("lead_account_owner_user_id", "text",
         f"CASE WHEN i % 25 < 3 THEN NULL ELSE {_user_zoho('i * 11')} END"),
        ("sales_rep_user_id", "text", rep),
        ("created_at", "timestamp", created),
        ("updated_at", "timestamp", _later(created, "i", 3000)),
        ("modified_time", "timestamp",
         f"CASE WHEN i % 19 = 2 THEN NULL ELSE {_later(created, 'i + 5', 3000)} END"),
        ("is_deleted", "boolean", "(i % 31 = 3)"),
    )


def _campaigns(counts: dict[str, int]) -> _Table:
    return _Table("campaigns", counts["campaigns"], _campaign_columns(counts), ("id",))


def _orphan_condition(n: str, rows: int, every: int, minimum_every: int, first: int) -> str:
    """SQL true for a couple of rows at any size: `first` and every `every`-th row after it."""
    step = max(minimum_every, rows // every)
    return f"(({n}) % {step} = {min(first, rows) % step})"


def _strategy_columns(counts: dict[str, int]) -> tuple[_Column, ...]:
    rows = counts["strategies"]
    created = _ts("i", rows, "2022-01-04 10:00:00", 1270)
    orphan = _orphan_condition("i", rows, 5, 60, 21)
    campaign = f"CASE WHEN {orphan} THEN {_zoho(GHOST_CAMPAIGN_BASE, 'i')} ELSE {_campaign_id('i')} END"
    return _columns(
        ("id", "uuid", _uuid("strategy", "i")),
        ("campaign_id", "text", campaign),
        ("name", "text",
         f"'Strategy ' || i || ' – ' || {_pick(OBJECTIVES, 'i * 3')} "
         f"|| CASE WHEN i % 59 = 8 THEN ' \"v2\" ✓' ELSE '' END"),
        ("status", "text",
         _pick(("draft", "proposed", "approved", "active", "active", "completed", "archived"), "i")),
        ("revision_number", "integer", "(1 + i % 5)::integer"),
        ("created_at", "timestamp", created),
        ("updated_at", "timestamp", _later(created, "i", 2000)),
    )


def _strategies(counts: dict[str, int]) -> _Table:
    return _Table("strategies", counts["strategies"], _strategy_columns(counts), ("id",))


# ---------------------------------------------------------------------------
# Line items, media buys
# ---------------------------------------------------------------------------


def _trader_ids(n: str) -> str:
    """~66 % of line items have traders; some ids match no user, some arrays hold a NULL.

    Every tenth strategy's line items have no trader at all, so that traders
    resolve on about 7 % of campaigns.
    """
    real, real2 = _user_uuid(f"({n}) * 11"), _user_uuid(f"({n}) * 11 + 1")
    ghost = _uuid("ghost-trader", n)
    bucket = f"((({n}) * 37) % 100)"
    group = f"((({n}) - 1) / {LINE_ITEMS_PER_STRATEGY})"
    return (
        f"CASE WHEN ({n}) % 13 = 4 THEN ARRAY[{real}, NULL]::uuid[] "
        f"WHEN {group} % 10 = 0 OR {bucket} < 28 THEN '{{}}'::uuid[] "
        f"WHEN {bucket} < 60 THEN ARRAY[{real}] "
        f"WHEN {bucket} < 80 THEN ARRAY[{real}, {real2}] "
        f"WHEN {bucket} < 90 THEN ARRAY[{ghost}] "
        f"ELSE ARRAY[{real}, {ghost}] END"
    )


def _platform_ids(n: str) -> str:
    first = f"(1 + (({n}) * 5) % 24)::integer"
    second = f"(1 + (({n}) * 5 + 7) % 24)::integer"
    return (
        f"CASE WHEN ({n}) % 11 = 3 THEN ARRAY[{first}, NULL]::integer[] "
        f"WHEN ({n}) % 10 = 0 THEN '{{}}'::integer[] "
        f"WHEN ({n}) % 3 = 0 THEN ARRAY[{first}, {second}] ELSE ARRAY[{first}] END"
    )


def _pacing_details(n: str) -> str:
    return (
        f"CASE WHEN ({n}) % 3 = 0 THEN NULL ELSE jsonb_build_object("
        f"'type', {_pick(('lifetime', 'monthly', 'custom'), n)}, "
        f"'schedule', jsonb_build_array("
        f"jsonb_build_object('month', '2024-01', 'percent', 30.5, 'locked', true), "
        f"jsonb_build_object('month', '2024-02', 'percent', 33.25, 'locked', false), "
        f"jsonb_build_object('month', '2024-03', 'percent', 36.25, 'notes', NULL)), "
        f"'rules', jsonb_build_object('catch_up', ({n}) % 2 = 0, "
        f"'max_daily', jsonb_build_object('amount', (({n}) * 37) % 5000 + 0.5, 'currency', 'USD'), "
        f"'blackout_dates', jsonb_build_array('2024-07-04', '2024-12-25'))) END"
    )


def _line_item_columns(counts: dict[str, int]) -> tuple[_Column, ...]:
    rows, strategies = counts["line_items"], counts["strategies"]
    created = _ts("i", rows, "2022-02-01 11:00:00", 1230)
    start = f"date_trunc('day', {created}) + ((i % 30) + 2) * interval '1 day'"
    # Consecutive line items share a strategy, so only some strategies have line items.
    strategy_n = f"(1 + (((i - 1) / {LINE_ITEMS_PER_STRATEGY}) * 13 + 6) % {strategies})"
    orphan = _orphan_condition("i", rows, 3, 20, 9)
    strategy = (
        f"CASE WHEN {orphan} THEN {_uuid('missing-strategy', 'i')} "
        f"ELSE {_uuid('strategy', strategy_n)} END"
    )
    tactic = "(1 + (i * 5) % 36)"
    description = (
        "CASE WHEN i % 7 = 2 THEN NULL WHEN i % 9 = 4 THEN E'Flight 1: \"hero\" creative\\n"
        "Flight 2: cutdowns\\\\15s' "
        f"ELSE 'Line item for ' || {_pick(OBJECTIVES, 'i')} || ' on ' || {_pick(CHANNELS, 'i')} END"
    )
    return _columns(
        ("id", "uuid", _uuid("line_item", "i")),
        ("strategy_id", "uuid", strategy),
        ("name", "text",
         f"CASE WHEN i % 23 = 6 THEN {_pick(SPECIAL_NAMES, 'i / 23')} "
         f"ELSE {_pick(CHANNELS, 'i')} || ' | ' || {_pick(TACTIC_KINDS, 'i')} || ' | LI-' || i END"),
        ("description", "text", description),
        ("audience", "text",
         _pick(("Adults 18-34", "Adults 25-54", "Parents", "Auto intenders", "Travellers",
                "Sports fans", "Gamers"), "i * 3")),
        ("geo", "text", _pick(("US", "US-NY, US-NJ", "CA", "US-TX", "DMA 501", "Nationwide"), "i")),
        ("targeting", "text",
         _pick(("Contextual", "Behavioral + 1P data", "Lookalike 1%", "Retargeting 30d"), "i * 7")),
        ("ad_formats", "text",
         _pick(("300x250, 728x90", "15s, 30s", "Native in-feed", "Carousel", "Audio 30s"), "i")),
        ("start_date", "timestamp", start),
        ("end_date", "timestamp", f"{start} + ((i * 7) % 90 + 7) * interval '1 day'"),
        ("price", "numeric(18,6)", "((1000 + (i * 7919) % 250000) / 7.0)::numeric(18,6)"),
        ("unit_price", "numeric(18,6)", "(0.5 + ((i * 13) % 4000) / 333.0)::numeric(18,6)"),
        ("target_margin", "numeric(9,6)", "(((i * 17) % 4000) / 9999.0)::numeric(9,6)"),
        ("pacing_type", "text", _pick(("lifetime", "monthly", "custom"), "i")),
        ("pacing_details", "jsonb", _pacing_details("i")),
        ("media_trader_user_ids", "uuid[]", _trader_ids("i")),
        ("media_platform_ids", "integer[]", _platform_ids("i")),
        ("channel_id", "integer", f"(1 + ({tactic} - 1) % 7)::integer"),
        ("tactic_id", "integer", f"{tactic}::integer"),
        ("unit_price_type_id", "integer", "(1 + (i * 3) % 7)::integer"),
        ("purchase_order_number", "text",
         "CASE WHEN i % 3 = 1 THEN NULL ELSE 'PO-' || (450000 + i * 7) END"),
        ("changeset_id", "bigint", _changeset("i", counts)),
        ("is_deleted", "boolean", "(i % 17 = 6)"),
        ("created_at", "timestamp", created),
        ("updated_at", "timestamp", _later(created, "i", 3000)),
    )


def _line_items(counts: dict[str, int]) -> _Table:
    return _Table("line_items", counts["line_items"], _line_item_columns(counts), ("id",))


def _entity_platform(n: str) -> str:
    """media_platform_id of entity number n (entities come in families of five)."""
    return f"(1 + ((({n}) - 1) / 5) % 24)"


def _media_buy_columns(counts: dict[str, int]) -> tuple[_Column, ...]:
    rows, entities, campaigns = counts["media_buys"], counts["media_platform_entities"], counts["campaigns"]
    created = _ts("i", rows, "2022-02-10 07:30:00", 1220)
    entity = f"(1 + (i * 3) % {entities})"
    start = f"(date '2022-02-15' + ((i * {1220 * 1000 // max(rows, 1)}) / 1000)::integer)"
    budget = (
        "(CASE WHEN i % 97 = 10 THEN NULL WHEN i % 89 = 12 THEN 2500000.75 "
        f"WHEN i % 83 = 14 THEN -0.01 ELSE {_money('i * 3')} / 10 END)::numeric::money"
    )
    cn = f"'CN-' || (100000 + 1 + (i * 7) % {campaigns})"
    cn2 = f"'CN-' || (100000 + 1 + (i * 7 + 3) % {campaigns})"
    numbers = (
        f"CASE WHEN i % 10 = 0 THEN '{{}}'::text[] WHEN i % 79 = 8 THEN ARRAY[{cn}, NULL] "
        f"WHEN i % 4 = 0 THEN ARRAY[{cn}, {cn2}] ELSE ARRAY[{cn}] END"
    )
    return _columns(
        ("id", "uuid", _uuid("media_buy", "i")),
        ("name", "text",
         f"CASE WHEN i % 73 = 9 THEN {_pick(SPECIAL_NAMES, 'i / 73')} ELSE "
         f"{_pick(MEDIA_PLATFORMS, f'{_entity_platform(entity)} - 1')} || ' buy ' || i END"),
        ("media_platform_id", "integer", f"{_entity_platform(entity)}::integer"),
        ("media_platform_entity_id", "bigint", f"{ENTITY_BASE}::bigint + {entity}"),
        ("budget", "money", budget),
        ("spend", "numeric(18,6)",
         "CASE WHEN i % 8 = 0 THEN NULL ELSE (((i * 7919) % 9000000) / 97.0)::numeric(18,6) END"),
        ("start_date", "date", start),
        ("end_date", "date", f"{start} + ((i * 11) % 120 + 1)::integer"),
        ("campaign_numbers", "text[]", numbers),
        ("changeset_id", "bigint", _changeset("i + 17", counts)),
        ("is_deleted", "boolean", "(i % 37 = 5)"),
        ("created_at", "timestamp", created),
        ("updated_at", "timestamp", _later(created, "i", 4000)),
    )


def _media_buys(counts: dict[str, int]) -> _Table:
    return _Table("media_buys", counts["media_buys"], _media_buy_columns(counts), ("id",))


def _line_item_media_buy_columns(counts: dict[str, int]) -> tuple[_Column, ...]:
    rows = counts["line_item_media_buys"]
    created = _ts("i", rows, "2022-02-12 12:00:00", 1210)
    start = f"(date '2022-02-20' + ((i * {1210 * 1000 // max(rows, 1)}) / 1000)::integer)"
    return _columns(
        ("id", "uuid", _uuid("line_item_media_buy", "i")),
        ("line_item_id", "uuid", _uuid("line_item", f"1 + ((i - 1) * 7) % {counts['line_items']}")),
        ("media_buy_id", "uuid", _uuid("media_buy", f"1 + ((i - 1) * 13) % {counts['media_buys']}")),
        ("start_date", "date", start),
        ("end_date", "date", f"{start} + ((i * 7) % 60 + 1)::integer"),
        ("planned_units", "bigint", "CASE WHEN i % 12 = 0 THEN NULL ELSE (i * 7919) % 5000000 END"),
        ("planned_spend", "numeric(18,6)", "(((i * 104729) % 80000000) / 1000.0)::numeric(18,6)"),
        ("is_deleted", "boolean", "(i % 41 = 7)"),
        ("created_at", "timestamp", created),
        ("updated_at", "timestamp", _later(created, "i", 2000)),
    )


def _line_item_media_buys(counts: dict[str, int]) -> _Table:
    return _Table(
        "line_item_media_buys", counts["line_item_media_buys"],
        _line_item_media_buy_columns(counts), ("id",),
    )


# ---------------------------------------------------------------------------
# Changesets, media platform entities, metadata
# ---------------------------------------------------------------------------


def _changesets(counts: dict[str, int]) -> _Table:
    rows = counts["changesets"]
    description = (
        f"CASE WHEN i % 211 = 5 THEN E'Bulk import\\nsource: \"Q3 plan.xlsx\"' "
        f"WHEN i % 11 = 0 THEN NULL ELSE "
        f"{_pick(CHANGE_DESCRIPTIONS, 'i')} END"
    )
    return _Table(
        "changesets",
        rows,
        _columns(
            ("id", "bigint", "i"),
            ("user_id", "uuid", f"CASE WHEN i % 15 = 0 THEN NULL ELSE {_user_uuid('i * 7')} END"),
            ("description", "text", description),
            ("created_at", "timestamp", _ts("i", rows, "2022-01-01 00:00:00", 1270)),
        ),
        ("id",),
    )


def _metadata_template() -> str:
    """A format() template of the entity metadata jsonb (~3.5 KB), with %N$s slots.

    Slots: 1 entity id, 2 platform name, 3 entity type, 4 name, 5/6 md5 hex,
    7/8 numbers, 9 created timestamp, 10 parent id or null.
    """
    def slot(n: int) -> str:
        return f"@@{n}@@"

    interests = [
        "Automotive", "Travel", "Cooking", "Fitness", "Personal Finance", "Gaming", "Fashion",
        "Home & Garden", "Parenting", "Pets", "Technology", "Sports", "Music", "Movies",
    ]
    template = {
        "id": slot(1),
        "platform": slot(2),
        "entity_type": slot(3),
        "name": slot(4),
        "parent_id": slot(10),
        "status": "ACTIVE",
        "effective_status": "ACTIVE",
        "created_time": slot(9),
        "account": {
            "id": slot(5), "currency": "USD", "timezone_name": "America/New_York",
            "business": {"id": slot(6), "name": "Bravo Media Agency", "verified": True},
            "spend_cap": slot(7), "amount_spent": slot(8),
        },
        "budget": {
            "daily_budget": slot(7), "lifetime_budget": slot(8), "budget_remaining": slot(7),
            "bid_strategy": "LOWEST_COST_WITHOUT_CAP", "pacing_type": ["standard"],
            "billing_event": "IMPRESSIONS", "optimization_goal": "REACH",
        },
        "targeting": {
            "age_min": 18, "age_max": 54, "genders": [1, 2],
            "geo_locations": {
                "countries": ["US", "CA"],
                "regions": [{"key": "3847", "name": "California"}, {"key": "3875", "name": "New York"}],
                "cities": [{"key": slot(7), "radius": 25, "distance_unit": "mile"}],
                "location_types": ["home", "recent"],
            },
            "interests": [{"id": slot(5), "name": name} for name in interests],
            "excluded_custom_audiences": [{"id": slot(6), "name": "Purchasers 180d"}],
            "publisher_platforms": ["facebook", "instagram", "audience_network", "messenger"],
            "device_platforms": ["mobile", "desktop"],
            "flexible_spec": [
                {"behaviors": [{"id": slot(8), "name": "Frequent travellers"}]},
                {"life_events": [{"id": slot(7), "name": "Recently moved"}]},
            ],
        },
        "schedule": [
            {"day": day, "start_minute": 360, "end_minute": 1380, "timezone_type": "USER"}
            for day in range(7)
        ],
        "creative": {
            "id": slot(6),
            "title": slot(4),
            "body": "Discover the new season — limited offer, shop today.",
            "call_to_action": {"type": "SHOP_NOW", "value": {"link": "https://example.com/shop"}},
            "image_hash": slot(5),
            "asset_feed_spec": {"videos": [{"video_id": slot(7), "thumbnail_hash": slot(6)}]},
        },
        "tracking": {
            "url_tags": "utm_source=bravo&utm_medium=paid&utm_campaign={{campaign.id}}",
            "utm_id": slot(5),
            "pixel_id": slot(8),
            "conversion_specs": [{"action.type": ["offsite_conversion"], "fb_pixel": [slot(8)]}],
        },
        "insights_snapshot": {
            "impressions": slot(7), "clicks": slot(8), "spend": slot(7), "reach": slot(8),
            "frequency": 1.37, "ctr": 0.0123, "cpm": 7.25,
            "actions": [{"action_type": t, "value": slot(7)} for t in ("link_click", "purchase", "lead")],
        },
        "labels": [],
        "issues_info": None,
        "sync": {"source": "platform_api", "version": "v19.0", "fetched_at": slot(9), "etag": slot(6)},
    }
    text = json.dumps(template, ensure_ascii=False, separators=(", ", ": "))
    text = text.replace("%", "%%")
    for n in range(1, 11):
        text = text.replace(f'"{slot(n)}"', f"%{n}$s").replace(slot(n), f"%{n}$s")
    return text


def _metadata_expr() -> str:
    return (
        f"format({_lit(_metadata_template())}, "
        "e_id, to_json(e_platform)::text, to_json(e_type)::text, to_json(e_name)::text, "
        "to_json(h1)::text, to_json(h2)::text, n1, n2, to_json(e_created)::text, "
        "coalesce(e_parent::text, 'null'))::jsonb"
    )


def _entity_lateral(counts: dict[str, int], n: str) -> str:
    rows = counts["media_platform_entities"]
    created = _ts(n, rows, "2021-11-01 00:00:00", 1330)
    types = ("account", "campaign", "ad_group", "ad", "creative")
    name = (
        f"CASE WHEN ({n}) % 97 = 20 THEN {_pick(SPECIAL_NAMES, f'({n}) / 97')} ELSE "
        f"{_pick(COMPANIES, f'({n}) / 5')} || ' ' || {_pick(types, f'({n}) - 1')} || ' ' || ({n}) END"
    )
    return (
        f", LATERAL (SELECT {ENTITY_BASE}::bigint + ({n}) AS e_id,"
        f" {_entity_platform(n)} AS e_platform_id,"
        f" {_pick(MEDIA_PLATFORMS, f'{_entity_platform(n)} - 1')} AS e_platform,"
        f" {_pick(types, f'({n}) - 1')} AS e_type,"
        f" {name} AS e_name,"
        f" CASE WHEN (({n}) - 1) % 5 = 0 THEN NULL ELSE {ENTITY_BASE}::bigint + ({n}) - 1 END"
        f" AS e_parent,"
        f" md5('entity:' || ({n})) AS h1, md5('entity-b:' || ({n})) AS h2,"
        f" (({n}) * 7919) % 1000000 AS n1, (({n}) * 104729) % 10000000 AS n2,"
        f" {created} AS e_created) AS e"
    )


def _entity_columns() -> tuple[_Column, ...]:
    return _columns(
        ("id", "bigint", "e_id"),
        ("media_platform_id", "integer", "e_platform_id::integer"),
        ("external_id", "text", "e_type || '_' || substr(h1, 1, 15)"),
        ("entity_type", "text", "e_type"),
        ("parent_id", "bigint", "e_parent"),
        ("name", "text", "e_name"),
        ("metadata", "jsonb", _metadata_expr()),
        ("created_at", "timestamp", "e_created"),
        ("updated_at", "timestamp", _later("e_created", "i", 5000)),
    )


def _media_platform_entities(counts: dict[str, int]) -> _Table:
    return _Table(
        "media_platform_entities", counts["media_platform_entities"], _entity_columns(), ("id",),
        lateral=_entity_lateral(counts, "i"),
    )


def _entity_metadata(counts: dict[str, int]) -> _Table:
    rows = counts["media_platform_entity_metadata"]
    keys = ("objective", "optimization_goal", "billing_event", "bid_strategy", "daily_budget",
            "status", "pixel_id", "placement", "device", "frequency_cap")
    values = ("CONVERSIONS", "REACH", "IMPRESSIONS", "LOWEST_COST", "250.00", "ACTIVE",
              "1234567890", "feed, stories", "mobile", "3/7d")
    value = (
        f"CASE WHEN i % 101 = 7 THEN E'multi\\nline \"value\" \\\\ ✓' "
        f"WHEN i % 29 = 0 THEN NULL ELSE {_pick(values, 'i')} END"
    )
    return _Table(
        "media_platform_entity_metadata",
        rows,
        _columns(
            ("id", "bigint", "i"),
            ("media_platform_entity_id", "bigint",
             f"{ENTITY_BASE}::bigint + 1 + (i - 1) % {counts['media_platform_entities']}"),
            ("key", "text", _pick(keys, "i")),
            ("value", "text", value),
            ("created_at", "timestamp", _ts("i", rows, "2021-11-02 00:00:00", 1330)),
        ),
        ("id",),
    )


def _empty_daily(name: str, metrics: tuple[str, ...]) -> _Table:
    columns = [_Column("date", "date", ""), _Column("media_buy_id", "uuid", "")]
    columns += [_Column(m, "bigint", "") for m in metrics]
    if name == "platform_buy_daily_impressions":
        columns.append(_Column("spend", "numeric", ""))
    columns += [_Column("created_at", "timestamp", ""), _Column("updated_at", "timestamp", "")]
    return _Table(name, 0, tuple(columns), ("date", "media_buy_id"))


# ---------------------------------------------------------------------------
# History tables
# ---------------------------------------------------------------------------


def _history(
    base: str,
    rows: int,
    base_rows: int,
    columns: tuple[_Column, ...],
    counts: dict[str, int],
    lateral: str = "",
) -> _Table:
    """<base>_history: history_id, changeset_id, then the base columns as earlier versions.

    History row h shows base row 1 + (h - 1) % base_rows, version (h - 1) / base_rows,
    dated a few days before the current row. A base `changeset_id` column is the
    history's own changeset_id (one column of that name).
    """
    version_expr = f"((h - 1) / {base_rows})"
    history_columns = [
        _Column("history_id", "bigint", "h"),
        _Column("changeset_id", "bigint", _changeset("h * 3 + 1", counts)),
    ]
    for column in columns:
        if column.name == "changeset_id":
            continue
        expr = column.expr
        if column.name in ("updated_at", "modified_time"):
            expr = f"({expr}) - ({version_expr} + 1) * interval '2 days 3 hours 0.000321 seconds'"
        history_columns.append(_Column(column.name, column.type, expr))
    rebind = f", LATERAL (SELECT 1 + (h - 1) % {max(base_rows, 1)} AS i) AS hb"
    return _Table(
        f"{base}_history",
        rows,
        tuple(history_columns),
        ("history_id",),
        lateral=rebind + lateral,
        row_var="h",
    )


def _history_tables(counts: dict[str, int]) -> list[_Table]:
    def history(base: str, columns: tuple[_Column, ...], lateral: str = "") -> _Table:
        return _history(base, counts[f"{base}_history"], counts[base], columns, counts, lateral)

    return [
        history("line_items", _line_item_columns(counts)),
        history("line_item_media_buys", _line_item_media_buy_columns(counts)),
        history("media_buys", _media_buy_columns(counts)),
        history("rate_card", _rate_card_columns()),
        history("strategies", _strategy_columns(counts)),
        history("media_platform_entities", _entity_columns(), _entity_lateral(counts, "i")),
    ]


# ---------------------------------------------------------------------------
# All tables
# ---------------------------------------------------------------------------


def _all_tables(counts: dict[str, int]) -> list[_Table]:
    tables = [
        _values_table("channels", CHANNELS),
        _values_table("unit_price_types", UNIT_PRICE_TYPES),
        _values_table("media_platforms", MEDIA_PLATFORMS),
        _tactics(counts),
        _teams(counts),
        _reps(counts),
        _reps_x_teams(counts),
        _tactic_media_platforms(counts),
        _users(counts),
        _rate_card(counts),
        _accounts(counts),
        _campaigns(counts),
        _strategies(counts),
        _line_items(counts),
        _media_buys(counts),
        _line_item_media_buys(counts),
        _changesets(counts),
        _media_platform_entities(counts),
        _entity_metadata(counts),
        _empty_daily("platform_buy_daily_impressions", ("impressions", "clicks")),
        _empty_daily("platform_buy_daily_videos", ("video_starts", "video_completions", "video_views")),
        *_history_tables(counts),
    ]
    if sorted(t.name for t in tables) != sorted(KNOWN_TABLES) or any(
        t.rows != counts[t.name] for t in tables
    ):
        raise RuntimeError("demo table definitions do not match tables.KNOWN_TABLES")
    return tables
