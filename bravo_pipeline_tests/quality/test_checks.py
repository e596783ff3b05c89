"""The quality checks on a real demo export, and on copies of it altered to fail."""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bson.decimal128 import Decimal128

from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.mongo.store import MongoStore, open_embedded
from bravo_pipeline.mongo.versions import load_version
from bravo_pipeline.quality.checks import (
    SMALL_COUNT,
    TRADER_REFERENCE,
    CheckOutcome,
    load_schema,
    mongodb_loadable,
    mongodb_version,
    raw_completeness,
    referential_integrity,
    schema_drift,
    transform_conservation,
    used_columns_of_transform,
)
from bravo_pipeline.source.raw_export import export_raw
from bravo_pipeline.transform.export import transform_export
from bravo_pipeline.transform.raw_tables import TRANSFORM_COLUMNS
from bravo_pipeline_tests.conftest import refresh_summary

TS = "20250622-072114"
Row = dict[str, Any]


# --- fixtures and file helpers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, demo_uri: str) -> Path:
    """One real raw + transformed export of the demo database, never altered (tests copy it)."""
    root = tmp_path_factory.mktemp("quality") / "exports"
    layout = ExportsLayout(root)
    staging = layout.begin_staging("raw", TS)
    export_raw(demo_uri, "media_tool", staging, TS, source={"kind": "demo", "dump": None})
    raw_dir = layout.publish(staging, "raw", TS, replace=False)
    transformed_dir = root / "transformed" / TS
    transformed_dir.mkdir(parents=True)
    transform_export(raw_dir, transformed_dir, TS)
    return root


