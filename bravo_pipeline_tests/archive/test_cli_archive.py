"""The S3 archive end to end through the CLI and Dagster runs, against moto's HTTP server."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
from dagster import AssetCheckKey, AssetKey, DagsterInstance

from bravo_pipeline.archive.s3 import S3Location
from bravo_pipeline.quality.checks import raw_completeness
from bravo_pipeline.uris import with_database

from .conftest import AWS_ENV

TS = "20250622-072114"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bravo_pipeline.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_export_upload_list_restore_round_trip(
    pipeline_env: dict[str, str], s3_endpoint: str, s3_client: Any, bucket: str, admin_uri: str
) -> None:
    env = {**pipeline_env, **AWS_ENV, "BRAVO_S3_BUCKET": bucket, "BRAVO_S3_ENDPOINT_URL": s3_endpoint,
           "BRAVO_POSTGRES_URI": with_database(admin_uri, "postgres")}
    exports = Path(env["BRAVO_EXPORTS_DIR"])
    done = _cli(env, "export", "--timestamp", TS, "--upload")
    assert done.returncode == 0, done.stderr
    location = S3Location(bucket)
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {location.raw_key(TS), location.transformed_key(TS), location.metadata_key(TS)}
    metadata = json.loads(s3_client.get_object(Bucket=bucket, Key=location.metadata_key(TS))["Body"].read())
    assert metadata["export_complete"] is True and metadata["timestamp"] == TS

    listing = _cli(env, "list").stdout.splitlines()
    assert listing[1].startswith(TS) and " yes  " in listing[1]
    assert _cli(env, "list", "--s3").stdout.startswith(TS)
    dry = _cli(env, "upload", TS, "--dry-run")
    assert dry.returncode == 0 and f"{TS}-raw.tar.gz" in dry.stdout and "would upload" in dry.stdout

    raw_before, transformed_before = _files(exports / "raw" / TS), _files(exports / "transformed" / TS)
    shutil.rmtree(exports / "raw")
    shutil.rmtree(exports / "transformed")
    restored = _cli(env, "restore", TS, "--from-s3", "--mongodb", "--postgres")
    try:
        assert restored.returncode == 0, restored.stderr
        assert _files(exports / "raw" / TS) == raw_before
        assert _files(exports / "transformed" / TS) == transformed_before
        entries = json.loads((exports / "mongodb-versions.json").read_text())
        assert [e["action"] for e in entries] == ["loaded", "restored"]
        with psycopg.connect(with_database(admin_uri, f"media_tool_{TS}")) as conn:
            count = conn.execute("SELECT count(*) FROM media_tool.campaigns").fetchone()[0]
        assert count == json.loads(raw_before["export-summary.json"])["tables"]["campaigns"]["count"]
    finally:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "media_tool_{TS}" WITH (FORCE)')

    # the restored export is a partition like any other: re-transform it, the archive follows
    again = _cli(env, "transform", TS)
    assert again.returncode == 0, again.stderr
    assert s3_client.head_object(Bucket=bucket, Key=location.metadata_key(TS))

    missing = _cli(env, "restore", "20200101-000000", "--from-s3")
    assert missing.returncode == 1
    assert f"no export 20200101-000000 in s3://{bucket}/postgres-exports" in missing.stderr

    # cleanup --s3 deletes the archive with the export: the metadata first, then each tarball
    assert _cli(env, "export", "--timestamp", "20250623-072114", "--no-mongo").returncode == 0  # newest: kept
    gone = _cli(env, "cleanup", "--older-than", "0m", "--keep", "1", "--s3")
    assert gone.returncode == 0, gone.stderr
    listed = [line.split()[1] for line in gone.stdout.splitlines() if line.lstrip().startswith("s3 ")]
    assert listed == [f"s3://{bucket}/{key}" for key in
                      (location.metadata_key(TS), location.raw_key(TS), location.transformed_key(TS))]
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket, Prefix=location.prefix)
    assert "no exports in" in _cli(env, "list", "--s3").stdout and not (exports / "raw" / TS).exists()


def test_without_a_bucket_the_archive_is_skipped_and_upload_refused(pipeline_env: dict[str, str]) -> None:
    env = {k: v for k, v in pipeline_env.items() if not k.startswith("BRAVO_S3")}
    done = _cli(env, "export", "--timestamp", TS, "--upload")
    assert done.returncode == 1 and "--upload needs BRAVO_S3_BUCKET" in done.stderr
    assert _cli(env, "export", "--timestamp", TS, "--no-mongo").returncode == 0
    refused = _cli(env, "upload", TS)
    assert refused.returncode == 1 and "no S3 bucket configured" in refused.stderr
    os.environ.pop("BRAVO_S3_BUCKET", None)


def test_dump_export_from_an_s3_url(
    pipeline_env: dict[str, str], s3_endpoint: str, s3_client: Any, bucket: str, admin_uri: str, demo_uri: str,
    tmp_path: Path,
) -> None:
    from bravo_pipeline.source.embedded_server import client_bin_dir

    dump = tmp_path / "prod.dump"
    subprocess.run([str(client_bin_dir() / "pg_dump"), "-Fc", "--no-owner", f"--file={dump}",
                    f"--dbname={demo_uri}"], check=True)
    s3_client.upload_file(str(dump), bucket, "dumps/prod.dump")
    env = {k: v for k, v in pipeline_env.items() if k != "BRAVO_SOURCE_URI"}
    env.update({**AWS_ENV, "BRAVO_S3_ENDPOINT_URL": s3_endpoint,
                "BRAVO_POSTGRES_URI": with_database(admin_uri, "postgres")})
    try:
        done = _cli(env, "export", "--timestamp", TS, "--source", "dump", "--dump",
                    f"s3://{bucket}/dumps/prod.dump", "--no-mongo")
        assert done.returncode == 0, done.stderr
        summary = json.loads((Path(env["BRAVO_EXPORTS_DIR"]) / "raw" / TS / "export-summary.json").read_text())
        assert summary["source"] == {"kind": "dump", "dump": f"temp/prod_dump_{TS}.dump"}
        assert list((Path(env["BRAVO_EXPORTS_DIR"]) / "temp").iterdir()) == []
        missing = _cli(env, "export", "--timestamp", "20250623-000000", "--source", "dump", "--dump",
                       f"s3://{bucket}/dumps/none.dump", "--no-mongo")
        assert missing.returncode == 1 and f"cannot download s3://{bucket}/dumps/none.dump" in missing.stderr
    finally:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "media_tool_{TS}" WITH (FORCE)')


def test_shared_root_lets_a_host_without_the_files_continue_the_graph(
    pipeline_env: dict[str, str], s3_endpoint: str, s3_client: Any, bucket: str
) -> None:
    env = {**pipeline_env, **AWS_ENV, "BRAVO_S3_ENDPOINT_URL": s3_endpoint,
           "BRAVO_SHARED_ROOT": f"s3://{bucket}/shared"}
    done = _cli(env, "export", "--timestamp", TS, "--no-mongo")
    assert done.returncode == 0, done.stderr
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"shared/raw/{TS}/campaigns.json" in keys and f"shared/raw/{TS}/export-summary.json" in keys
    assert f"shared/transformed/{TS}/campaigns.json" in keys

    # another host: same instance and shared root, an empty local exports folder
    other = {**env, "BRAVO_EXPORTS_DIR": str(Path(env["BRAVO_EXPORTS_DIR"]).parent / "other-host")}
    again = _cli(other, "transform", TS, "--load")
    assert again.returncode == 0, again.stderr
    here, there = Path(env["BRAVO_EXPORTS_DIR"]), Path(other["BRAVO_EXPORTS_DIR"])
    assert _files(there / "raw" / TS) == _files(here / "raw" / TS)
    assert (there / "transformed" / TS / "campaigns.json").read_bytes() == (
        here / "transformed" / TS / "campaigns.json").read_bytes()
    # the summary arrived first, so the checks cannot take a pulled file's digest on trust
    pulled = there / "raw" / TS
    summary_ctime = (pulled / "export-summary.json").stat().st_ctime_ns
    assert all(path.stat().st_ctime_ns >= summary_ctime for path in pulled.iterdir())
    assert raw_completeness(pulled).metadata["tables_read_again"] == 27

    # a later export on a host that never held raw/<TS>/ still checks its schema against it
    shutil.rmtree(there / "raw" / TS)
    later = "20250623-072114"
    assert _cli(other, "export", "--timestamp", later, "--no-mongo").returncode == 0
    with DagsterInstance.get() as instance:
        key = AssetCheckKey(AssetKey(["raw", "export_summary"]), "schema_drift")
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        metadata = record.event.dagster_event.event_specific_data.metadata
    assert record.status.value == "SUCCEEDED" and metadata["previous_export"].value == TS
    assert (there / "raw" / TS / "schema.json").read_bytes() == (here / "raw" / TS / "schema.json").read_bytes()
