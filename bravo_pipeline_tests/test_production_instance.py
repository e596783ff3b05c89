"""deploy/dagster.yaml: PostgreSQL instance storage, multiprocess runs, all recorded in PostgreSQL."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterEventType, DagsterInstance

from bravo_pipeline.partitions import register_partition

from .conftest import repo_root

TS1, TS2 = "20250622-072114", "20250623-072114"


@pytest.fixture
def production_env(admin_uri: str, pipeline_env: dict[str, str], tmp_path: Path):
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS dagster_storage WITH (FORCE)")
        conn.execute("CREATE DATABASE dagster_storage")
    home = Path(pipeline_env["DAGSTER_HOME"])
    home.mkdir(parents=True)
    shutil.copyfile(repo_root() / "deploy" / "dagster.yaml", home / "dagster.yaml")
    server = urlsplit(admin_uri)
    env = {
        **pipeline_env,
        "DAGSTER_PG_HOST": server.hostname, "DAGSTER_PG_PORT": str(server.port),
        "DAGSTER_PG_DB": "dagster_storage", "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "unused-with-trust", "BRAVO_EXECUTOR": "multiprocess",
    }
    previous = dict(os.environ)
    os.environ.update(env)
    yield env
    os.environ.clear()
    os.environ.update(previous)
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS dagster_storage WITH (FORCE)")


def test_full_graph_for_two_partitions_with_the_multiprocess_executor(
    production_env: dict[str, str], admin_uri: str
) -> None:
    with DagsterInstance.get() as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        for ts in (TS1, TS2):
            register_partition(instance, ts)
    for ts in (TS1, TS2):
        done = subprocess.run(
            [sys.executable, "-m", "dagster", "job", "execute", "-m", "bravo_pipeline.definitions",
             "-j", "export_job", "--tags", json.dumps({"dagster/partition": ts})],
            env=production_env, capture_output=True, text=True, timeout=600, check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    with DagsterInstance.get() as instance:
        assert sorted(instance.get_dynamic_partitions("export_timestamp")) == [TS1, TS2]
        runs = instance.get_runs()
        assert len(runs) == 2 and all(run.is_success for run in runs)
        for run in runs:
            starts = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.STEP_START).records
            step_pids = {record.event_log_entry.dagster_event.pid for record in starts}
            assert len(starts) >= 3 and len(step_pids) == len(starts), "each step in its own process"
        for ts in (TS1, TS2):
            records = instance.fetch_materializations(
                AssetKey(["transformed", "campaigns"]), limit=10
            ).records
            by_partition = {r.asset_materialization.partition: r.asset_materialization for r in records}
            assert by_partition[ts].metadata["dagster/row_count"].value > 0
        versions = instance.fetch_materializations(AssetKey(["mongodb", "version"]), limit=10).records
        assert {r.asset_materialization.partition for r in versions} == {TS1, TS2}
        check = AssetCheckKey(AssetKey(["transformed", "campaigns"]), "transform_conservation")
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])[check]
        assert latest.event.dagster_event.asset_check_evaluation_data.passed

    with psycopg.connect(admin_uri.rsplit("/", 1)[0] + "/dagster_storage") as conn:
        partitions = {row[0] for row in conn.execute("SELECT partition FROM dynamic_partitions")}
        assert partitions == {TS1, TS2}
        stored = conn.execute(
            "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
        ).fetchone()[0]
        assert stored >= 2 * (27 + 1 + 1 + 1)  # raw tables + summary + transformed + version
        checks = conn.execute(
            "SELECT check_name, partition, execution_status FROM asset_check_executions"
        ).fetchall()
        assert {(name, partition) for name, partition, _ in checks} >= {
            (name, ts) for ts in (TS1, TS2)
            for name in ("raw_completeness", "transform_conservation", "mongodb_loadable",
                         "mongodb_matches_transformed")
        }
