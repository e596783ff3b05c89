"""Raw tables → campaign documents (shared/spec/export-format.md, "transformed/<ts>/campaigns.json").

Pure: polars frames in, a frame of documents out, no I/O and nothing that
depends on the current time, so one raw export always gives the same bytes.
Every document is one row whose columns (and struct fields) are in the key
order of the spec's example, so polars' JSON writer emits the keys in that order.
Decimals stay the strings PostgreSQL wrote; the only arithmetic on them, the
line item price total, is done in polars Decimal (exact, 128-bit integers).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from bravo_pipeline.transform.raw_tables import TRANSFORM_COLUMNS, RawTableError

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
DECIMAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "campaigns": ("budget", "proposed_budget", "expected_revenue"),
    "line_items": ("price", "unit_price", "target_margin"),
}
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"  # %.f: the fraction is optional
MAX_ORPHAN_IDS = 100

_MICROSECONDS_PER_DAY = 86_400_000_000
_DECIMAL_MAX_PRECISION = 38
_SERIALIZE_CHUNK_ROWS = 2_000


@dataclass(frozen=True)
class TransformResult:
    documents: pl.DataFrame
    totals: dict[str, int]
    orphans: dict[str, dict[str, Any]]
    unresolved_users: dict[str, int]


@dataclass(frozen=True)
class _Hierarchy:
    """Strategies and line items split into the embedded ones and the orphans."""

    strategies: pl.DataFrame  # embedded strategies
    line_items: pl.DataFrame  # embedded line items, with their strategy's campaign_id
    orphans: dict[str, dict[str, Any]]


def build_campaign_documents(tables: dict[str, pl.DataFrame], export_timestamp: str) -> TransformResult:
    """One document per campaign row (soft-deleted included), ordered by `_id`."""
    tables = _normalised_inputs(tables)
    _check_decimals(tables)
    _check_timestamps(tables["campaigns"], ("flight_date", "end_date"))
    campaigns, users = tables["campaigns"], tables["users"]
    hierarchy = _split_hierarchy(campaigns, tables["strategies"], tables["line_items"])
    line_items = _line_item_documents(hierarchy.line_items, tables)
    strategies = _strategy_lists(hierarchy.strategies, line_items)
    traders, unresolved_traders = _media_traders(hierarchy.line_items, users)
    totals = _line_item_totals(hierarchy.line_items)
    documents, unresolved_team = _campaign_documents(
        campaigns, tables["accounts"], users, strategies, traders, totals, export_timestamp
    )
    return TransformResult(
        documents=documents,
        totals={
            "totalCampaigns": campaigns.height,
            "totalStrategies": hierarchy.strategies.height,
            "totalLineItems": hierarchy.line_items.height,
            "totalUsers": users.height,
        },
        orphans=hierarchy.orphans,
        unresolved_users={**unresolved_team, "mediaTraders": unresolved_traders},
    )


def documents_json_blocks(documents: pl.DataFrame) -> Iterator[bytes]:
    """campaigns.json in blocks of a few thousand documents: a JSON array with one compact document
    per line. Written block by block, the output is never held whole."""
    if documents.is_empty():
        yield b"[]\n"
        return
    yield b"[\n"
    for offset in range(0, documents.height, _SERIALIZE_CHUNK_ROWS):
        buffer = io.BytesIO()
        documents.slice(offset, _SERIALIZE_CHUNK_ROWS).write_ndjson(buffer)
        # JSON text never holds a raw newline: every b"\n" ends a document.
        block = buffer.getvalue()
        if offset + _SERIALIZE_CHUNK_ROWS < documents.height:
            yield block.replace(b"\n", b",\n")
        else:
            yield block[:-1].replace(b"\n", b",\n") + b"\n]\n"


def summary_counts(result: TransformResult) -> dict[str, Any]:
    """The fields of transformation-summary.json that come from the transform itself."""
    return {
        **result.totals,
        "orphans": result.orphans,
        "unresolvedUsers": result.unresolved_users,
    }


# --- inputs -----------------------------------------------------------------------------------


def _normalised_inputs(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Only the needed columns, with their expected types (so hand-built frames work too)."""
    normalised = {}
    for table, columns in TRANSFORM_COLUMNS.items():
        if table not in tables:
            raise RawTableError(f"raw table {table} is missing from the transform inputs")
        frame = tables[table]
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            noun = "column" if len(missing) == 1 else "columns"
            verb = "is" if len(missing) == 1 else "are"
            raise RawTableError(f"raw table {table}: {noun} {', '.join(missing)} {verb} missing")
        normalised[table] = frame.select(pl.col(name).cast(dtype) for name, dtype in columns.items())
    return normalised


