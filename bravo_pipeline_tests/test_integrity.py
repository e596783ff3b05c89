"""Integrity through the real CLI: tampered files are refused, killed commands leave every store agreeing.

A process is killed (SIGKILL) at named points with BRAVO_TEST_KILL_AT (bravo_pipeline.faults).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bravo_pipeline.archive.s3 import S3Location, archive_export, download_export, make_client
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.mongo.registry import Registry
from bravo_pipeline.mongo.store import open_embedded
from bravo_pipeline.mongo.versions import COLLECTION, STAGING_PREFIX, catalog
from bravo_pipeline.mongo.view import observe
from bravo_pipeline.uris import with_database
from bravo_pipeline_tests.archive.conftest import write_transformed
from bravo_pipeline_tests.conftest import AWS_ENV, TS1, TS2, one_line_error, run_cli

POINTS = ("staged", "pending", "renamed", "committed")


def _store(env: dict[str, str]) -> Any:
    return open_embedded(Path(env["BRAVO_STATE_DIR"]) / "mongodb")


def _held(env: dict[str, str], database: str) -> tuple[int, Decimal, set[str]]:
    store = _store(env)
    try:
        count, total = store.count_and_decimal_sum(database, COLLECTION, "price.targetAmount")
        versions = {d.get("exportTimestamp") for batch in store.iter_batches(database, COLLECTION, 5000)
                    for d in batch}
        return count, total, versions
    finally:
        store.close()


def _expected(env: dict[str, str], ts: str) -> tuple[int, Decimal]:
    path = Path(env["BRAVO_EXPORTS_DIR"]) / "raw" / ts / "campaigns.json"
    rows = [json.loads(line.rstrip().rstrip(",")) for line in path.read_text().splitlines()[1:-1]]
    return len(rows), sum((Decimal(r["budget"]) for r in rows if r["budget"] is not None), Decimal(0))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _killed(env: dict[str, str], point: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_cli({**env, "BRAVO_TEST_KILL_AT": point}, *args)
    assert done.returncode == -signal.SIGKILL, (point, done.returncode, done.stderr)
    return done


def _stores_agree(env: dict[str, str]) -> None:
    """The registry (after reconciling), `list` and the databases name the same versions."""
    store = _store(env)
    try:
        states = catalog(store, "mediatool_v2")
    finally:
        store.close()
    view = observe(lambda: _ctx(env), Registry(Path(env["BRAVO_EXPORTS_DIR"])), "mediatool_v2", print)
    listing = run_cli(env, "list")
    assert listing.returncode == 0, listing.stderr
    for ts in (TS1, TS2):
        row = next(line for line in listing.stdout.splitlines() if line.startswith(ts))
        assert (f"mediatool_{ts}" in row) == (ts in view.loaded)
        assert ("(current: mediatool_v2)" in row) == (view.current == ts)
    entries = json.loads((Path(env["BRAVO_EXPORTS_DIR"]) / "mongodb-versions.json").read_text())
    ids = [entry["load_id"] for entry in entries if entry.get("load_id")]
    assert len(ids) == len(set(ids))
    for database, state in states.items():
        last = [e for e in entries if e["database_name"] == database][-1]
        assert last["load_id"] == state.load_id and last["version"] == state.version


class _ctx:
    def __init__(self, env: dict[str, str]) -> None:
        self.store = _store(env)

    def __enter__(self) -> Any:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()


# ---------------------------------------------------------------------------
# Tampered files are refused, one line naming the file and both digests
# ---------------------------------------------------------------------------


def _tamper(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


def test_an_edited_raw_table_stops_every_reader(env: dict[str, str], admin_uri: str, s3_endpoint: str,
                                                 bucket: str) -> None:
    exports = Path(env["BRAVO_EXPORTS_DIR"])
    raw = exports / "raw" / TS1 / "campaigns.json"
    before_transformed = _files(exports / "transformed" / TS1)
    before_mongo = _held(env, f"mediatool_{TS1}")
    text = raw.read_text()
    budget = json.loads(text.splitlines()[1].rstrip(","))["budget"]
    edited = str(Decimal(budget) + 1).rjust(len(budget), "0")[: len(budget)]
    _tamper(raw, f'"budget":"{budget}"'.encode(), f'"budget":"{edited}"'.encode())  # same size

    s3 = {**env, **AWS_ENV, "BRAVO_S3_BUCKET": bucket, "BRAVO_S3_ENDPOINT_URL": s3_endpoint,
          "BRAVO_POSTGRES_URI": admin_uri}
    for command in (["transform", TS1, "--load"], ["verify", TS1], ["compare", TS1, TS2], ["upload", TS1],
                    ["restore", TS1, "--postgres"]):
        line = one_line_error(run_cli(s3, *command))
        assert str(raw) in line and "sha256" in line and "the summary says" in line, (command, line)
    assert _files(exports / "transformed" / TS1) == before_transformed
    assert _held(env, f"mediatool_{TS1}") == before_mongo
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s",
                            [f"media_tool_{TS1}%"]).fetchone()[0] == 0
    listing = make_client(s3_endpoint, "us-east-1").list_objects_v2(Bucket=bucket, Prefix="postgres-exports/")
    assert "Contents" not in listing  # nothing uploaded


@pytest.mark.parametrize(
    ("stage", "filename", "old", "new", "commands"),
    [
        ("raw", "schema.json", b'"nullable": true', b'"nullable": fals', [["verify", TS1], ["compare", TS1, TS2]]),
        ("raw", "export-summary.json", b'"snapshot": "consistent"', b'"snapshot": "inconsistent"',
         [["verify", TS1], ["transform", TS1], ["compare", TS1, TS2]]),
        ("transformed", "transformation-summary.json", b'"source": "PostgreSQL export"',
         b'"source": "PostgreSQL exporT"', [["verify", TS1], ["restore", TS1, "--mongodb"]]),
        ("transformed", "campaigns.json", b'"stage":"', b'"stagE":"', [["verify", TS1], ["restore", TS1, "--mongodb"],
                                                                     ["compare", TS1, TS2]]),
    ],
)
def test_every_kind_of_file_is_checked(
    env: dict[str, str], stage: str, filename: str, old: bytes, new: bytes, commands: list[list[str]]
) -> None:
    path = Path(env["BRAVO_EXPORTS_DIR"]) / stage / TS1 / filename
    before_mongo = _held(env, f"mediatool_{TS1}")
    _tamper(path, old, new)
    for command in commands:
        line = one_line_error(run_cli(env, *command))
        assert str(path) in line or filename in line, (command, line)
        assert "sha256" in line, (command, line)
    assert _held(env, f"mediatool_{TS1}") == before_mongo


def test_verify_reports_a_sound_export(env: dict[str, str]) -> None:
    done = run_cli(env, "verify", TS1)
    assert done.returncode == 0, done.stderr
    assert "raw:" in done.stdout and "transformed:" in done.stdout and f"export {TS1} verified" in done.stdout


# ---------------------------------------------------------------------------
# A command that fails changes nothing; a killed one leaves the stores agreeing
# ---------------------------------------------------------------------------


def test_an_unreadable_registry_stops_loads_and_promotions_before_any_database(env: dict[str, str]) -> None:
    registry = Path(env["BRAVO_EXPORTS_DIR"]) / "mongodb-versions.json"
    assert run_cli(env, "promote", TS1).returncode == 0
    before = _held(env, "mediatool_v2")
    registry.write_text("[{broken")
    line = one_line_error(run_cli(env, "promote", TS2))
    assert "mongodb-versions.json is not valid JSON" in line and "no database was touched" in line
    assert _held(env, "mediatool_v2") == before
    loaded = _held(env, f"mediatool_{TS2}")
    line = one_line_error(run_cli(env, "transform", TS2, "--load"))
    assert "mongodb-versions.json" in line
    assert _held(env, f"mediatool_{TS2}") == loaded


@pytest.mark.parametrize("point", [*POINTS, "registered"])
def test_a_promotion_killed_at_any_step_leaves_one_version_and_a_truthful_registry(
    env: dict[str, str], point: str
) -> None:
    assert run_cli(env, "promote", TS1).returncode == 0
    _killed(env, f"promote:{point}", "promote", TS2)
    count, total, versions = _held(env, "mediatool_v2")
    expected = {ts: _expected(env, ts) for ts in (TS1, TS2)}
    assert len(versions) == 1
    [holding] = versions
    assert (count, total) == expected[holding]
    assert holding == (TS1 if point in ("staged", "pending") else TS2)
    _stores_agree(env)
    shown = run_cli(env, "show", holding)
    assert "(current: mediatool_v2)" in shown.stdout, shown.stdout

    again = run_cli(env, "promote", TS2)
    assert again.returncode == 0, again.stderr
    assert _held(env, "mediatool_v2")[:2] == expected[TS2]
    _stores_agree(env)


@pytest.mark.parametrize("point", [*POINTS, "registered"])
def test_a_load_killed_at_any_step_leaves_the_old_or_the_new_documents(env: dict[str, str], point: str) -> None:
    database = f"mediatool_{TS1}"
    before = _held(env, database)
    _killed(env, f"load:{point}", "transform", TS1, "--load")
    assert _held(env, database) == before  # the same documents either way: old and new agree here
    _stores_agree(env)
    again = run_cli(env, "transform", TS1, "--load")
    assert again.returncode == 0, again.stderr
    assert _held(env, database)[:2] == _expected(env, TS1)
    store = _store(env)
    try:
        assert not [n for n in store.collection_names(database) if n.startswith(STAGING_PREFIX)]
    finally:
        store.close()
    _stores_agree(env)


def test_a_first_load_killed_before_its_rename_is_not_listed(env: dict[str, str]) -> None:
    store = _store(env)
    store.drop_database(f"mediatool_{TS2}")
    store.close()
    _killed(env, "load:pending", "transform", TS2, "--load")
    row = next(line for line in run_cli(env, "list").stdout.splitlines() if line.startswith(TS2))
    assert f"mediatool_{TS2}" not in row
    _stores_agree(env)
    assert run_cli(env, "transform", TS2, "--load").returncode == 0
    _stores_agree(env)


def test_a_killed_cleanup_never_leaves_a_listed_fragment(env: dict[str, str]) -> None:
    exports = Path(env["BRAVO_EXPORTS_DIR"])
    _killed(env, "unpublish:renamed", "cleanup", "--older-than", "0m", "--keep", "1")
    listing = run_cli(env, "list").stdout
    assert TS2 in listing
    if TS1 in listing:  # the kill came before raw/<TS1>/ left the published names: it is whole
        assert run_cli(env, "verify", TS1).returncode == 0
    hidden = [p for stage in ("raw", "transformed") for p in (exports / stage).iterdir() if p.name.startswith(".")]
    assert all(".deleting-" in p.name for p in hidden)
    done = run_cli(env, "cleanup", "--older-than", "0m", "--keep", "1")
    assert done.returncode == 0, done.stderr
    assert TS1 not in run_cli(env, "list").stdout
    assert [p.name for p in (exports / "raw").iterdir()] == [TS2]


def test_a_killed_restore_into_postgres_is_replaced_by_the_rerun(env: dict[str, str], admin_uri: str) -> None:
    env = {**env, "BRAVO_POSTGRES_URI": admin_uri}
    target = f"media_tool_{TS1}"
    try:
        for point in ("restore:table-loaded", "database:built"):
            _killed(env, point, "restore", TS1, "--postgres")
            with psycopg.connect(admin_uri, autocommit=True) as conn:
                names = {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                   [f"{target}%"])}
            assert names == {f"{target}__partial"}, names  # never the finished name
        done = run_cli(env, "restore", TS1, "--postgres")
        assert done.returncode == 0, done.stderr
        with psycopg.connect(with_database(admin_uri, target)) as conn:
            assert conn.execute("SELECT count(*) FROM media_tool.campaigns").fetchone()[0] == _expected(env, TS1)[0]
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                                [f"{target}__partial"]).fetchone()[0] == 0
    finally:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            for name in (target, f"{target}__partial"):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


UPLOAD = """
import sys
from pathlib import Path
from boto3.s3.transfer import TransferConfig
from bravo_pipeline.archive.s3 import S3Location, archive_export, make_client
from bravo_pipeline.layout import ExportsLayout
small = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=1)
archive_export(make_client(sys.argv[1], "us-east-1"), S3Location(sys.argv[2]), ExportsLayout(Path(sys.argv[3])),
               sys.argv[4], Path(sys.argv[3]) / "temp", transfer_config=small)
