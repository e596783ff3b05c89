"""The campaign transform on a small raw export written by hand in the exact raw format."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from bravo_pipeline.transform.campaigns import (
    TransformResult,
    build_campaign_documents,
    documents_json_blocks,
    summary_counts,
)
from bravo_pipeline.transform.raw_tables import RawTableError, read_raw_table, read_transform_inputs

EXPORT_TS = "20250622-072114"

# --- ids ---------------------------------------------------------------------------------------

C1, C2, C3 = "2461504000001234567", "2461504000001234568", "2461504000001234569"
MISSING_CAMPAIGN = "2461504000009999999"
ACCOUNT, AGENCY, MISSING_ACCOUNT = "2461504000000765432", "2461504000000765433", "2461504000000700000"
U1_ID, U2_ID, U3_ID = (
    "1a000000-0000-4000-8000-000000000001",
    "2b000000-0000-4000-8000-000000000002",
    "3c000000-0000-4000-8000-000000000003",
)
UNKNOWN_USER_ID = "9f000000-0000-4000-8000-00000000dead"
U1_ZOHO, U2_ZOHO, UNKNOWN_ZOHO = "2461504000000111001", "2461504000000111002", "2461504000000111999"
S1, S2, S3, S4, S5 = (f"5a1e0000-0000-4000-8000-00000000000{n}" for n in range(1, 6))
L1, L2, L3, L4, L5, L6 = (f"7f2c0000-0000-4000-8000-00000000000{n}" for n in range(1, 7))
MISSING_STRATEGY = "dead0000-0000-4000-8000-000000000000"

NASTY_NAME = 'Café "Zürich" \\ 東京 🚀\nLine two'

# --- the raw export (rows in table column order, files ordered by primary key) ------------------


def _user(uid: str, zoho: str | None, name: str, email: str | None) -> dict[str, Any]:
    return {
        "id": uid,
        "zoho_user_id": zoho,
        "name": name,
        "email": email,
        "role": None,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-02T00:00:00.25Z",
        "modified_time": None,
    }


def _account(aid: str, name: str) -> dict[str, Any]:
    return {
        "id": aid,
        "account_name": name,
        "account_number": "AC-1",
        "team_id": 7,
        "owner_user_id": U1_ZOHO,
        "agency_markup_percentage": "12.50",
        "referral_percentage": None,
        "city": "Zürich",
        "state": None,
        "country": "CH",
        "is_deleted": False,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "modified_time": None,
    }


def _campaign(cid: str, number: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": cid,
        "campaign_number": number,
        "campaign_name": None,
        "account_id": ACCOUNT,
        "agency_id": None,
        "budget": None,
        "proposed_budget": None,
        "expected_revenue": None,
        "stage": None,
        "flight_date": None,
        "end_date": None,
        "goals_kpis": None,
        "new_business": None,
        "owner_user_id": None,
        "lead_account_owner_user_id": None,
        "sales_rep_user_id": None,
        "created_at": "2025-01-02T03:04:05.123456Z",
        "updated_at": "2025-02-03T04:05:06Z",
        "modified_time": None,
        "is_deleted": False,
    }
    row.update(values)
    return row


def _strategy(sid: str, campaign_id: str | None, name: str | None) -> dict[str, Any]:
    return {
        "id": sid,
        "campaign_id": campaign_id,
        "name": name,
        "status": "ready",
        "revision_number": 2,
        "created_at": "2025-01-05T10:00:00Z",
        "updated_at": "2025-01-06T11:30:00.000001Z",
    }


def _line_item(lid: str, strategy_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": lid,
        "strategy_id": strategy_id,
        "name": None,
        "description": None,
        "audience": None,
        "geo": None,
        "targeting": "not read by the transform",
        "ad_formats": None,
        "start_date": None,
        "end_date": None,
        "price": None,
        "unit_price": None,
        "target_margin": None,
        "pacing_type": None,
        "pacing_details": None,
        "media_trader_user_ids": [],
        "media_platform_ids": [],
        "channel_id": None,
        "tactic_id": None,
        "unit_price_type_id": None,
        "purchase_order_number": None,
        "changeset_id": 41,
        "is_deleted": False,
        "created_at": "2025-01-07T00:00:00Z",
        "updated_at": "2025-01-08T00:00:00.999999Z",
    }
    row.update(values)
    return row


RAW: dict[str, list[dict[str, Any]]] = {
    "users": [
        _user(U1_ID, U1_ZOHO, "Zoë Ångström", "zoe@example.com"),
        _user(U2_ID, U2_ZOHO, "山田 太郎 😀", "yamada@example.com"),
        _user(U3_ID, None, 'Trader "TJ" \\ Jones', None),
    ],
    "accounts": [
        _account(ACCOUNT, "Riverside Dental Group"),
        _account(AGENCY, 'Agence Élan "Créative"'),
    ],
    "campaigns": [
        _campaign(
            C1,
            "CN-12001",
            campaign_name="Riverside Dental – Spring Promo",
            agency_id=AGENCY,
            budget="1234567.89",
            expected_revenue="27500.00",
            stage="Closed (Won)",
            flight_date="2025-03-01T05:00:00Z",
            end_date="2025-05-31T04:00:00Z",
            goals_kpis="CTR > 0.2%",
            new_business=True,
            owner_user_id=U1_ZOHO,
            lead_account_owner_user_id=U2_ZOHO,
            sales_rep_user_id="2461504000000999001",
        ),
        _campaign(
            C2,
            "CN-12002",
            proposed_budget="20000",
            stage="Planning",
            end_date="2025-12-31T00:00:00Z",
            owner_user_id=UNKNOWN_ZOHO,
            modified_time="2025-02-03T04:05:06.5Z",
            is_deleted=True,
        ),
        _campaign(
            C3,
            "CN-12003",
            campaign_name=NASTY_NAME,
            account_id=MISSING_ACCOUNT,
            agency_id=AGENCY,
            budget="-0.01",
            proposed_budget="0.00",
            expected_revenue="1000000.000001",
            stage="Live",
            flight_date="2025-06-01T00:00:00.5Z",
            end_date="2025-06-03T00:00:00Z",
            goals_kpis="KPI: “CPA” < $5",
            new_business=False,
            owner_user_id=U2_ZOHO,
            lead_account_owner_user_id="2461504000000111998",
            sales_rep_user_id="2461504000000999002",
        ),
    ],
    "strategies": [
        _strategy(S1, C1, "Spring Strategy"),
        _strategy(S2, C3, "Empty strategy"),
        _strategy(S3, C3, None),
        _strategy(S4, MISSING_CAMPAIGN, "Orphan strategy"),
        _strategy(S5, None, "Strategy without campaign id"),
    ],
    "line_items": [
        _line_item(
            L1,
            S1,
            name="Display - Prospecting",
            description='Line "one"\nsecond line',
            audience="Adults 25-54",
            geo="Zürich, CH",
            start_date="2025-03-01T05:00:00Z",
            end_date="2025-04-01T04:00:00Z",
            price="15000.000000",
            unit_price="12.500000",
            target_margin="0.350000",
            pacing_type="lifetime",
            pacing_details={"schedule": [{"month": "2025-03", "share": 0.5}, None], "note": "nested"},
            media_trader_user_ids=[U3_ID, UNKNOWN_USER_ID],
            media_platform_ids=[3, 7],
            channel_id=1,
            tactic_id=1,
            unit_price_type_id=1,
        ),
        _line_item(
            L2,
            S1,
            name="Video – Retargeting 🎬",
            price="1234567.890000",
            unit_price="0.010000",
            target_margin="-0.010000",
            pacing_type="monthly",
            pacing_details={"months": {"2025-03": "1000.00"}},
            media_trader_user_ids=[U1_ID, None],
            media_platform_ids=[24, None],
            channel_id=2,
            unit_price_type_id=1,
        ),
        _line_item(
            L3,
            S1,
            name="Refund adjustment",
            price="-0.010000",
            media_trader_user_ids=[U3_ID],
            channel_id=1,
            tactic_id=1,
            is_deleted=True,
        ),
        _line_item(L4, S3, name="Search", price="250.5", tactic_id=99, unit_price_type_id=1),
        _line_item(L5, S4, name="Under an orphan strategy", price="1.00"),
        _line_item(L6, MISSING_STRATEGY, name="Without strategy", price="2.00"),
    ],
    "channels": [{"id": 1, "name": "Display"}, {"id": 2, "name": "Video"}],
    "tactics": [{"id": 1, "name": "Prospecting", "channel_id": 1}],
    "unit_price_types": [{"id": 1, "name": "CPM"}],
}

# --- the documents expected, by hand ----------------------------------------------------------

USER_1 = {"userId": U1_ID, "zohoUserId": U1_ZOHO, "name": "Zoë Ångström", "email": "zoe@example.com"}
USER_2 = {"userId": U2_ID, "zohoUserId": U2_ZOHO, "name": "山田 太郎 😀", "email": "yamada@example.com"}
USER_3 = {"userId": U3_ID, "zohoUserId": None, "name": 'Trader "TJ" \\ Jones', "email": None}

STRATEGY_TIMES = {"createdAt": "2025-01-05T10:00:00Z", "updatedAt": "2025-01-06T11:30:00.000001Z"}
LINE_ITEM_TIMES = {"createdAt": "2025-01-07T00:00:00Z", "updatedAt": "2025-01-08T00:00:00.999999Z"}
CAMPAIGN_TIMES = {"createdAt": "2025-01-02T03:04:05.123456Z", "updatedAt": "2025-02-03T04:05:06Z"}

EXPECTED_L1 = {
    "_id": L1,
    "name": "Display - Prospecting",
    "description": 'Line "one"\nsecond line',
    "audience": "Adults 25-54",
    "geo": "Zürich, CH",
    "startDate": "2025-03-01T05:00:00Z",
    "endDate": "2025-04-01T04:00:00Z",
    "price": "15000.000000",
    "unitPrice": "12.500000",
    "targetMargin": "0.350000",
    "pacingType": "lifetime",
    "channel": "Display",
    "tactic": "Prospecting",
    "unitPriceType": "CPM",
    "mediaPlatformIds": [3, 7],
    "mediaTraderUserIds": [U3_ID, UNKNOWN_USER_ID],
    "isDeleted": False,
    **LINE_ITEM_TIMES,
}
EXPECTED_L2 = {
    "_id": L2,
    "name": "Video – Retargeting 🎬",
    "description": None,
    "audience": None,
    "geo": None,
    "startDate": None,
    "endDate": None,
    "price": "1234567.890000",
    "unitPrice": "0.010000",
    "targetMargin": "-0.010000",
    "pacingType": "monthly",
    "channel": "Video",
    "tactic": None,
    "unitPriceType": "CPM",
    "mediaPlatformIds": [24, None],
    "mediaTraderUserIds": [U1_ID, None],
    "isDeleted": False,
    **LINE_ITEM_TIMES,
}
EXPECTED_L3 = {
    "_id": L3,
    "name": "Refund adjustment",
    "description": None,
    "audience": None,
    "geo": None,
    "startDate": None,
    "endDate": None,
    "price": "-0.010000",
    "unitPrice": None,
    "targetMargin": None,
    "pacingType": None,
    "channel": "Display",
    "tactic": "Prospecting",
    "unitPriceType": None,
    "mediaPlatformIds": [],
    "mediaTraderUserIds": [U3_ID],
    "isDeleted": True,
    **LINE_ITEM_TIMES,
}
EXPECTED_L4 = {
    "_id": L4,
    "name": "Search",
    "description": None,
    "audience": None,
    "geo": None,
    "startDate": None,
    "endDate": None,
    "price": "250.5",
    "unitPrice": None,
    "targetMargin": None,
    "pacingType": None,
    "channel": None,
    "tactic": None,
    "unitPriceType": "CPM",
    "mediaPlatformIds": [],
    "mediaTraderUserIds": [],
    "isDeleted": False,
    **LINE_ITEM_TIMES,
}

EXPECTED_DOCUMENTS: list[dict[str, Any]] = [
    {
        "_id": C1,
        "campaignNumber": "CN-12001",
        "name": "Riverside Dental – Spring Promo",
        "stage": "Closed (Won)",
        "isDeleted": False,
        "accountId": ACCOUNT,
        "accountName": "Riverside Dental Group",
        "agencyId": AGENCY,
        "agencyName": 'Agence Élan "Créative"',
        "price": {
            "targetAmount": "1234567.89",
            "proposedBudget": None,
            "expectedRevenue": "27500.00",
            "currency": "USD",
        },
        "goalsKpis": "CTR > 0.2%",
        "newBusiness": True,
        "team": {
            "owner": USER_1,
            "accountManager": USER_2,
            "salesRepId": "2461504000000999001",
            "mediaTraders": [USER_1, USER_3],
        },
        "dates": {
            "start": "2025-03-01T05:00:00Z",
            "end": "2025-05-31T04:00:00Z",
            "durationDays": 91,  # 90 days 23 hours, rounded up
            **CAMPAIGN_TIMES,
            "modifiedTime": None,
        },
        "strategies": [
            {
                "_id": S1,
                "name": "Spring Strategy",
                "status": "ready",
                **STRATEGY_TIMES,
                "lineItems": [EXPECTED_L1, EXPECTED_L2, EXPECTED_L3],
            }
        ],
        "metrics": {
            "strategyCount": 1,
            "lineItemCount": 3,
            "lineItemPriceTotal": "1249567.880000",
            "mediaTraderCount": 2,
        },
        "exportTimestamp": EXPORT_TS,
    },
    {
        "_id": C2,
        "campaignNumber": "CN-12002",
        "name": None,
        "stage": "Planning",
        "isDeleted": True,
        "accountId": ACCOUNT,
        "accountName": "Riverside Dental Group",
        "agencyId": None,
        "agencyName": None,
        "price": {
            "targetAmount": None,
            "proposedBudget": "20000",
            "expectedRevenue": None,
            "currency": "USD",
        },
        "goalsKpis": None,
        "newBusiness": None,
        "team": {"owner": None, "accountManager": None, "salesRepId": None, "mediaTraders": []},
        "dates": {
            "start": None,
            "end": "2025-12-31T00:00:00Z",
            "durationDays": None,
            **CAMPAIGN_TIMES,
            "modifiedTime": "2025-02-03T04:05:06.5Z",
        },
        "strategies": [],
        "metrics": {"strategyCount": 0, "lineItemCount": 0, "lineItemPriceTotal": "0", "mediaTraderCount": 0},
        "exportTimestamp": EXPORT_TS,
    },
    {
        "_id": C3,
        "campaignNumber": "CN-12003",
        "name": NASTY_NAME,
        "stage": "Live",
        "isDeleted": False,
        "accountId": MISSING_ACCOUNT,
        "accountName": None,
        "agencyId": AGENCY,
        "agencyName": 'Agence Élan "Créative"',
        "price": {
            "targetAmount": "-0.01",
            "proposedBudget": "0.00",
            "expectedRevenue": "1000000.000001",
            "currency": "USD",
        },
        "goalsKpis": "KPI: “CPA” < $5",
        "newBusiness": False,
        "team": {
            "owner": USER_2,
            "accountManager": None,
            "salesRepId": "2461504000000999002",
            "mediaTraders": [],
        },
        "dates": {
            "start": "2025-06-01T00:00:00.5Z",
            "end": "2025-06-03T00:00:00Z",
            "durationDays": 2,  # 1.5 days, rounded up
            **CAMPAIGN_TIMES,
            "modifiedTime": None,
        },
        "strategies": [
            {"_id": S2, "name": "Empty strategy", "status": "ready", **STRATEGY_TIMES, "lineItems": []},
            {"_id": S3, "name": None, "status": "ready", **STRATEGY_TIMES, "lineItems": [EXPECTED_L4]},
        ],
        "metrics": {
            "strategyCount": 2,
            "lineItemCount": 1,
            "lineItemPriceTotal": "250.5",
            "mediaTraderCount": 0,
        },
        "exportTimestamp": EXPORT_TS,
    },
]

# Key order of the spec's example document (shared/spec/export-format.md).
SPEC_KEYS = [
    "_id", "campaignNumber", "name", "stage", "isDeleted", "accountId", "accountName", "agencyId",
    "agencyName", "price", "goalsKpis", "newBusiness", "team", "dates", "strategies", "metrics",
    "exportTimestamp",
]  # fmt: skip
SPEC_PRICE_KEYS = ["targetAmount", "proposedBudget", "expectedRevenue", "currency"]
SPEC_TEAM_KEYS = ["owner", "accountManager", "salesRepId", "mediaTraders"]
SPEC_USER_KEYS = ["userId", "zohoUserId", "name", "email"]
SPEC_DATES_KEYS = ["start", "end", "durationDays", "createdAt", "updatedAt", "modifiedTime"]
SPEC_STRATEGY_KEYS = ["_id", "name", "status", "createdAt", "updatedAt", "lineItems"]
SPEC_LINE_ITEM_KEYS = [
    "_id", "name", "description", "audience", "geo", "startDate", "endDate", "price", "unitPrice",
    "targetMargin", "pacingType", "channel", "tactic", "unitPriceType", "mediaPlatformIds",
    "mediaTraderUserIds", "isDeleted", "createdAt", "updatedAt",
]  # fmt: skip
SPEC_METRICS_KEYS = ["strategyCount", "lineItemCount", "lineItemPriceTotal", "mediaTraderCount"]

# --- helpers ----------------------------------------------------------------------------------


def write_raw_table(path: Path, rows: list[dict[str, Any]]) -> None:
    """The exporter's format: `[`, one compact row per line joined by `,`, `]`; `[]` when empty."""
    if not rows:
        path.write_bytes(b"[]\n")
        return
    lines = [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in rows]
    path.write_bytes(("[\n" + ",\n".join(lines) + "\n]\n").encode("utf-8"))