def _check_decimals(tables: dict[str, pl.DataFrame]) -> None:
    for table, columns in DECIMAL_COLUMNS.items():
        for column in columns:
            _first_bad_value(
                tables[table], table, column, ~pl.col(column).str.contains(DECIMAL_PATTERN), "a decimal"
            )


def _check_timestamps(frame: pl.DataFrame, columns: tuple[str, ...]) -> None:
    for column in columns:
        # infinity, -infinity and expanded years (see json_rows) are refused: a BSON date holds none of them
        unusable = _parsed_timestamp(column).is_null() | ~_parsed_timestamp(column).dt.year().is_between(1, 9999)
        _first_bad_value(frame, "campaigns", column, unusable, "an ISO 8601 UTC timestamp in years 1-9999")


def _first_bad_value(frame: pl.DataFrame, table: str, column: str, is_bad: pl.Expr, expected: str) -> None:
    bad = frame.filter(pl.col(column).is_not_null() & is_bad).head(1)
    if not bad.is_empty():
        row_id, value = bad["id"][0], bad[column][0]
        raise RawTableError(
            f"raw table {table}: column {column} of row {row_id} is not {expected}: {value!r}"
        )


def _parsed_timestamp(column: str) -> pl.Expr:
    return pl.col(column).str.to_datetime(TIMESTAMP_FORMAT, time_unit="us", strict=False)


# --- hierarchy --------------------------------------------------------------------------------


def _split_hierarchy(
    campaigns: pl.DataFrame, strategies: pl.DataFrame, line_items: pl.DataFrame
) -> _Hierarchy:
    campaign_ids = campaigns.select(campaign_id="id")
    embedded = strategies.join(campaign_ids, on="campaign_id", how="semi")
    orphan_strategies = strategies.join(campaign_ids, on="campaign_id", how="anti")
    strategy_campaign = embedded.select(strategy_id="id", campaign_id="campaign_id")
    all_strategy_ids = strategies.select(strategy_id="id")
    orphan_strategy_ids = orphan_strategies.select(strategy_id="id")
    return _Hierarchy(
        strategies=embedded,
        line_items=line_items.join(strategy_campaign, on="strategy_id", how="inner"),
        orphans={
            "strategiesWithoutCampaign": _orphan_entry(orphan_strategies),
            "lineItemsWithoutStrategy": _orphan_entry(
                line_items.join(all_strategy_ids, on="strategy_id", how="anti")
            ),
            "lineItemsOfOrphanStrategies": _orphan_entry(
                line_items.join(orphan_strategy_ids, on="strategy_id", how="semi")
            ),
        },
    )


def _orphan_entry(rows: pl.DataFrame) -> dict[str, Any]:
    ids = rows.get_column("id").sort().head(MAX_ORPHAN_IDS).to_list()
    return {"count": rows.height, "ids": ids}


# --- line items and strategies ----------------------------------------------------------------