"""


def test_a_killed_upload_leaves_nothing_the_rerun_trips_on(
    env: dict[str, str], s3_endpoint: str, bucket: str, s3_client: Any
) -> None:
    exports = Path(env["BRAVO_EXPORTS_DIR"])
    layout = ExportsLayout(exports)
    layout.unpublish("transformed", TS1)
    write_transformed(layout, TS1, padding=12 * 1024 * 1024)  # a tarball uploaded in parts
    args = [sys.executable, "-c", UPLOAD, s3_endpoint, bucket, str(exports), TS1]
    killed = subprocess.run(args, env={**env, **AWS_ENV, "BRAVO_TEST_KILL_AT": "upload:transferring:transformed"},
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")  # left by the kill
    assert [p.name for p in (exports / "temp").iterdir()]  # its tarball too
    location = S3Location(bucket)
    assert location.metadata_key(TS1) not in {o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get(
        "Contents", [])}

    archive_export(s3_client, location, ExportsLayout(exports), TS1, exports / "temp")
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert list((exports / "temp").iterdir()) == []
    restored = ExportsLayout(exports.parent / "restored")
    download_export(s3_client, location, restored, TS1, work_dir=restored.temp_dir)
    for stage in ("raw", "transformed"):
        assert _files(restored.stage_dir(stage, TS1)) == _files(layout.stage_dir(stage, TS1))


def test_cleanup_removes_what_killed_commands_left(env: dict[str, str], admin_uri: str) -> None:
    env = {**env, "BRAVO_POSTGRES_URI": admin_uri}
    database = f"mediatool_{TS1}"
    _killed(env, "load:staged", "transform", TS1, "--load")
    _killed(env, "database:built", "restore", TS1, "--postgres")
    temp = Path(env["BRAVO_EXPORTS_DIR"]) / "temp"
    temp.mkdir(exist_ok=True)
    dead = temp / f".{TS1}-raw.tar.gz.partial-999999-0123abcd@{socket.gethostname()}"  # a dead writer's
    dead.write_bytes(b"half a tarball")
    store = _store(env)
    try:
        assert [n for n in store.collection_names(database) if n.startswith(STAGING_PREFIX)]
    finally:
        store.close()

    done = run_cli(env, "cleanup", "--databases")
    assert done.returncode == 0, done.stderr
    assert "removed leftover" in done.stdout and f"media_tool_{TS1}__partial" in done.stdout
    assert not dead.exists()
    store = _store(env)
    try:
        assert not [n for n in store.collection_names(database) if n.startswith(STAGING_PREFIX)]
    finally:
        store.close()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s",
                            [f"media_tool_{TS1}%"]).fetchone()[0] == 0
    _stores_agree(env)