@pytest.fixture
def exports(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the demo export, free to alter."""
    return Path(shutil.copytree(pristine, tmp_path / "exports"))


@pytest.fixture
def raw_dir(exports: Path) -> Path:
    return exports / "raw" / TS


@pytest.fixture
def transformed_dir(exports: Path) -> Path:
    return exports / "transformed" / TS


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MongoStore]:
    opened = open_embedded(tmp_path / "mongo")
    yield opened
    opened.close()


def read_rows(path: Path) -> list[Row]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line.removesuffix(",")) for line in lines if line.startswith("{")]


def write_rows(path: Path, rows: list[Row]) -> None:
    """A raw (or campaigns.json) file in the export format: one compact row per line."""
    lines = [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in rows]
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n" if rows else "[]\n", encoding="utf-8")


def rewrite_rows(path: Path, change: Callable[[Row], Row | None]) -> None:
    """Apply `change` to every row; a row it returns None for is dropped."""
    write_rows(path, [row for row in map(change, read_rows(path)) if row is not None])


def ids_of(path: Path, key: str = "id") -> set[str]:
    return {row[key] for row in read_rows(path)}


def make_references_clean(raw_dir: Path) -> None:
    """Drop orphans and null out the ids that match nothing, so that every reference resolves."""
    campaigns = ids_of(raw_dir / "campaigns.json")
    rewrite_rows(raw_dir / "strategies.json", lambda r: r if r["campaign_id"] in campaigns else None)
    strategies = ids_of(raw_dir / "strategies.json")
    users = read_rows(raw_dir / "users.json")
    user_ids, zoho_ids = {u["id"] for u in users}, {u["zoho_user_id"] for u in users}
    accounts = ids_of(raw_dir / "accounts.json")

    def line_item(row: Row) -> Row | None:
        traders = row["media_trader_user_ids"]
        row["media_trader_user_ids"] = traders and [t for t in traders if t is None or t in user_ids]
        return row if row["strategy_id"] in strategies else None

    def campaign(row: Row) -> Row:
        for column in ("owner_user_id", "lead_account_owner_user_id"):
            if row[column] not in zoho_ids:
                row[column] = None
        if row["account_id"] not in accounts:
            row["account_id"] = None
        return row

    rewrite_rows(raw_dir / "line_items.json", line_item)
    rewrite_rows(raw_dir / "campaigns.json", campaign)


def assert_outcome(outcome: CheckOutcome, passed: bool, severity: str) -> None:
    assert (outcome.passed, outcome.severity) == (passed, severity), outcome.description
    assert outcome.description.endswith(".")
    json.dumps(outcome.metadata)  # small and serialisable


# --- 1. raw completeness ------------------------------------------------------------------------


def test_completeness_passes_on_a_real_export_without_reading_it_again(pristine: Path) -> None:
    outcome = raw_completeness(pristine / "raw" / TS)
    assert_outcome(outcome, True, "ERROR")
    assert outcome.metadata == {"tables_checked": 27, "tables_read_again": 0, "mismatches": {},
                                "missing_tables": []}


def test_completeness_reads_again_every_file_that_arrived_after_its_summary(pristine: Path,
                                                                            tmp_path: Path) -> None:
    copy = tmp_path / TS
    copy.mkdir()
    shutil.copy(pristine / "raw" / TS / "export-summary.json", copy)  # as pull_stage fetches a stage
    for path in sorted((pristine / "raw" / TS).iterdir()):
        if not (copy / path.name).exists():
            shutil.copy(path, copy)
    outcome = raw_completeness(copy)
    assert_outcome(outcome, True, "ERROR")
    assert outcome.metadata["tables_read_again"] == 27


def test_completeness_sees_a_same_size_change_made_after_the_export(pristine: Path, tmp_path: Path) -> None:
    raw = tmp_path / TS
    raw.mkdir()
    for path in sorted((pristine / "raw" / TS).iterdir()):
        if path.name != "export-summary.json":
            shutil.copy(path, raw)
    time.sleep(0.05)  # the summary written a clock tick after the files, as the exporter does
    shutil.copy(pristine / "raw" / TS / "export-summary.json", raw)
    assert raw_completeness(raw).metadata["tables_read_again"] == 0
    path = raw / "channels.json"
    data = path.read_bytes()
    with path.open("r+b") as handle:  # in place: same inode, same size, one letter changed
        handle.seek(data.index(b'"name":"') + 8)
        handle.write(b"#")
    outcome = raw_completeness(raw)
    assert_outcome(outcome, False, "ERROR")
    assert set(outcome.metadata["mismatches"]) == {"channels"}
    assert set(outcome.metadata["mismatches"]["channels"]["found"]) == {"sha256"}


def test_completeness_fails_when_a_row_is_dropped(raw_dir: Path) -> None:
    rows = read_rows(raw_dir / "campaigns.json")
    write_rows(raw_dir / "campaigns.json", rows[:-1])
    outcome = raw_completeness(raw_dir)
    assert_outcome(outcome, False, "ERROR")
    assert "campaigns" in outcome.description
    mismatch: Any = outcome.metadata["mismatches"]
    assert list(mismatch) == ["campaigns"]
    assert mismatch["campaigns"]["expected"]["count"] == len(rows)
    assert mismatch["campaigns"]["found"]["count"] == len(rows) - 1
    assert set(mismatch["campaigns"]["found"]) == {"count", "size", "sha256"}


def test_completeness_sees_a_changed_byte_and_a_missing_table(raw_dir: Path) -> None:
    path = raw_dir / "channels.json"
    path.write_bytes(path.read_bytes().replace(b'"name":"', b'"name":"X', 1))
    (raw_dir / "teams.json").unlink()
    outcome = raw_completeness(raw_dir)
    assert_outcome(outcome, False, "ERROR")
    mismatch: Any = outcome.metadata["mismatches"]
    assert set(mismatch["channels"]["found"]) == {"size", "sha256"}  # same row count
    assert outcome.metadata["missing_tables"] == ["teams"]
    assert "teams" in outcome.description and "channels" in outcome.description


def test_completeness_requires_every_known_table_in_the_summary(raw_dir: Path) -> None:
    summary_path = raw_dir / "export-summary.json"
    summary = json.loads(summary_path.read_text())
    del summary["tables"]["platform_buy_daily_videos"]
    summary_path.write_text(json.dumps(summary))
    refresh_summary(raw_dir)  # a summary that lacks a table, though consistent in itself
    outcome = raw_completeness(raw_dir)
    assert_outcome(outcome, False, "ERROR")
    assert outcome.metadata["missing_tables"] == ["platform_buy_daily_videos"]


def test_completeness_without_a_summary_fails(raw_dir: Path) -> None:
    (raw_dir / "export-summary.json").unlink()
    assert_outcome(raw_completeness(raw_dir), False, "ERROR")


# --- 2. referential integrity -------------------------------------------------------------------


def test_the_demo_has_a_few_dangling_references_by_design_and_passes(raw_dir: Path) -> None:
    outcome = referential_integrity(raw_dir)
    assert_outcome(outcome, True, "WARN")
    assert "within the usual dangling fraction" in outcome.description
    references: Any = outcome.metadata["references"]
    assert len(references) == 6
    orphans = references["strategies.campaign_id -> campaigns.id"]
    assert orphans["dangling"] >= 1 and orphans["total"] > orphans["dangling"]
    assert 1 <= len(orphans["examples"]) <= 10
    assert references["campaigns.account_id -> accounts.id"]["dangling"] == 0


def test_references_pass_when_everything_resolves(raw_dir: Path) -> None:
    make_references_clean(raw_dir)
    outcome = referential_integrity(raw_dir)
    assert_outcome(outcome, True, "WARN")
    references: Any = outcome.metadata["references"]
    assert all(entry["dangling"] == 0 for entry in references.values())


def test_a_handful_of_broken_references_passes_and_lists_them(raw_dir: Path) -> None:
    make_references_clean(raw_dir)
    rows = read_rows(raw_dir / "campaigns.json")
    rows[0]["account_id"] = "2461504000999999999"
    write_rows(raw_dir / "campaigns.json", rows)
    outcome = referential_integrity(raw_dir)
    assert_outcome(outcome, True, "WARN")
    entry: Any = outcome.metadata["references"]
    assert entry["campaigns.account_id -> accounts.id"]["dangling"] == 1
    assert entry["campaigns.account_id -> accounts.id"]["examples"] == [rows[0]["id"]]
    assert "campaigns.account_id -> accounts.id (1/" in outcome.description


def test_more_broken_references_than_usual_warn(raw_dir: Path) -> None:
    make_references_clean(raw_dir)
    rows = read_rows(raw_dir / "campaigns.json")
    broken = max(SMALL_COUNT + 1, int(len(rows) * 0.4) + 1)  # above 75 % of a 50 % error fraction
    assert broken / len(rows) < 0.5, "the fixture must be large enough to stay under the error fraction"
    for row in rows[:broken]:
        row["account_id"] = "2461504000999999999"
    write_rows(raw_dir / "campaigns.json", rows)
    outcome = referential_integrity(raw_dir, error_fraction=0.5, fraction_overrides={})
    assert_outcome(outcome, False, "WARN")
    assert outcome.metadata["unusual"] == ["campaigns.account_id -> accounts.id"]
    assert "More references dangle than usual" in outcome.description


def test_references_broken_beyond_the_fraction_are_an_error(raw_dir: Path) -> None:
    rewrite_rows(raw_dir / "strategies.json", lambda r: {**r, "campaign_id": "gone-" + r["id"]})
    outcome = referential_integrity(raw_dir)
    assert_outcome(outcome, False, "ERROR")
    entry: Any = outcome.metadata["references"]["strategies.campaign_id -> campaigns.id"]
    assert entry["dangling"] == entry["total"] and entry["fraction"] == 1.0
    assert len(entry["examples"]) == 10
    assert outcome.metadata["over_threshold"] == ["strategies.campaign_id -> campaigns.id"]


def test_the_trader_threshold_can_be_held_to_the_common_fraction(raw_dir: Path) -> None:
    outcome = referential_integrity(raw_dir, fraction_overrides={})
    traders: Any = outcome.metadata["references"][TRADER_REFERENCE.name]
    assert traders["fraction"] > 0.05  # ghost trader ids are frequent in the demo, as in production
    assert_outcome(outcome, False, "ERROR")


def test_nulls_inside_trader_arrays_are_not_dangling(raw_dir: Path) -> None:
    make_references_clean(raw_dir)
    rows = read_rows(raw_dir / "line_items.json")
    rows[0]["media_trader_user_ids"] = [None, None]
    write_rows(raw_dir / "line_items.json", rows)
    assert referential_integrity(raw_dir).passed


# --- 3. schema drift ----------------------------------------------------------------------------


def _column(schema: dict[str, Any], table: str, name: str) -> dict[str, Any]:
    return next(c for c in schema["tables"][table]["columns"] if c["name"] == name)


def test_used_columns_come_from_the_transform() -> None:
    used = used_columns_of_transform()
    assert set(used) == set(TRANSFORM_COLUMNS)
    assert {"budget", "owner_user_id"} <= used["campaigns"]
    assert "city" not in used["accounts"]


def test_drift_without_a_previous_export_passes(raw_dir: Path) -> None:
    outcome = schema_drift(None, load_schema(raw_dir), used_columns_of_transform())
    assert outcome.passed and outcome.metadata["note"] == "no previous export"


def test_the_same_schema_passes(raw_dir: Path) -> None:
    schema = load_schema(raw_dir)
    outcome = schema_drift(schema, copy.deepcopy(schema), used_columns_of_transform())
    assert_outcome(outcome, True, "WARN")
    assert outcome.metadata["changes"] == []


def test_an_added_column_or_table_warns(raw_dir: Path) -> None:
    previous = load_schema(raw_dir)
    current = copy.deepcopy(previous)
    current["tables"]["campaigns"]["columns"].append(
        {"name": "region", "type": "text", "nullable": True, "default": None})
    current["tables"]["new_table"] = {"columns": [], "primaryKey": [], "rowCount": 0}
    outcome = schema_drift(previous, current, used_columns_of_transform())
    assert_outcome(outcome, False, "WARN")
    assert outcome.metadata["changes"] == [
        {"change": "added_table", "table": "new_table", "severity": "WARN"},
        {"change": "added_column", "table": "campaigns", "column": "region", "severity": "WARN"},
    ]


def test_a_type_change_of_a_used_column_is_an_error(raw_dir: Path) -> None:
    previous = load_schema(raw_dir)
    current = copy.deepcopy(previous)
    _column(current, "campaigns", "budget")["type"] = "text"
    outcome = schema_drift(previous, current, used_columns_of_transform())
    assert_outcome(outcome, False, "ERROR")
    assert "campaigns.budget" in outcome.description
    assert outcome.metadata["changes"] == [
        {"change": "type_changed", "table": "campaigns", "column": "budget", "from": "money",
         "to": "text", "severity": "ERROR"},
    ]


def test_removing_a_used_column_is_an_error_an_unused_one_a_warning(raw_dir: Path) -> None:
    previous = load_schema(raw_dir)
    used = load_schema(raw_dir)
    used["tables"]["campaigns"]["columns"].remove(_column(used, "campaigns", "stage"))
    assert_outcome(schema_drift(previous, used, used_columns_of_transform()), False, "ERROR")

    unused = load_schema(raw_dir)
    unused["tables"]["accounts"]["columns"].remove(_column(unused, "accounts", "city"))
    _column(unused, "media_buys", "spend")["type"] = "text"
    outcome = schema_drift(previous, unused, used_columns_of_transform())
    assert_outcome(outcome, False, "WARN")
    assert [c["change"] for c in outcome.metadata["changes"]] == ["removed_column", "type_changed"]  # type: ignore[attr-defined]


def test_removing_a_table_is_an_error_only_when_the_transform_reads_it(raw_dir: Path) -> None:
    previous = load_schema(raw_dir)
    current = copy.deepcopy(previous)
    del current["tables"]["teams"]
    assert_outcome(schema_drift(previous, current, used_columns_of_transform()), False, "WARN")
    del current["tables"]["users"]
    outcome = schema_drift(previous, current, used_columns_of_transform())
    assert_outcome(outcome, False, "ERROR")
    assert "users" in outcome.description


def test_previous_export_is_the_newest_complete_one_before(tmp_path: Path) -> None:
    layout = ExportsLayout(tmp_path / "exports")
    for ts, complete in [("20250101-000000", True), ("20250102-000000", True),
                         ("20250103-000000", False), ("20250104-000000", True)]:
        folder = layout.stage_dir("raw", ts)
        folder.mkdir(parents=True)
        if complete:
            (folder / "export-summary.json").write_text("{}")
    assert layout.previous_export("20250104-000000") == "20250102-000000"
    assert layout.previous_export("20250105-000000") == "20250104-000000"
    assert layout.previous_export("20250101-000000") is None
    # complete only in the shared root: found there too (the reader pulls it before opening it)
    assert layout.previous_export("20250104-000000", ["20250103-120000"]) == "20250103-120000"
    assert layout.previous_export("20250102-000000", ["20250104-000000"]) == "20250101-000000"
    with pytest.raises(ValueError):
        layout.previous_export("../x")


# --- 4. transform conservation ------------------------------------------------------------------


def test_conservation_passes_on_a_real_transform(raw_dir: Path, transformed_dir: Path) -> None:
    outcome = transform_conservation(raw_dir, transformed_dir)
    assert_outcome(outcome, True, "ERROR")
    metadata = outcome.metadata
    assert metadata["raw_campaigns"] == metadata["documents"] == metadata["total_campaigns"]
    assert metadata["raw_strategies"] == metadata["embedded_plus_orphan_strategies"]
    assert metadata["raw_line_items"] == metadata["embedded_plus_orphan_line_items"]
    assert metadata["raw_budget_sum"] == metadata["document_target_amount_sum"]
    budgets = [row["budget"] for row in read_rows(raw_dir / "campaigns.json")]
    assert metadata["raw_budget_sum"] == str(sum(Decimal(b) for b in budgets if b is not None))


def test_an_altered_target_amount_breaks_conservation(raw_dir: Path, transformed_dir: Path) -> None:
    documents = read_rows(transformed_dir / "campaigns.json")
    changed = next(d for d in documents if d["price"]["targetAmount"] is not None)
    changed["price"]["targetAmount"] = str(Decimal(changed["price"]["targetAmount"]) + Decimal("0.01"))
    write_rows(transformed_dir / "campaigns.json", documents)
    refresh_summary(transformed_dir)  # a transform that got the money wrong, its files consistent
    outcome = transform_conservation(raw_dir, transformed_dir)
    assert_outcome(outcome, False, "ERROR")
    raw_sum = Decimal(str(outcome.metadata["raw_budget_sum"]))
    assert Decimal(str(outcome.metadata["document_target_amount_sum"])) == raw_sum + Decimal("0.01")
    assert "targetAmount" in outcome.description


def test_a_missing_document_breaks_conservation(raw_dir: Path, transformed_dir: Path) -> None:
    documents = read_rows(transformed_dir / "campaigns.json")
    removed = documents.pop(len(documents) // 2)
    write_rows(transformed_dir / "campaigns.json", documents)
    refresh_summary(transformed_dir)
    outcome = transform_conservation(raw_dir, transformed_dir)
    assert_outcome(outcome, False, "ERROR")
    assert outcome.metadata["missing_document_ids"] == [removed["_id"]]
    assert outcome.metadata["documents"] == outcome.metadata["raw_campaigns"] - 1  # type: ignore[operator]


def test_an_uncounted_orphan_breaks_conservation(raw_dir: Path, transformed_dir: Path) -> None:
    summary_path = transformed_dir / "transformation-summary.json"
    summary = json.loads(summary_path.read_text())
    summary["orphans"]["strategiesWithoutCampaign"]["count"] -= 1
    summary_path.write_text(json.dumps(summary))
    refresh_summary(transformed_dir)
    outcome = transform_conservation(raw_dir, transformed_dir)
    assert_outcome(outcome, False, "ERROR")
    assert "strategies" in outcome.description


# --- 4b. what MongoDB would refuse --------------------------------------------------------------


def test_a_real_transform_is_loadable(transformed_dir: Path) -> None:
    outcome = mongodb_loadable(transformed_dir)
    assert_outcome(outcome, True, "ERROR")
    assert outcome.metadata["documents"] == len(read_rows(transformed_dir / "campaigns.json"))


def test_duplicate_and_missing_campaign_numbers_are_named(transformed_dir: Path) -> None:
    documents = read_rows(transformed_dir / "campaigns.json")
    first, second, third, fourth = documents[:4]
    second["campaignNumber"] = third["campaignNumber"] = first["campaignNumber"]
    fourth["campaignNumber"] = None
    write_rows(transformed_dir / "campaigns.json", documents)
    refresh_summary(transformed_dir)
    outcome = mongodb_loadable(transformed_dir)
    assert_outcome(outcome, False, "ERROR")
    ids = ", ".join(sorted([first["_id"], second["_id"], third["_id"]]))
    assert f"1 campaignNumber on more than one campaign ({first['campaignNumber']} on {ids})" in outcome.description
    assert f"1 campaign without a campaignNumber ({fourth['_id']})" in outcome.description
    assert outcome.metadata["duplicate_examples"] == {first["campaignNumber"]: sorted(ids.split(", "))}


def test_an_oversized_document_and_refused_keys_are_named(transformed_dir: Path) -> None:
    documents = read_rows(transformed_dir / "campaigns.json")
    big, keyed = documents[0], documents[1]
    # 3 million short strings: about 9 MB of JSON, over 16 MiB as BSON (each element gets its index as key)
    big["strategies"] = [{"lineItems": [], "tags": ["a"] * 3_000_000}]
    keyed["price"]["$where"] = "1"
    keyed["goals.kpi"] = None
    write_rows(transformed_dir / "campaigns.json", documents)
    refresh_summary(transformed_dir)
    outcome = mongodb_loadable(transformed_dir)
    assert_outcome(outcome, False, "ERROR")
    assert f"campaign {big['_id']} is " in outcome.description and "over the 16 MiB limit" in outcome.description
    assert f"campaign {keyed['_id']} has key(s) '$where', 'goals.kpi'" in outcome.description
    assert outcome.metadata["oversized_documents"][big["_id"]] > 16 * 1024 * 1024


def test_a_value_that_looks_like_a_refused_key_is_not_one(transformed_dir: Path) -> None:
    documents = read_rows(transformed_dir / "campaigns.json")
    documents[0]["name"] = 'x,"$a.b":{"c.d":1}'  # text quoting JSON keys: still one string value
    documents[1]["goalsKpis"] = "$5.00 CPM"
    write_rows(transformed_dir / "campaigns.json", documents)
    refresh_summary(transformed_dir)
    assert_outcome(mongodb_loadable(transformed_dir), True, "ERROR")


def test_keys_ending_in_a_comma_are_not_mistaken_for_refused_ones(transformed_dir: Path) -> None:
    """`,"` also ends a key: a text search once read `:[1.5],` here as a refused key (a . in it)."""
    documents = read_rows(transformed_dir / "campaigns.json")
    documents[0]["extra"] = {"a,": [1.5], ":b": 1}
    write_rows(transformed_dir / "campaigns.json", documents)
    refresh_summary(transformed_dir)
    assert_outcome(mongodb_loadable(transformed_dir), True, "ERROR")


def test_a_tampered_campaigns_file_is_not_judged(transformed_dir: Path) -> None:
    path = transformed_dir / "campaigns.json"
    path.write_bytes(path.read_bytes().replace(b"CN-", b"CX-", 1))
    outcome = mongodb_loadable(transformed_dir)
    assert_outcome(outcome, False, "ERROR")
    assert outcome.description.startswith("Cannot check what MongoDB would refuse: ")


# --- 5. MongoDB version -------------------------------------------------------------------------


def test_a_loaded_version_matches_its_transformed_export(store: MongoStore, transformed_dir: Path) -> None:
    database = load_version(store, transformed_dir, TS).database
    outcome = mongodb_version(store, database, transformed_dir)
    assert_outcome(outcome, True, "ERROR")
    assert outcome.metadata["expected_count"] == outcome.metadata["found_count"]
    assert outcome.metadata["expected_target_amount_sum"] == outcome.metadata["found_target_amount_sum"]


def test_an_altered_document_in_mongodb_fails(store: MongoStore, transformed_dir: Path) -> None:
    database = load_version(store, transformed_dir, TS).database
    document = next(d for d in read_rows(transformed_dir / "campaigns.json") if d["price"]["targetAmount"])
    store._client[database]["campaigns"].update_one(
        {"_id": document["_id"]},
        {"$set": {"price.targetAmount": Decimal128(Decimal(document["price"]["targetAmount"]) + 1)}},
    )
    outcome = mongodb_version(store, database, transformed_dir)
    assert_outcome(outcome, False, "ERROR")
    found = Decimal(str(outcome.metadata["found_target_amount_sum"]))
    assert found == Decimal(str(outcome.metadata["expected_target_amount_sum"])) + 1


def test_a_missing_document_in_mongodb_fails(store: MongoStore, transformed_dir: Path) -> None:
    database = load_version(store, transformed_dir, TS).database
    store._client[database]["campaigns"].delete_one({})
    outcome = mongodb_version(store, database, transformed_dir)
    assert_outcome(outcome, False, "ERROR")
    assert outcome.metadata["found_count"] == outcome.metadata["expected_count"] - 1  # type: ignore[operator]


def test_a_database_that_was_never_loaded_fails(store: MongoStore, transformed_dir: Path) -> None:
    assert_outcome(mongodb_version(store, "mediatool_20000101-000000", transformed_dir), False, "ERROR")


def test_a_transformed_export_without_its_documents_fails(raw_dir: Path, transformed_dir: Path,
                                                          store: MongoStore) -> None:
    (transformed_dir / "campaigns.json").unlink()
    assert_outcome(transform_conservation(raw_dir, transformed_dir), False, "ERROR")
    assert_outcome(mongodb_version(store, "mediatool_" + TS, transformed_dir), False, "ERROR")
