"""The transformed stage through real Dagster runs: old partitions, atomic replace, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from bravo_pipeline.assets.raw import raw_export
from bravo_pipeline.assets.transformed import CAMPAIGNS_KEY, transformed_campaigns
from bravo_pipeline.definitions import build_resources
from bravo_pipeline.partitions import register_partition
from bravo_pipeline.settings import Settings
from bravo_pipeline_tests.conftest import refresh_summary

OLD, NEW = "20250622-072114", "20250623-072114"


def _run(instance: DagsterInstance, ts: str, *, transform_only: bool = False, raise_on_error=True):
    register_partition(instance, ts)
    return materialize(
        [raw_export, transformed_campaigns],
        selection=[CAMPAIGNS_KEY] if transform_only else None,
        partition_key=ts,
        instance=instance,
        resources=build_resources(Settings.from_env()),
        raise_on_error=raise_on_error,
    )


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _failure(result) -> str:
    error = result.get_step_failure_events()[0].step_failure_data.error
    while error.cause is not None:
        error = error.cause
    return error.message


@pytest.fixture
def two_exports(pipeline_env: dict[str, str]):
    exports = Path(pipeline_env["BRAVO_EXPORTS_DIR"])
    with DagsterInstance.ephemeral() as instance:
        _run(instance, OLD)
        _run(instance, NEW)
        yield instance, exports


def test_export_writes_campaign_documents_with_metadata(two_exports) -> None:
    instance, exports = two_exports
    folder = exports / "transformed" / NEW
    summary = json.loads((folder / "transformation-summary.json").read_text())
    raw_summary = json.loads((exports / "raw" / NEW / "export-summary.json").read_text())
    documents = json.loads((folder / "campaigns.json").read_text())
    assert len(documents) == summary["totalCampaigns"] == raw_summary["tables"]["campaigns"]["count"]
    assert [d["_id"] for d in documents] == sorted(d["_id"] for d in documents)
    assert {d["exportTimestamp"] for d in documents} == {NEW}
    # conservation: embedded + orphans = raw rows
    orphans = summary["orphans"]
    assert summary["totalStrategies"] + orphans["strategiesWithoutCampaign"]["count"] == raw_summary[
        "tables"]["strategies"]["count"]
    assert (summary["totalLineItems"] + orphans["lineItemsWithoutStrategy"]["count"]
            + orphans["lineItemsOfOrphanStrategies"]["count"]) == raw_summary["tables"]["line_items"]["count"]

    event = instance.get_latest_materialization_event(CAMPAIGNS_KEY)
    metadata = event.asset_materialization.metadata
    assert event.asset_materialization.partition == NEW
    assert metadata["dagster/row_count"].value == len(documents)
    assert metadata["sha256"].value == summary["sha256"]
    assert metadata["bytes"].value == (folder / "campaigns.json").stat().st_size
    assert [d["_id"] for d in metadata["preview"].value] == [d["_id"] for d in documents[:3]]
    assert metadata["unresolved_users"].value == summary["unresolvedUsers"]


def test_rematerializing_an_old_partition_reads_only_its_own_raw_files(two_exports) -> None:
    instance, exports = two_exports
    old_campaigns = exports / "raw" / OLD / "campaigns.json"
    lines = old_campaigns.read_text(encoding="utf-8").split("\n")
    row = json.loads(lines[1].rstrip(","))
    row["campaign_name"] = "Renamed after a fix – ünïcode"
    lines[1] = json.dumps(row, ensure_ascii=False, separators=(",", ":")) + ","
    old_campaigns.write_text("\n".join(lines), encoding="utf-8")
    refresh_summary(exports / "raw" / OLD)  # stands for a source row that was different
    raw_before = _snapshot(exports / "raw" / OLD)
    new_before = _snapshot(exports / "transformed" / NEW)
    new_raw_before = _snapshot(exports / "raw" / NEW)

    assert _run(instance, OLD, transform_only=True).success

    documents = json.loads((exports / "transformed" / OLD / "campaigns.json").read_text())
    assert next(d for d in documents if d["_id"] == row["id"])["name"] == row["campaign_name"]
    assert _snapshot(exports / "raw" / OLD) == raw_before
    assert _snapshot(exports / "transformed" / NEW) == new_before
    assert _snapshot(exports / "raw" / NEW) == new_raw_before
    assert sorted(p.name for p in (exports / "transformed").iterdir()) == [OLD, NEW]
    materialized = instance.get_latest_materialization_event(CAMPAIGNS_KEY).asset_materialization
    assert materialized.partition == OLD


def test_the_same_raw_export_gives_byte_identical_documents(two_exports) -> None:
    instance, exports = two_exports
    first = (exports / "transformed" / OLD / "campaigns.json").read_bytes()
    assert _run(instance, OLD, transform_only=True).success
    assert (exports / "transformed" / OLD / "campaigns.json").read_bytes() == first


def test_a_failed_transform_keeps_the_previous_good_one(two_exports) -> None:
    instance, exports = two_exports
    good = _snapshot(exports / "transformed" / OLD)
    users = exports / "raw" / OLD / "users.json"
    lines = users.read_text(encoding="utf-8").split("\n")
    lines[3] = lines[3][:20]
    users.write_text("\n".join(lines), encoding="utf-8")

    result = _run(instance, OLD, transform_only=True, raise_on_error=False)
    assert not result.success  # the file no longer matches its summary
    message = _failure(result)
    assert str(users) in message and "the summary says" in message
    assert _snapshot(exports / "transformed" / OLD) == good

    refresh_summary(exports / "raw" / OLD)  # a malformed file its summary describes: named by line
    result = _run(instance, OLD, transform_only=True, raise_on_error=False)
    assert not result.success
    message = _failure(result)
    assert "users.json" in message and "line 4" in message
    assert _snapshot(exports / "transformed" / OLD) == good
    assert [p.name for p in (exports / "transformed").iterdir() if p.name.startswith(".")] == []


def test_incomplete_raw_export_and_missing_table_are_named(two_exports) -> None:
    instance, exports = two_exports
    (exports / "raw" / OLD / "line_items.json").unlink()
    result = _run(instance, OLD, transform_only=True, raise_on_error=False)
    assert "line_items" in _failure(result)

    (exports / "raw" / NEW / "export-summary.json").unlink()
    result = _run(instance, NEW, transform_only=True, raise_on_error=False)
    assert f"raw export {NEW} is incomplete or missing" in _failure(result)


def test_cli_transform_of_an_old_timestamp(pipeline_env: dict[str, str], two_exports) -> None:
    _, exports = two_exports
    before = (exports / "transformed" / OLD / "campaigns.json").read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "bravo_pipeline.cli", "transform", OLD],
        env=pipeline_env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"transformed {OLD}:" in done.stdout
    assert (exports / "transformed" / OLD / "campaigns.json").read_bytes() == before

    missing = subprocess.run(
        [sys.executable, "-m", "bravo_pipeline.cli", "transform", "20200101-000000"],
        env=pipeline_env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "bravo-pipeline: error: raw export 20200101-000000 is incomplete or missing"
    )