def write_raw_export(raw_dir: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    raw_dir.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        write_raw_table(raw_dir / f"{table}.json", rows)
    return raw_dir


def transform(raw_dir: Path) -> tuple[TransformResult, bytes]:
    result = build_campaign_documents(read_transform_inputs(raw_dir, None), EXPORT_TS)
    return result, b"".join(documents_json_blocks(result.documents))


@pytest.fixture
def raw_tables() -> dict[str, list[dict[str, Any]]]:
    return copy.deepcopy(RAW)


@pytest.fixture
def raw_dir(tmp_path: Path, raw_tables: dict[str, list[dict[str, Any]]]) -> Path:
    return write_raw_export(tmp_path / "raw" / EXPORT_TS, raw_tables)


# --- documents --------------------------------------------------------------------------------


def test_documents_match_the_hand_written_ones(raw_dir: Path) -> None:
    _, output = transform(raw_dir)
    documents = json.loads(output)
    assert [document["_id"] for document in documents] == [C1, C2, C3]
    for produced, expected in zip(documents, EXPECTED_DOCUMENTS, strict=True):
        for key, value in expected.items():
            assert produced[key] == value, f"{produced['_id']}: {key}"
    assert documents == EXPECTED_DOCUMENTS


def test_keys_follow_the_spec_order(raw_dir: Path) -> None:
    result, output = transform(raw_dir)
    first = json.loads(output)[0]
    assert result.documents.columns == SPEC_KEYS
    assert list(first) == SPEC_KEYS
    assert list(first["price"]) == SPEC_PRICE_KEYS
    assert list(first["team"]) == SPEC_TEAM_KEYS
    assert list(first["team"]["owner"]) == SPEC_USER_KEYS
    assert list(first["team"]["accountManager"]) == SPEC_USER_KEYS
    assert list(first["team"]["mediaTraders"][0]) == SPEC_USER_KEYS
    assert list(first["dates"]) == SPEC_DATES_KEYS
    assert list(first["strategies"][0]) == SPEC_STRATEGY_KEYS
    assert list(first["strategies"][0]["lineItems"][0]) == SPEC_LINE_ITEM_KEYS
    assert list(first["metrics"]) == SPEC_METRICS_KEYS


def test_output_bytes_are_the_array_format_with_utf8_kept(raw_dir: Path) -> None:
    _, output = transform(raw_dir)
    lines = output.split(b"\n")
    assert lines[0] == b"[" and lines[-2:] == [b"]", b""]
    assert [line.endswith(b",") for line in lines[1:-2]] == [True, True, False]
    assert "東京 🚀".encode() in output and b"\\u" not in output
    assert b'Caf\xc3\xa9 \\"Z\xc3\xbcrich\\" \\\\ ' in output  # quote and backslash escaped once
    assert b"\\nLine two" in output
    for number_like in (b":1249567.88", b":-0.01", b":15000.0"):
        assert number_like not in output  # decimals are strings, never JSON numbers


def test_summary_counts(raw_dir: Path) -> None:
    result, _ = transform(raw_dir)
    assert summary_counts(result) == {
        "totalCampaigns": 3,
        "totalStrategies": 3,
        "totalLineItems": 4,
        "totalUsers": 3,
        "orphans": {
            "strategiesWithoutCampaign": {"count": 2, "ids": [S4, S5]},
            "lineItemsWithoutStrategy": {"count": 1, "ids": [L6]},
            "lineItemsOfOrphanStrategies": {"count": 1, "ids": [L5]},
        },
        "unresolvedUsers": {"owner": 1, "accountManager": 1, "mediaTraders": 1},
    }


def test_embedded_plus_orphans_is_every_raw_row(raw_dir: Path) -> None:
    result, _ = transform(raw_dir)
    orphans = result.orphans
    assert result.totals["totalStrategies"] + orphans["strategiesWithoutCampaign"]["count"] == len(
        RAW["strategies"]
    )
    line_item_orphans = (
        orphans["lineItemsWithoutStrategy"]["count"] + orphans["lineItemsOfOrphanStrategies"]["count"]
    )
    assert result.totals["totalLineItems"] + line_item_orphans == len(RAW["line_items"])
    documents = result.documents.to_dicts()
    assert sum(document["metrics"]["strategyCount"] for document in documents) == 3
    assert sum(document["metrics"]["lineItemCount"] for document in documents) == 4


def test_two_runs_give_identical_bytes_whatever_the_row_order(
    tmp_path: Path, raw_dir: Path, raw_tables: dict[str, list[dict[str, Any]]]
) -> None:
    _, first = transform(raw_dir)
    _, second = transform(raw_dir)
    reordered = copy.deepcopy(raw_tables)
    for rows in reordered.values():
        rows.reverse()
    _, third = transform(write_raw_export(tmp_path / "reversed", reordered))
    for rows in reordered.values():
        random.Random(7).shuffle(rows)
    _, fourth = transform(write_raw_export(tmp_path / "shuffled", reordered))
    assert first == second == third == fourth


def test_empty_export_gives_an_empty_array(tmp_path: Path) -> None:
    result, output = transform(write_raw_export(tmp_path / "empty", {table: [] for table in RAW}))
    assert output == b"[]\n"
    assert result.documents.columns == SPEC_KEYS
    assert result.totals == {"totalCampaigns": 0, "totalStrategies": 0, "totalLineItems": 0, "totalUsers": 0}


# --- reading raw files ------------------------------------------------------------------------


def test_extra_columns_are_ignored(
    tmp_path: Path, raw_dir: Path, raw_tables: dict[str, list[dict[str, Any]]]
) -> None:
    for row in raw_tables["campaigns"]:
        row["surprise"] = {"nested": [1, {"deep": None}], "text": "x"}
    _, expected = transform(raw_dir)
    _, output = transform(write_raw_export(tmp_path / "extra", raw_tables))
    assert output == expected
    assert "surprise" not in read_raw_table(tmp_path / "extra" / "campaigns.json", "campaigns").columns


def test_missing_required_column_names_table_and_column(
    raw_dir: Path, raw_tables: dict[str, list[dict[str, Any]]]
) -> None:
    for row in raw_tables["line_items"]:
        del row["price"]
    write_raw_table(raw_dir / "line_items.json", raw_tables["line_items"])
    with pytest.raises(RawTableError, match=r"^raw table line_items: column price is missing$"):
        read_transform_inputs(raw_dir, None)


def test_missing_file_is_named(raw_dir: Path) -> None:
    (raw_dir / "users.json").unlink()
    with pytest.raises(RawTableError, match=r"users\.json is missing"):
        read_transform_inputs(raw_dir, None)


@pytest.mark.parametrize(
    ("bad_line", "line_number"),
    [
        ('{"id":"5a1e0000-0000-4000-8000-000000000002","campaign_id":,', 3),
        ('{"id":"5a1e0000-0000-4000-8000-000000000002"}', 3),  # comma missing
        ("", 3),
    ],
)
def test_malformed_line_names_file_and_line(raw_dir: Path, bad_line: str, line_number: int) -> None:
    path = raw_dir / "strategies.json"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[line_number - 1] = bad_line
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RawTableError) as caught:
        read_transform_inputs(raw_dir, None)
    assert str(path) in str(caught.value)
    assert f"line {line_number} is malformed" in str(caught.value)


