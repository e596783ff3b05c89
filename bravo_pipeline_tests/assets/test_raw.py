"""The raw stage through real Dagster runs against the real embedded PostgreSQL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, materialize

from bravo_pipeline.assets.raw import SUMMARY_KEY, raw_export, raw_table_key
from bravo_pipeline.definitions import build_resources
from bravo_pipeline.partitions import register_partition
from bravo_pipeline.settings import Settings
from bravo_pipeline.source.tables import KNOWN_TABLES

TS1, TS2 = "20250622-072114", "20250623-072114"


def _materialize(instance: DagsterInstance, ts: str, raise_on_error: bool = True):
    register_partition(instance, ts)
    return materialize(
        [raw_export],
        partition_key=ts,
        instance=instance,
        resources=build_resources(Settings.from_env()),
        raise_on_error=raise_on_error,
    )


def _file_rows(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return 0 if lines == ["[]"] else len(lines) - 2


def test_raw_export_writes_every_table_and_records_metadata(pipeline_env: dict[str, str]) -> None:
    exports = Path(pipeline_env["BRAVO_EXPORTS_DIR"])
    with DagsterInstance.ephemeral() as instance:
        result = _materialize(instance, TS1)
        assert result.success
        folder = exports / "raw" / TS1
        summary = json.loads((folder / "export-summary.json").read_text())
        assert summary["exportTimestamp"] == TS1 and summary["snapshot"] == "consistent"
        assert summary["source"] == {"kind": "live", "dump": None}
        assert set(summary["tables"]) == set(KNOWN_TABLES)
        assert "@" not in summary["host"] and summary["host"].startswith("127.0.0.1:")
        schema = json.loads((folder / "schema.json").read_text())
        assert schema["tables"]["campaigns"]["primaryKey"] == ["id"]
        assert {"name": "budget", "type": "money", "nullable": True, "default": None} in schema[
            "tables"]["campaigns"]["columns"]

        for table in KNOWN_TABLES:
            entry = summary["tables"][table]
            assert _file_rows(folder / f"{table}.json") == entry["count"]
            event = instance.get_latest_materialization_event(raw_table_key(table))
            metadata = event.asset_materialization.metadata
            assert event.asset_materialization.partition == TS1
            assert metadata["dagster/row_count"].value == entry["count"]
            assert metadata["sha256"].value == entry["sha256"]
            assert metadata["bytes"].value == entry["size"] == (folder / f"{table}.json").stat().st_size
            assert len(metadata["preview"].value) == min(5, entry["count"])
            columns = [c.name for c in metadata["dagster/column_schema"].value.columns]
            assert columns == [c["name"] for c in schema["tables"][table]["columns"]]
        totals = instance.get_latest_materialization_event(SUMMARY_KEY).asset_materialization.metadata
        assert totals["dagster/row_count"].value == summary["totalRecords"] > 0

        # money is exported as an exact decimal string, never `$12,500.00`
        campaigns = json.loads((folder / "campaigns.json").read_text())
        budgets = [row["budget"] for row in campaigns if row["budget"] is not None]
        assert all(isinstance(b, str) and "$" not in b and "," not in b for b in budgets)


def test_two_exports_of_the_same_data_are_byte_identical(pipeline_env: dict[str, str]) -> None:
    exports = Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "raw"
    with DagsterInstance.ephemeral() as instance:
        _materialize(instance, TS1)
        _materialize(instance, TS2)
    first = sorted(p.name for p in (exports / TS1).iterdir())
    assert first == sorted(p.name for p in (exports / TS2).iterdir())
    for name in first:
        if name != "export-summary.json":
            assert (exports / TS1 / name).read_bytes() == (exports / TS2 / name).read_bytes(), name
    s1 = json.loads((exports / TS1 / "export-summary.json").read_text())
    s2 = json.loads((exports / TS2 / "export-summary.json").read_text())
    assert s1["tables"] == s2["tables"]


def test_a_complete_raw_export_is_never_overwritten_and_stays_healthy(pipeline_env: dict[str, str]) -> None:
    folder = Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "raw" / TS1
    with DagsterInstance.ephemeral() as instance:
        _materialize(instance, TS1)
        before = {p.name: p.read_bytes() for p in folder.iterdir()}
        again = _materialize(instance, TS1, raise_on_error=False)
        assert again.success  # refused without a red partition: nothing materialized, a warning said why
        assert not again.get_asset_materialization_events()
        warnings = [e.user_message for e in instance.all_logs(again.run_id) if "already exported" in e.user_message]
        assert warnings, "the run says why it did nothing"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in folder.parent.iterdir()] == [TS1]


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bravo_pipeline.cli", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


def test_cli_export_list_latest_end_to_end(pipeline_env: dict[str, str]) -> None:
    exports = Path(pipeline_env["BRAVO_EXPORTS_DIR"])
    done = _cli(pipeline_env, "export", "--timestamp", TS1)
    assert done.returncode == 0, done.stderr
    assert f"export {TS1} complete" in done.stdout
    assert "exported campaigns:" in done.stdout  # progress per table
    assert str(exports / "raw" / TS1) in done.stdout
    second = _cli(pipeline_env, "export", "--timestamp", TS2)
    assert second.returncode == 0, second.stderr

    listing = _cli(pipeline_env, "list")
    lines = listing.stdout.splitlines()
    assert lines[1].startswith(TS2) and lines[2].startswith(TS1)  # newest first
    assert _cli(pipeline_env, "latest").stdout.strip() == TS2

    log = (exports / "logs" / f"pipeline_{TS1}.log").read_text().splitlines()
    assert any("exported campaigns" in line for line in log)
    assert all(line.startswith("[20") and " UTC] " in line for line in log)

    # the run is on the instance at DAGSTER_HOME, so the UI shows it
    os.environ["DAGSTER_HOME"] = pipeline_env["DAGSTER_HOME"]
    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert {run.tags.get("dagster/partition") for run in runs} == {TS1, TS2}
        assert instance.get_dynamic_partitions("export_timestamp") == [TS1, TS2]


def test_cli_refuses_bad_timestamps_before_creating_anything(pipeline_env: dict[str, str]) -> None:
    for bad in ["20251399-999999", "2025-06-22", "../x", ""]:
        done = _cli(pipeline_env, "export", "--timestamp", bad)
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "invalid export timestamp" in done.stderr
    assert not Path(pipeline_env["BRAVO_EXPORTS_DIR"]).exists()
    assert not Path(pipeline_env["DAGSTER_HOME"]).exists()


def test_unreachable_source_names_host_and_port_never_the_password(
    pipeline_env: dict[str, str],
) -> None:
    env = {**pipeline_env, "BRAVO_SOURCE_URI": "postgresql://bob:s3cret@127.0.0.1:9/media_tool"}
    done = _cli(env, "export", "--timestamp", TS1)
    assert done.returncode == 1
    assert "cannot connect to PostgreSQL at 127.0.0.1:9" in done.stderr
    assert "s3cret" not in done.stdout + done.stderr
    assert not (Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "raw" / TS1).exists()


@pytest.fixture
def altered_source(admin_uri: str, demo_uri: str) -> str:
    """A copy of the demo database that a test may change."""
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS altered_source WITH (FORCE)")
        conn.execute("CREATE DATABASE altered_source TEMPLATE media_tool_demo")
    yield admin_uri.rsplit("/", 1)[0] + "/altered_source"
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS altered_source WITH (FORCE)")


def test_missing_schema_and_missing_table_are_named(
    pipeline_env: dict[str, str], altered_source: str
) -> None:
    env = {**pipeline_env, "BRAVO_SOURCE_URI": altered_source, "BRAVO_SOURCE_SCHEMA": "nope"}
    done = _cli(env, "export", "--timestamp", TS1)
    assert done.returncode == 1 and "schema 'nope' does not exist" in done.stderr

    with psycopg.connect(altered_source, autocommit=True) as conn:
        conn.execute("DROP TABLE media_tool.rate_card_history")
    done = _cli({**env, "BRAVO_SOURCE_SCHEMA": "media_tool"}, "export", "--timestamp", TS1)
    assert done.returncode == 1
    assert "table(s) missing in the source: rate_card_history" in done.stderr
    raw = Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "raw"
    assert not raw.exists() or list(raw.iterdir()) == []


def test_extra_table_is_exported_with_a_warning(
    pipeline_env: dict[str, str], altered_source: str
) -> None:
    with psycopg.connect(altered_source, autocommit=True) as conn:
        conn.execute("CREATE TABLE media_tool.new_things (id int PRIMARY KEY, label text)")
        conn.execute("INSERT INTO media_tool.new_things VALUES (2, 'b'), (1, 'a')")
    done = _cli({**pipeline_env, "BRAVO_SOURCE_URI": altered_source}, "export", "--timestamp", TS1)
    assert done.returncode == 0, done.stderr
    assert "WARNING" in done.stdout and "new_things" in done.stdout
    folder = Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "raw" / TS1
    assert json.loads((folder / "new_things.json").read_text()) == [
        {"id": 1, "label": "a"}, {"id": 2, "label": "b"}
    ]
    assert json.loads((folder / "export-summary.json").read_text())["tables"]["new_things"]["count"] == 2


def test_a_killed_export_leaves_no_directory(
    pipeline_env: dict[str, str], altered_source: str
) -> None:
    with psycopg.connect(altered_source, autocommit=True) as conn:
        conn.execute("CREATE TABLE media_tool.zz_big (id int PRIMARY KEY, payload text)")
        conn.execute(
            "INSERT INTO media_tool.zz_big SELECT i, repeat(md5(i::text), 100) "
            "FROM generate_series(1, 400000) AS i"
        )
    env = {**pipeline_env, "BRAVO_SOURCE_URI": altered_source}
    raw = Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "raw"
    process = subprocess.Popen(
        [sys.executable, "-m", "bravo_pipeline.cli", "export", "--timestamp", TS1],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    partial = None
    while time.monotonic() < deadline and partial is None:
        partial = next(iter(raw.glob(".*partial*/zz_big.json")), None) if raw.exists() else None
        time.sleep(0.02)
    assert partial is not None, "the export never reached the big table"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (raw / TS1).exists()
    assert not (raw / TS1 / "export-summary.json").exists()

    # the next export sweeps the dead staging folder and succeeds
    done = _cli(pipeline_env, "export", "--timestamp", TS2)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in raw.iterdir()) == [TS2]
