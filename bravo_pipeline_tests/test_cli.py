"""The day-to-day commands of cli.py, as a user types them: compare (and the change report), cleanup, show."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, materialize

from bravo_pipeline import cli
from bravo_pipeline.assets.raw import raw_export
from bravo_pipeline.assets.reports import CHANGES_KEY, changes_report
from bravo_pipeline.assets.transformed import transformed_campaigns
from bravo_pipeline.definitions import build_resources
from bravo_pipeline.partitions import register_partition
from bravo_pipeline.settings import Settings

OLD, MIDDLE, NEW = "20250101-000000", "20250102-000000", "20250103-000000"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bravo_pipeline.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def changing_source(admin_uri: str, demo_uri: str, pipeline_env: dict[str, str]):
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ops_source WITH (FORCE)")
        conn.execute("CREATE DATABASE ops_source TEMPLATE media_tool_demo")
    uri = admin_uri.rsplit("/", 1)[0] + "/ops_source"
    os.environ["BRAVO_SOURCE_URI"] = uri
    yield uri
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS ops_source WITH (FORCE)")


def test_compare_and_change_report_after_known_changes(
    pipeline_env: dict[str, str], changing_source: str, capsys
) -> None:
    assert cli.main(["export", "--timestamp", OLD, "--no-mongo"]) == 0
    with psycopg.connect(changing_source, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM media_tool.campaigns ORDER BY id LIMIT 4")]
        conn.execute("UPDATE media_tool.campaigns SET stage = 'Paused' WHERE id = ANY(%s)", [ids[:3]])
        conn.execute("UPDATE media_tool.campaigns SET stage = 'Live', campaign_name = 'Renamed' WHERE id = %s",
                     [ids[3]])
        conn.execute("ALTER TABLE media_tool.teams ADD COLUMN region text")
    assert cli.main(["export", "--timestamp", NEW, "--no-mongo"]) == 0
    capsys.readouterr()

    assert cli.main(["compare", OLD, NEW, "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    report_path = Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "comparison-reports" / f"compare-{OLD}-vs-{NEW}.md"
    assert f"report: {report_path}" in out and report_path.read_text().startswith("#")
    assert cli.main(["compare", OLD, NEW, "--output", str(Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "r.json")]) == 0
    report = json.loads((Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "r.json").read_text())
    campaigns = report["details"]["campaigns"]
    assert (campaigns["added"], campaigns["removed"], campaigns["changed"]) == (0, 0, 4)
    assert campaigns["field_changes"]["stage"] >= 3 and campaigns["field_changes"]["campaign_name"] == 1
    assert sorted(campaigns["examples"]["changed"]) == sorted(ids)
    assert report["details"]["teams"]["schema"]["added_columns"] == ["region"]
    assert report["transformed"]["campaigns"]["changed"] == 4

    assert cli.main(["compare", OLD, "20200101-000000"]) == 1
    assert "20200101-000000" in capsys.readouterr().err

    with DagsterInstance.ephemeral() as instance:
        register_partition(instance, NEW)
        result = materialize([raw_export, transformed_campaigns, changes_report], selection=[CHANGES_KEY],
                             partition_key=NEW, instance=instance, resources=build_resources(Settings.from_env()))
        assert result.success
        metadata = instance.get_latest_materialization_event(CHANGES_KEY).asset_materialization.metadata
        assert metadata["previous_export"].value == OLD
        assert metadata["tables_with_changes"].value == report["summary"]["tables_with_changes"]
        assert "| campaigns |" in metadata["changes"].value and "region" in json.dumps(
            metadata["schema_changes"].value)


def test_cleanup_keeps_newest_promoted_and_kept_and_removes_partitions(
    pipeline_env: dict[str, str], capsys
) -> None:
    for ts in (OLD, MIDDLE, NEW):
        assert cli.main(["export", "--timestamp", ts]) == 0
    assert cli.main(["promote", OLD]) == 0
    capsys.readouterr()
    exports = Path(pipeline_env["BRAVO_EXPORTS_DIR"])
    before = sorted(p.name for p in (exports / "raw").iterdir())

    assert cli.main(["cleanup", "--older-than", "1d", "--keep", "1", "--dry-run", "--databases"]) == 0
    out = capsys.readouterr().out
    assert f"keep   {NEW}  (newest)" in out and f"keep   {OLD}  (promoted)" in out
    assert f"would delete {MIDDLE}" in out and f"mediatool_{MIDDLE}" in out
    assert sorted(p.name for p in (exports / "raw").iterdir()) == before

    assert cli.main(["cleanup", "--older-than", "1d", "--keep", "1", "--databases"]) == 0
    assert "deleted 1 export(s)" in capsys.readouterr().out
    assert sorted(p.name for p in (exports / "raw").iterdir()) == [OLD, NEW]
    assert not (exports / "transformed" / MIDDLE).exists()
    assert not (exports / "logs" / f"pipeline_{MIDDLE}.log").exists()
    entries = json.loads((exports / "mongodb-versions.json").read_text())
    assert entries[-1]["action"] == "dropped" and entries[-1]["version"] == MIDDLE
    with DagsterInstance.get() as instance:
        assert sorted(instance.get_dynamic_partitions("export_timestamp")) == [OLD, NEW]
    assert cli.main(["list"]) == 0
    assert MIDDLE not in capsys.readouterr().out

    assert cli.main(["cleanup", "--older-than", "soon"]) == 1
    assert "use a number followed by d, h, m or w" in capsys.readouterr().err


def test_cleanup_with_an_unreachable_store_cleans_nothing_of_it_and_fails(pipeline_env: dict[str, str]) -> None:
    for ts in (OLD, NEW):
        assert _cli(pipeline_env, "export", "--timestamp", ts, "--no-mongo").returncode == 0
    env = {**pipeline_env, "BRAVO_MONGODB_URI": "mongodb://127.0.0.1:9"}
    done = _cli(env, "cleanup", "--older-than", "1d", "--keep", "0", "--databases")
    assert done.returncode == 1
    assert "could not clean: MongoDB: cannot reach MongoDB at 127.0.0.1:9" in done.stderr
    assert (Path(env["BRAVO_EXPORTS_DIR"]) / "raw" / OLD / "export-summary.json").exists()


def test_show_reads_the_summaries_and_lists_the_checks(pipeline_env: dict[str, str], capsys) -> None:
    assert cli.main(["export", "--timestamp", OLD]) == 0
    capsys.readouterr()
    assert cli.main(["show", OLD]) == 0
    out = capsys.readouterr().out
    assert f"export {OLD}" in out and "from live" in out and f"mediatool_{OLD}" in out
    assert "transformed/campaigns transform_conservation: passed" in out
    assert cli.main(["show", "20200101-000000"]) == 1
