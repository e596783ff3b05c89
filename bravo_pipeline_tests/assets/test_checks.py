"""Partitioned asset checks in real runs: recorded per partition, and blocking where it matters."""

import json
from pathlib import Path

import pytest
from dagster import AssetCheckKey, DagsterInstance

from bravo_pipeline import cli
from bravo_pipeline.assets.mongodb import VERSION_KEY
from bravo_pipeline.assets.raw import SUMMARY_KEY
from bravo_pipeline.assets.transformed import CAMPAIGNS_KEY
from bravo_pipeline.transform import export as transform_export

TS1, TS2 = "20250622-072114", "20250623-072114"


def _drop_last_document(original):
    def broken(documents):
        return original(documents.head(documents.height - 1))

    return broken


def test_export_records_every_check_per_partition(pipeline_env: dict[str, str], capsys) -> None:
    assert cli.main(["export", "--timestamp", TS1]) == 0
    out = capsys.readouterr().out
    for name in ("raw_completeness", "referential_integrity", "schema_drift", "transform_conservation",
                 "mongodb_loadable", "mongodb_matches_transformed"):
        assert name in out
    assert "raw/export_summary raw_completeness: passed" in out
    assert "transformed/campaigns transform_conservation: passed" in out
    # the demo's dangling references are its usual state: every check passes on healthy data
    assert "raw/export_summary referential_integrity: passed" in out
    assert "warning" not in out and "FAILED" not in out

    import os

    os.environ["DAGSTER_HOME"] = pipeline_env["DAGSTER_HOME"]
    with DagsterInstance.get() as instance:
        key = AssetCheckKey(CAMPAIGNS_KEY, "transform_conservation")
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        evaluation = record.event.dagster_event.asset_check_evaluation_data
        assert evaluation.passed and evaluation.partition == TS1
        assert evaluation.metadata["raw_budget_sum"].value == evaluation.metadata[
            "document_target_amount_sum"].value


def test_a_failing_blocking_check_stops_the_mongodb_load(
    pipeline_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    assert cli.main(["export", "--timestamp", TS1, "--no-mongo"]) == 0
    assert "mongodb_loadable" not in capsys.readouterr().out  # the load's gate runs only with the load
    monkeypatch.setattr(transform_export, "documents_json_blocks",
                        _drop_last_document(transform_export.documents_json_blocks))
    assert cli.main(["transform", TS1, "--load"]) == 1
    captured = capsys.readouterr()
    assert "transformed/campaigns transform_conservation: FAILED - " in captured.out
    assert "transform_conservation" in captured.err
    registry = Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "mongodb-versions.json"
    assert not registry.exists()  # mongodb/version never ran

    import os

    os.environ["DAGSTER_HOME"] = pipeline_env["DAGSTER_HOME"]
    with DagsterInstance.get() as instance:
        assert instance.get_latest_materialization_event(VERSION_KEY) is None
        key = AssetCheckKey(SUMMARY_KEY, "raw_completeness")
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        assert record.status.value == "SUCCEEDED"  # the raw checks ran, and passed, before the failing one


def test_schema_drift_against_the_previous_export(pipeline_env: dict[str, str], capsys) -> None:
    assert cli.main(["export", "--timestamp", TS1, "--no-mongo"]) == 0
    raw = Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "raw" / TS1 / "schema.json"
    schema = json.loads(raw.read_text())
    for column in schema["tables"]["campaigns"]["columns"]:
        if column["name"] == "budget":
            column["type"] = "text"  # the previous export had another type: the transform reads it
    raw.write_text(json.dumps(schema))
    capsys.readouterr()
    cli.main(["export", "--timestamp", TS2, "--no-mongo"])
    out = capsys.readouterr().out
    assert "raw/export_summary schema_drift: FAILED - " in out and "budget" in out


def test_duplicate_campaign_numbers_stop_the_export_before_any_mongodb_write(
    admin_uri: str, pipeline_env: dict[str, str]
) -> None:
    import psycopg

    from bravo_pipeline.mongo.store import open_embedded
    from bravo_pipeline_tests.conftest import one_line_error, run_cli

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS duplicate_numbers WITH (FORCE)")
        conn.execute("CREATE DATABASE duplicate_numbers TEMPLATE media_tool_demo")
    uri = admin_uri.rsplit("/", 1)[0] + "/duplicate_numbers"
    try:
        with psycopg.connect(uri, autocommit=True) as conn:  # the source has no unique constraint on it
            ids = [row[0] for row in conn.execute("SELECT id FROM media_tool.campaigns ORDER BY id LIMIT 2")]
            conn.execute("UPDATE media_tool.campaigns SET campaign_number = 'CN-TWICE' WHERE id = ANY(%s)", [ids])
        done = run_cli({**pipeline_env, "BRAVO_SOURCE_URI": uri}, "export", "--timestamp", TS1)
    finally:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS duplicate_numbers WITH (FORCE)")
    line = one_line_error(done)
    assert "mongodb_loadable" in line and f"CN-TWICE on {ids[0]}, {ids[1]}" in line, line
    assert "transform_conservation" not in line
    assert "transformed/campaigns mongodb_loadable: FAILED - " in done.stdout
    exports = Path(pipeline_env["BRAVO_EXPORTS_DIR"])
    assert (exports / "transformed" / TS1 / "campaigns.json").is_file()  # the files stay, for a look
    assert not (exports / "mongodb-versions.json").exists()
    store = open_embedded(Path(pipeline_env["BRAVO_STATE_DIR"]) / "mongodb")
    try:
        assert f"mediatool_{TS1}" not in store.database_names()
    finally:
        store.close()