def test_wrong_value_type_names_line_and_column(raw_dir: Path) -> None:
    path = raw_dir / "channels.json"
    path.write_text('[\n{"id":1,"name":"Display"},\n{"id":"two","name":"Video"}\n]\n', encoding="utf-8")
    with pytest.raises(RawTableError, match=r"channels\.json line 3 is malformed: column id"):
        read_raw_table(path, "channels")


def test_empty_table_file_reads_as_empty_frame(tmp_path: Path) -> None:
    path = tmp_path / "tactics.json"
    path.write_bytes(b"[]\n")
    frame = read_raw_table(path, "tactics")
    assert frame.is_empty() and frame.columns == ["id", "name"]


# --- decimals ---------------------------------------------------------------------------------


def test_bad_decimal_names_table_column_and_row(
    raw_dir: Path, raw_tables: dict[str, list[dict[str, Any]]]
) -> None:
    raw_tables["campaigns"][0]["budget"] = "$12,500.00"
    write_raw_table(raw_dir / "campaigns.json", raw_tables["campaigns"])
    expected = f"raw table campaigns: column budget of row {C1} is not a decimal: '$12,500.00'"
    with pytest.raises(RawTableError) as caught:
        transform(raw_dir)
    assert str(caught.value) == expected


@pytest.mark.parametrize("value", ["infinity", "-infinity", "-0043-03-15T10:00:00Z", "+10000-01-01T00:00:00Z"])
def test_a_special_campaign_date_is_refused_with_one_line_naming_the_row(
    raw_dir: Path, raw_tables: dict[str, list[dict[str, Any]]], value: str
) -> None:
    raw_tables["campaigns"][0]["flight_date"] = value
    write_raw_table(raw_dir / "campaigns.json", raw_tables["campaigns"])
    with pytest.raises(RawTableError) as caught:
        transform(raw_dir)
    assert str(caught.value) == (
        f"raw table campaigns: column flight_date of row {C1} is not an ISO 8601 UTC timestamp in years 1-9999: "
        f"{value!r}"
    )


def test_bad_line_item_decimal_is_refused(raw_dir: Path, raw_tables: dict[str, list[dict[str, Any]]]) -> None:
    raw_tables["line_items"][3]["target_margin"] = "1e-5"
    write_raw_table(raw_dir / "line_items.json", raw_tables["line_items"])
    with pytest.raises(RawTableError, match=f"line_items: column target_margin of row {L4} is not a decimal"):
        transform(raw_dir)


def test_price_total_keeps_the_largest_scale_of_its_line_items(
    raw_dir: Path, raw_tables: dict[str, list[dict[str, Any]]]
) -> None:
    raw_tables["line_items"][0]["price"] = "99999999999.999999"
    raw_tables["line_items"][1]["price"] = "0.000001"
    raw_tables["line_items"][2]["price"] = None
    raw_tables["line_items"][3]["price"] = "7"
    write_raw_table(raw_dir / "line_items.json", raw_tables["line_items"])
    totals = [document["metrics"]["lineItemPriceTotal"] for document in json.loads(transform(raw_dir)[1])]
    assert totals == ["100000000000.000000", "0", "7"]
