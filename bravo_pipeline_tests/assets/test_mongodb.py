"""MongoDB versions and promotion through real Dagster runs and the CLI (embedded store)."""

import json
import subprocess
import sys
from pathlib import Path

from dagster import DagsterInstance, materialize

from bravo_pipeline.assets.mongodb import CURRENT_KEY, VERSION_KEY, mongodb_current, mongodb_version
from bravo_pipeline.assets.raw import raw_export
from bravo_pipeline.assets.transformed import transformed_campaigns
from bravo_pipeline.definitions import build_resources
from bravo_pipeline.mongo.store import open_embedded
from bravo_pipeline.partitions import register_partition
from bravo_pipeline.settings import Settings

TS1, TS2 = "20250622-072114", "20250623-072114"
ALL = [raw_export, transformed_campaigns, mongodb_version, mongodb_current]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bravo_pipeline.cli", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def _registry(env: dict[str, str]) -> list[dict]:
    path = Path(env["BRAVO_EXPORTS_DIR"]) / "mongodb-versions.json"
    return json.loads(path.read_text()) if path.exists() else []


def test_version_and_current_assets(pipeline_env: dict[str, str]) -> None:
    resources = build_resources(Settings.from_env())
    config = {"ops": {"mongodb__version": {"config": {"purpose": "daily_backup", "notes": "n"}}}}
    with DagsterInstance.ephemeral() as instance:
        for ts in (TS1, TS2):
            register_partition(instance, ts)
            materialize(ALL, selection=[*raw_export.keys, *transformed_campaigns.keys, VERSION_KEY],
                        partition_key=ts, instance=instance, resources=resources, run_config=config)
        metadata = instance.get_latest_materialization_event(VERSION_KEY).asset_materialization.metadata
        campaigns = json.loads(
            (Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "transformed" / TS2 / "transformation-summary.json")
            .read_text())["totalCampaigns"]
        assert metadata["database"].value == f"mediatool_{TS2}"
        assert metadata["collections"].value == {"campaigns": campaigns}
        assert "campaignNumber_1" in metadata["indexes"].value
        assert metadata["server"].value.startswith("embedded:")

        # re-materializing the same partition replaces, never duplicates
        materialize(ALL, selection=[VERSION_KEY], partition_key=TS1, instance=instance,
                    resources=resources)
        materialize(ALL, selection=[CURRENT_KEY], instance=instance, resources=resources,
                    run_config={"ops": {"mongodb__current": {"config": {"version": TS1}}}})
        current = instance.get_latest_materialization_event(CURRENT_KEY).asset_materialization.metadata
        assert current["version"].value == TS1 and current["database"].value == "mediatool_v2"

    store = open_embedded(Path(pipeline_env["BRAVO_STATE_DIR"]) / "mongodb")
    try:
        assert store.exact_count(f"mediatool_{TS1}", "campaigns") == campaigns
        assert store.exact_count("mediatool_v2", "campaigns") == campaigns
        first = next(store.iter_batches("mediatool_v2", "campaigns", 5))
        assert {d["exportTimestamp"] for d in first} == {TS1}
    finally:
        store.close()
    actions = [(e["version"], e["action"], e["purpose"]) for e in _registry(pipeline_env)]
    assert actions == [(TS1, "loaded", "daily_backup"), (TS2, "loaded", "daily_backup"),
                       (TS1, "loaded", ""), (TS1, "promoted", "")]


def test_cli_no_mongo_load_later_promote_and_list(pipeline_env: dict[str, str]) -> None:
    done = _cli(pipeline_env, "export", "--timestamp", TS1, "--no-mongo")
    assert done.returncode == 0, done.stderr
    assert "mongodb:" not in done.stdout and _registry(pipeline_env) == []

    refused = _cli(pipeline_env, "promote", TS1)
    assert refused.returncode == 1
    assert f"mediatool_{TS1} does not exist" in refused.stderr

    loaded = _cli(pipeline_env, "transform", TS1, "--load", "--purpose", "fix", "--notes", "after bug 12")
    assert loaded.returncode == 0, loaded.stderr
    assert f"loaded into mediatool_{TS1}" in loaded.stdout

    exported = _cli(pipeline_env, "export", "--timestamp", TS2, "--purpose", "daily_backup")
    assert exported.returncode == 0, exported.stderr
    assert f"mediatool_{TS2} on the embedded store" in exported.stdout

    promoted = _cli(pipeline_env, "promote", TS2, "--purpose", "release")
    assert promoted.returncode == 0, promoted.stderr
    listing = _cli(pipeline_env, "list").stdout.splitlines()
    assert listing[1].startswith(TS2) and listing[1].endswith(f"mediatool_{TS2} (current: mediatool_v2)")
    assert listing[2].startswith(TS1) and listing[2].endswith(f"mediatool_{TS1}")

    refused = _cli(pipeline_env, "promote", "20200101-000000")
    assert refused.returncode == 1
    entries = _registry(pipeline_env)
    assert [(e["version"], e["action"], e["purpose"], e["notes"]) for e in entries] == [
        (TS1, "loaded", "fix", "after bug 12"),
        (TS2, "loaded", "daily_backup", ""),
        (TS2, "promoted", "release", ""),
    ]


def test_unreachable_mongodb_is_named_and_nothing_registered(pipeline_env: dict[str, str]) -> None:
    env = {**pipeline_env, "BRAVO_MONGODB_URI": "mongodb://app:secret@127.0.0.1:9/admin"}
    done = _cli(env, "export", "--timestamp", TS1)
    assert done.returncode == 1
    assert "cannot reach MongoDB at 127.0.0.1:9" in done.stderr and "secret" not in done.stderr
    assert _registry(env) == []
    # raw and transformed are complete: the load can be retried with transform --load
    assert (Path(env["BRAVO_EXPORTS_DIR"]) / "transformed" / TS1 / "campaigns.json").exists()