def _line_item_documents(line_items: pl.DataFrame, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """strategy_id, line_item_id and the lineItem struct of every embedded line item."""
    named = (
        line_items.join(_names(tables["channels"], "channel_id", "channel"), on="channel_id", how="left")
        .join(_names(tables["tactics"], "tactic_id", "tactic"), on="tactic_id", how="left")
        .join(
            _names(tables["unit_price_types"], "unit_price_type_id", "unitPriceType"),
            on="unit_price_type_id",
            how="left",
        )
    )
    return named.select(
        "strategy_id",
        pl.col("id").alias("line_item_id"),
        pl.struct(
            pl.col("id").alias("_id"),
            "name",
            "description",
            "audience",
            "geo",
            pl.col("start_date").alias("startDate"),
            pl.col("end_date").alias("endDate"),
            "price",
            pl.col("unit_price").alias("unitPrice"),
            pl.col("target_margin").alias("targetMargin"),
            pl.col("pacing_type").alias("pacingType"),
            "channel",
            "tactic",
            "unitPriceType",
            pl.col("media_platform_ids").alias("mediaPlatformIds"),
            pl.col("media_trader_user_ids").alias("mediaTraderUserIds"),
            pl.col("is_deleted").alias("isDeleted"),
            pl.col("created_at").alias("createdAt"),
            pl.col("updated_at").alias("updatedAt"),
        ).alias("lineItem"),
    )


def _names(lookup: pl.DataFrame, key: str, alias: str) -> pl.DataFrame:
    return lookup.select(pl.col("id").alias(key), pl.col("name").alias(alias)).unique(
        subset=key, keep="first", maintain_order=True
    )


def _strategy_lists(strategies: pl.DataFrame, line_items: pl.DataFrame) -> pl.DataFrame:
    """campaign_id and its `strategies` list (each with its `lineItems`), both ordered by _id."""
    items_per_strategy = line_items.group_by("strategy_id").agg(
        pl.col("lineItem").sort_by("line_item_id").alias("lineItems")
    )
    with_items = strategies.join(
        items_per_strategy, left_on="id", right_on="strategy_id", how="left"
    ).with_columns(pl.col("lineItems").fill_null([]))
    strategy = pl.struct(
        pl.col("id").alias("_id"),
        "name",
        "status",
        pl.col("created_at").alias("createdAt"),
        pl.col("updated_at").alias("updatedAt"),
        "lineItems",
    )
    return with_items.group_by("campaign_id").agg(strategy.sort_by(pl.col("id")).alias("strategies"))


# --- per-campaign aggregates ------------------------------------------------------------------


def _user_struct() -> pl.Expr:
    return pl.struct(
        pl.col("id").alias("userId"),
        pl.col("zoho_user_id").alias("zohoUserId"),
        "name",
        "email",
    )


def _media_traders(line_items: pl.DataFrame, users: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """campaign_id and its `mediaTraders` list; the number of (campaign, trader id) pairs unresolved."""
    pairs = (
        line_items.select("campaign_id", trader_id="media_trader_user_ids")
        .explode("trader_id")
        .drop_nulls("trader_id")
        .unique()
    )
    users_by_id = users.select(pl.col("id").alias("trader_id"), _user_struct().alias("user")).unique(
        subset="trader_id", keep="first", maintain_order=True
    )
    matched = pairs.join(users_by_id, on="trader_id", how="left")
    unresolved = matched.get_column("user").null_count()
    traders = (
        matched.drop_nulls("user")
        .group_by("campaign_id")
        .agg(pl.col("user").sort_by("trader_id").alias("mediaTraders"))
    )
    return traders, unresolved


def _line_item_totals(line_items: pl.DataFrame) -> pl.DataFrame:
    """campaign_id, lineItemCount and lineItemPriceTotal (exact, as a decimal string)."""
    price = pl.col("price")
    point = price.str.find(".", literal=True)
    with_digits = line_items.select(
        "campaign_id",
        "price",
        scale=(price.str.len_chars() - point - 1).fill_null(pl.when(price.is_not_null()).then(0)),
        integer_digits=point.fill_null(price.str.len_chars()) - price.str.starts_with("-").cast(pl.UInt32),
    )
    # One scale for the whole column (the largest), so every price converts without loss;
    # each campaign's total is then cut back to the largest scale among its own prices,
    # which is what adding the decimals by hand gives ("1.5" + "2.25" = "3.75").
    column_scale = int(with_digits.get_column("scale").max() or 0)
    _check_decimal_width(with_digits, column_scale)
    sums = with_digits.group_by("campaign_id").agg(
        pl.len().cast(pl.Int64).alias("lineItemCount"),
        price.cast(pl.Decimal(_DECIMAL_MAX_PRECISION, column_scale)).sum().alias("total"),
        pl.col("scale").max(),
    )
    return sums.select(
        "campaign_id",
        "lineItemCount",
        _trimmed_total(column_scale).alias("lineItemPriceTotal"),
    )


def _check_decimal_width(with_digits: pl.DataFrame, column_scale: int) -> None:
    widest = int(with_digits.get_column("integer_digits").max() or 0)
    headroom = len(str(with_digits.height))  # a sum of n values gains at most that many digits
    if widest + column_scale + headroom > _DECIMAL_MAX_PRECISION:
        raise RawTableError(
            f"raw table line_items: column price holds values too wide to sum exactly "
            f"({widest} integer digits and {column_scale} decimals)"
        )


def _trimmed_total(column_scale: int) -> pl.Expr:
    text = pl.col("total").cast(pl.String)
    scale = pl.col("scale")
    # Trailing characters to drop: the surplus zeros, and the point when no decimals are left.
    surplus = (
        pl.when(scale == 0).then(column_scale + 1 if column_scale else 0).otherwise(column_scale - scale)
    )
    return pl.when(scale.is_null()).then(pl.lit("0")).otherwise(text.str.head(text.str.len_chars() - surplus))


# --- campaigns --------------------------------------------------------------------------------


def _campaign_documents(
    campaigns: pl.DataFrame,
    accounts: pl.DataFrame,
    users: pl.DataFrame,
    strategies: pl.DataFrame,
    traders: pl.DataFrame,
    totals: pl.DataFrame,
    export_timestamp: str,
) -> tuple[pl.DataFrame, dict[str, int]]:
    users_by_zoho = (
        users.drop_nulls("zoho_user_id")
        .select("zoho_user_id", _user_struct().alias("user"))
        .unique(subset="zoho_user_id", keep="first", maintain_order=True)
    )
    account_names = accounts.select("id", "account_name").unique(
        subset="id", keep="first", maintain_order=True
    )
    joined = (
        campaigns.join(_renamed(account_names, "account_id", "accountName"), on="account_id", how="left")
        .join(_renamed(account_names, "agency_id", "agencyName"), on="agency_id", how="left")
        .join(_renamed(users_by_zoho, "owner_user_id", "owner"), on="owner_user_id", how="left")
        .join(
            _renamed(users_by_zoho, "lead_account_owner_user_id", "accountManager"),
            on="lead_account_owner_user_id",
            how="left",
        )
        .join(strategies, left_on="id", right_on="campaign_id", how="left")
        .join(traders, left_on="id", right_on="campaign_id", how="left")
        .join(totals, left_on="id", right_on="campaign_id", how="left")
        .with_columns(
            pl.col("strategies", "mediaTraders").fill_null([]),
            pl.col("lineItemCount").fill_null(0),
            pl.col("lineItemPriceTotal").fill_null("0"),
        )
    )
    unresolved = {
        "owner": _unresolved(joined, "owner_user_id", "owner"),
        "accountManager": _unresolved(joined, "lead_account_owner_user_id", "accountManager"),
    }
    documents = joined.sort("id").select(_document_columns(export_timestamp))
    return documents, unresolved


def _renamed(frame: pl.DataFrame, key: str, value: str) -> pl.DataFrame:
    """A two-column lookup frame renamed to (key, value) for a left join."""
    first, second = frame.columns
    return frame.rename({first: key, second: value})


def _unresolved(joined: pl.DataFrame, key: str, value: str) -> int:
    return joined.filter(pl.col(key).is_not_null() & pl.col(value).is_null()).height


def _document_columns(export_timestamp: str) -> list[pl.Expr]:
    """The document, column by column, in the key order of the spec's example."""
    return [
        pl.col("id").alias("_id"),
        pl.col("campaign_number").alias("campaignNumber"),
        pl.col("campaign_name").alias("name"),
        pl.col("stage"),
        pl.col("is_deleted").alias("isDeleted"),
        pl.col("account_id").alias("accountId"),
        pl.col("accountName"),
        pl.col("agency_id").alias("agencyId"),
        pl.col("agencyName"),
        pl.struct(
            pl.col("budget").alias("targetAmount"),
            pl.col("proposed_budget").alias("proposedBudget"),
            pl.col("expected_revenue").alias("expectedRevenue"),
            pl.lit("USD").alias("currency"),
        ).alias("price"),
        pl.col("goals_kpis").alias("goalsKpis"),
        pl.col("new_business").alias("newBusiness"),
        pl.struct(
            "owner",
            "accountManager",
            pl.col("sales_rep_user_id").alias("salesRepId"),
            "mediaTraders",
        ).alias("team"),
        pl.struct(
            pl.col("flight_date").alias("start"),
            pl.col("end_date").alias("end"),
            _duration_days().alias("durationDays"),
            pl.col("created_at").alias("createdAt"),
            pl.col("updated_at").alias("updatedAt"),
            pl.col("modified_time").alias("modifiedTime"),
        ).alias("dates"),
        pl.col("strategies"),
        pl.struct(
            pl.col("strategies").list.len().cast(pl.Int64).alias("strategyCount"),
            "lineItemCount",
            "lineItemPriceTotal",
            pl.col("mediaTraders").list.len().cast(pl.Int64).alias("mediaTraderCount"),
        ).alias("metrics"),
        pl.lit(export_timestamp, dtype=pl.String).alias("exportTimestamp"),
    ]


def _duration_days() -> pl.Expr:
    """Whole days from flight_date to end_date, rounded up; null when either is null."""
    elapsed = (_parsed_timestamp("end_date") - _parsed_timestamp("flight_date")).dt.total_microseconds()
    # Ceiling division in integers (exact for any span): ceil(a / b) == -((-a) // b).
    return -((-elapsed) // _MICROSECONDS_PER_DAY)
