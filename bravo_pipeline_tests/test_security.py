"""Attacks through the real CLI: hostile source names, crafted archives, malformed URIs, far-future keys.

Real embedded PostgreSQL, real moto S3 server over HTTP, tarballs built with correct checksums.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bravo_pipeline.archive.s3 import S3Location, archive_export
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.names import table_filename
from bravo_pipeline.source.embedded_server import client_bin_dir
from bravo_pipeline.source.raw_export import export_raw
from bravo_pipeline.source.tables import KNOWN_TABLES
from bravo_pipeline.uris import with_database
from bravo_pipeline_tests.conftest import AWS_ENV, one_line_error, refresh_summary, run_cli

TS = "20250622-072114"
TS2 = "20250623-072114"
HOSTILE_TABLES = [
    "../../mongodb-versions", "../../../outside", "x/y", ".hidden", "..", "export-summary", "schema",
    "Campaigns", "tab\tname", "new\nline", "ü" * 31, "%41", "A",
]


def _snapshot(root: Path, skip: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not relative.startswith(skip):
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _drop(admin_uri: str, *databases: str) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        for database in databases:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def _copy_of_demo(admin_uri: str, name: str) -> str:
    _drop(admin_uri, name)
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE media_tool_demo").format(sql.Identifier(name)))
    return with_database(admin_uri, name)


@pytest.fixture
def s3_env(pipeline_env: dict[str, str], s3_endpoint: str, bucket: str, admin_uri: str) -> dict[str, str]:
    return {**pipeline_env, **AWS_ENV, "BRAVO_S3_BUCKET": bucket, "BRAVO_S3_ENDPOINT_URL": s3_endpoint,
            "BRAVO_POSTGRES_URI": admin_uri}


# ---------------------------------------------------------------------------
# Source identifiers never become paths
# ---------------------------------------------------------------------------


@pytest.fixture
def hostile_source(admin_uri: str, demo_uri: str) -> Iterator[str]:
    uri = _copy_of_demo(admin_uri, "hostile_source")
    with psycopg.connect(uri, autocommit=True) as conn:
        for name in HOSTILE_TABLES:
            table = sql.Identifier("media_tool", name)
            conn.execute(sql.SQL("CREATE TABLE {} (id integer PRIMARY KEY, label text)").format(table))
            conn.execute(sql.SQL("INSERT INTO {} VALUES (1, {})").format(table, sql.Literal(name)))
    yield uri
    _drop(admin_uri, "hostile_source", f"media_tool_{TS}")


def test_hostile_table_names_stay_inside_their_export_folder(
    s3_env: dict[str, str], hostile_source: str, tmp_path: Path, s3_client: Any, admin_uri: str
) -> None:
    env = {**s3_env, "BRAVO_SOURCE_URI": hostile_source}
    exports = Path(env["BRAVO_EXPORTS_DIR"])
    (exports / "raw" / "20250101-000000").mkdir(parents=True)
    (exports / "raw" / "20250101-000000" / "schema.json").write_text('{"tables": {}}\n')
    (exports / "raw" / "20250101-000000" / "export-summary.json").write_text('{"tables": {}}\n')
    (exports / "mongodb-versions.json").write_text("[]\n")
    (tmp_path / "outside.json").write_text("untouched\n")
    skip = ("dagster_home/", "state/", "exports/logs/", "exports/.claims/", f"exports/raw/{TS}/",
            f"exports/transformed/{TS}/")
    before = _snapshot(tmp_path, skip)

    done = run_cli(env, "export", "--timestamp", TS, "--no-mongo", "--upload")
    assert done.returncode == 0, done.stderr
    assert _snapshot(tmp_path, skip) == before  # nothing written anywhere else, nothing overwritten

    raw = exports / "raw" / TS
    tables = [*KNOWN_TABLES, *HOSTILE_TABLES]
    assert sorted(os.listdir(raw)) == sorted({table_filename(t) for t in tables} | {"export-summary.json",
                                                                                    "schema.json"})
    summary = json.loads((raw / "export-summary.json").read_text())
    schema = json.loads((raw / "schema.json").read_text())
    for name in HOSTILE_TABLES:
        assert summary["tables"][name]["filename"] == schema["tables"][name]["filename"] == table_filename(name)
        rows = json.loads((raw / table_filename(name)).read_text())
        assert rows == [{"id": 1, "label": name}]

    assert run_cli(env, "list").returncode == 0
    shutil.rmtree(raw)
    shutil.rmtree(exports / "transformed" / TS)
    restored = run_cli(env, "restore", TS, "--from-s3", "--postgres")
    assert restored.returncode == 0, restored.stderr
    assert sorted(os.listdir(raw)) == sorted(_files(raw))
    with psycopg.connect(with_database(admin_uri, f"media_tool_{TS}")) as conn:
        for name in HOSTILE_TABLES:
            label = conn.execute(sql.SQL("SELECT label FROM {}").format(sql.Identifier("media_tool", name)))
            assert label.fetchall() == [(name,)]

    again = run_cli(env, "export", "--timestamp", TS2, "--no-mongo")
    assert again.returncode == 0, again.stderr
    compared = run_cli(env, "compare", TS, TS2, "--output", str(tmp_path / "report.json"))
    assert compared.returncode == 0, compared.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["summary"]["tables_with_changes"] == 0
    assert set(HOSTILE_TABLES) <= set(report["details"])


# ---------------------------------------------------------------------------
# Text from an archive never becomes SQL
# ---------------------------------------------------------------------------


@pytest.fixture
def side_effect(admin_uri: str) -> Iterator[tuple[str, str]]:
    """An SQL expression with an effect that outlives any database (a replication origin), and its name."""
    name = f"bravo_pwned_{uuid.uuid4().hex[:8]}"
    expression = (f"(pg_catalog.pg_replication_origin_oid('{name}') IS NOT NULL "
                  f"OR pg_catalog.pg_replication_origin_create('{name}') IS NOT NULL)")
    yield expression, name
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        if _origin_exists(conn, name):
            conn.execute("SELECT pg_catalog.pg_replication_origin_drop(%s)", [name])


def _origin_exists(conn: psycopg.Connection, name: str) -> bool:
    found = conn.execute("SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = %s", [name])
    return found.fetchone() is not None


def _crafted_export(demo_uri: str, root: Path, column_type: str) -> ExportsLayout:
    """A real raw export whose schema.json gives channels.name `column_type`, every digest made to match."""
    layout = ExportsLayout(root)
    staging = layout.begin_staging("raw", TS)
    export_raw(demo_uri, "media_tool", staging, TS, source={"kind": "demo", "dump": None})
    schema_path = staging / "schema.json"
    schema = json.loads(schema_path.read_text())
    columns = schema["tables"]["channels"]["columns"]
    next(column for column in columns if column["name"] == "name")["type"] = column_type
    schema_path.write_bytes((json.dumps(schema, indent=2) + "\n").encode())
    refresh_summary(staging, TS)  # the attacker makes every digest match
    layout.publish(staging, "raw", TS, replace=False)
    return layout


@pytest.mark.parametrize(
    "column_type",
    [
        "SIDE_EFFECT",
        "text); CREATE TABLE public.pwned (x integer); CREATE TABLE public.pwned2 (y text",
        "text CHECK (pg_catalog.pg_sleep(0) IS NULL)",
        "text /* a comment */",
        "text COLLATE \"C\"",
        "integer DEFAULT 1",
        "text::regtype",
        "text[]; SELECT 1",
    ],
)
def test_a_crafted_archive_cannot_run_sql(
    s3_env: dict[str, str], demo_uri: str, admin_uri: str, s3_client: Any, bucket: str, tmp_path: Path,
    side_effect: tuple[str, str], column_type: str,
) -> None:
    expression, origin = side_effect
    if column_type == "SIDE_EFFECT":
        with psycopg.connect(admin_uri) as conn:  # the expression really has its effect (rolled back here)
            conn.execute(f"SELECT {expression}")
            assert _origin_exists(conn, origin)
            conn.rollback()
        column_type = f"text CHECK {expression}"
    layout = _crafted_export(demo_uri, tmp_path / "attacker", column_type)
    archive_export(s3_client, S3Location(bucket), layout, TS, tmp_path / "work")  # correct checksums

    done = run_cli(s3_env, "restore", TS, "--from-s3", "--postgres")
    line = one_line_error(done)
    assert "table channels: column name has type" in line and "not a type on the target server" in line
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        databases = [row[0] for row in conn.execute("SELECT datname FROM pg_database")]
        pwned = conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'pwned%'").fetchone()[0]
        assert not _origin_exists(conn, origin)
    assert f"media_tool_{TS}" not in databases and pwned == 0


# ---------------------------------------------------------------------------
# Archive metadata and members are checked, never trusted
# ---------------------------------------------------------------------------


@pytest.fixture
def uploaded(s3_env: dict[str, str], s3_client: Any, bucket: str) -> dict[str, Any]:
    """An export uploaded through the CLI, then removed locally: what a restore starts from."""
    done = run_cli(s3_env, "export", "--timestamp", TS, "--no-mongo", "--upload")
    assert done.returncode == 0, done.stderr
    exports = Path(s3_env["BRAVO_EXPORTS_DIR"])
    raw = _files(exports / "raw" / TS)
    shutil.rmtree(exports / "raw")
    shutil.rmtree(exports / "transformed")
    location = S3Location(bucket)
    metadata = json.loads(s3_client.get_object(Bucket=bucket, Key=location.metadata_key(TS))["Body"].read())
    return {"raw": raw, "metadata": metadata, "location": location}


def _put_tarball(s3_client: Any, uploaded: dict[str, Any], members: list[tuple[str, bytes]], key: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        folder = tarfile.TarInfo(TS)
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, data in members:
            info = tarfile.TarInfo(f"{TS}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    body = buffer.getvalue()
    location: S3Location = uploaded["location"]
    s3_client.put_object(Bucket=location.bucket, Key=key, Body=body)
    metadata = uploaded["metadata"]
    metadata["exports"]["raw"].update(key=key, size_bytes=len(body), sha256=hashlib.sha256(body).hexdigest())
    s3_client.put_object(Bucket=location.bucket, Key=location.metadata_key(TS), Body=json.dumps(metadata).encode())


def _assert_nothing_restored(env: dict[str, str]) -> None:
    exports = Path(env["BRAVO_EXPORTS_DIR"])
    for stage in ("raw", "transformed"):
        assert not (exports / stage / TS).exists()
        assert not (exports / stage).exists() or [p.name for p in (exports / stage).iterdir()] == []
    assert run_cli(env, "list").returncode == 0


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("key outside the prefix", "is not postgres-exports/raw/2025-06-22/20250622-072114-raw.tar.gz"),
        ("second summary", "a second copy of a file"),
        ("file not in the summary", "not a file of the export's export-summary.json"),
        ("file bigger than the summary says", "the summary says"),
        ("file edited, same size", "sha256"),
        ("file missing", "the tarball lacks campaigns.json"),
    ],
)
def test_a_crafted_tarball_or_metadata_is_refused_before_anything_is_published(
    s3_env: dict[str, str], uploaded: dict[str, Any], s3_client: Any, attack: str, reason: str
) -> None:
    location: S3Location = uploaded["location"]
    members = [(name, data) for name, data in uploaded["raw"].items() if name != "export-summary.json"]
    members.insert(0, ("export-summary.json", uploaded["raw"]["export-summary.json"]))
    key = location.raw_key(TS)
    if attack == "key outside the prefix":
        key = "elsewhere/raw.tar.gz"
    elif attack == "second summary":
        members.append(("export-summary.json", b'{"exportTimestamp": "' + TS.encode() + b'", "tables": {}}'))
    elif attack == "file not in the summary":
        members.append(("evil.json", b"[]\n"))
    elif attack == "file bigger than the summary says":
        members = [(n, d + b" " * 10_000_000 if n == "campaigns.json" else d) for n, d in members]
    elif attack == "file edited, same size":
        members = [(n, d.replace(b'"CN-', b'"XN-', 1) if n == "campaigns.json" else d) for n, d in members]
    elif attack == "file missing":
        members = [(n, d) for n, d in members if n != "campaigns.json"]
    _put_tarball(s3_client, uploaded, members, key)

    line = one_line_error(run_cli(s3_env, "restore", TS, "--from-s3"))
    assert reason in line
    _assert_nothing_restored(s3_env)


def test_list_s3_skips_an_unreadable_metadata_object(
    s3_env: dict[str, str], uploaded: dict[str, Any], s3_client: Any
) -> None:
    location: S3Location = uploaded["location"]
    s3_client.put_object(Bucket=location.bucket, Key=location.metadata_key(TS2), Body=b"{broken")
    s3_client.put_object(Bucket=location.bucket, Key=location.metadata_key("20250624-000000"),
                         Body=json.dumps({"timestamp": "20250624-000000", "exports": {"raw": {"key": "/etc"}}}))
    listed = run_cli(s3_env, "list", "--s3")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [TS]
    warnings = listed.stderr.splitlines()
    assert len(warnings) == 2 and all(w.startswith("bravo-pipeline: warning: skipping s3://") for w in warnings)
    assert location.metadata_key(TS2) in listed.stderr


# ---------------------------------------------------------------------------
# Secrets stay secret
# ---------------------------------------------------------------------------

SECRET = "Hunter2Secret"
MALFORMED_POSTGRES = [
    f"postgresql://postgres:{SECRET}/media_tool",
    f"postgresql://postgres:{SECRET[:6]}/{SECRET[6:]}@127.0.0.1:5432/media_tool",
    f"postgresql://postgres:{SECRET}@127.0.0.1:notaport/media_tool",
    f"postgresql://postgres:{SECRET}@[::1/media_tool",
    f"postgresql://postgres@127.0.0.1/media_tool?password={SECRET}&bogus=1",
    f"mysql://postgres:{SECRET}@127.0.0.1/media_tool",
]
MALFORMED_MONGODB = [
    f"mongodb://app:{SECRET}@127.0.0.1:notaport",
    f"mongodb://app:{SECRET[:6]}@{SECRET[6:]}@127.0.0.1",
    f"mongodb://app:{SECRET[:6]}/{SECRET[6:]}@127.0.0.1",
    f"postgresql://app:{SECRET}@127.0.0.1",
]


def _assert_secret_nowhere(root: Path, *texts: str) -> None:
    for text in texts:
        assert SECRET not in text
    for path in root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("variable", "uri"),
    [("BRAVO_SOURCE_URI", uri) for uri in MALFORMED_POSTGRES]
    + [("BRAVO_POSTGRES_URI", MALFORMED_POSTGRES[1])]
    + [("BRAVO_MONGODB_URI", uri) for uri in MALFORMED_MONGODB],
)
def test_a_malformed_uri_is_refused_in_one_line_without_its_password(
    pipeline_env: dict[str, str], tmp_path: Path, variable: str, uri: str
) -> None:
    env = {**pipeline_env, variable: uri}
    for command in (["export", "--timestamp", TS], ["list"]):
        done = run_cli(env, *command)
        line = one_line_error(done)
        assert variable in line
        _assert_secret_nowhere(tmp_path, done.stdout, done.stderr)


def _processes() -> dict[int, tuple[str, str, str]]:
    """pid → (program name, argument list, environment) of every process we may read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().replace(b"\0", b"\n").decode(errors="replace")
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        found[int(entry.name)] = (name, argv, environ)
    return found


def _watch(command: subprocess.Popen[str], clients: set[str], until: float) -> dict[str, list[tuple[str, str]]]:
    """Every (argv, environment) seen of the client programs while `command` runs."""
    seen: dict[str, list[tuple[str, str]]] = {client: [] for client in clients}
    while command.poll() is None and time.monotonic() < until:
        for name, argv, environ in _processes().values():
            if name in clients:
                seen[name].append((argv, environ))
                passfile = next((line.split("=", 1)[1] for line in environ.splitlines()
                                 if line.startswith("PGPASSFILE=")), None)
                if passfile and os.path.exists(passfile):
                    assert os.stat(passfile).st_mode & 0o077 == 0
        time.sleep(0.02)
    return seen


@pytest.fixture
def slow_source(admin_uri: str, demo_uri: str) -> Iterator[str]:
    """A copy of the demo whose restore takes seconds (an index on a sleeping function): time to look."""
    uri = _copy_of_demo(admin_uri, "slow_source")
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION media_tool.slow(x integer) RETURNS integer IMMUTABLE LANGUAGE plpgsql "
                     "AS 'BEGIN PERFORM pg_sleep(0.5); RETURN x; END'")
        conn.execute("CREATE TABLE media_tool.slow_rows (id integer PRIMARY KEY)")
        conn.execute("INSERT INTO media_tool.slow_rows SELECT generate_series(1, 4)")
        conn.execute("CREATE INDEX ON media_tool.slow_rows (media_tool.slow(id))")
    yield uri
    _drop(admin_uri, "slow_source", f"media_tool_{TS}", f"media_tool_{TS2}")


def test_clients_never_get_a_password_on_their_command_line(
    pipeline_env: dict[str, str], admin_uri: str, demo_uri: str, slow_source: str, tmp_path: Path
) -> None:
    port = admin_uri.split("@127.0.0.1:", 1)[1].split("/", 1)[0]
    env = {**pipeline_env,
           "BRAVO_SOURCE_URI": f"postgresql://postgres@127.0.0.1:{port}/slow_source?password={SECRET}",
           "BRAVO_POSTGRES_URI": f"postgresql://postgres:{SECRET}@127.0.0.1:{port}/postgres"}
    command = ["export", "--timestamp", TS, "--source", "dump", "--no-mongo"]
    with psycopg.connect(slow_source) as blocker:  # pg_dump waits for this lock: time to read its arguments
        blocker.execute("LOCK TABLE media_tool.slow_rows IN ACCESS EXCLUSIVE MODE")
        running = subprocess.Popen(
            [sys.executable, "-m", "bravo_pipeline.cli", *command], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = _watch(running, {"pg_dump"}, time.monotonic() + 30)
        while not seen["pg_dump"] and running.poll() is None:
            seen = _watch(running, {"pg_dump"}, time.monotonic() + 1)
    seen.update(_watch(running, {"pg_restore"}, time.monotonic() + 120))
    out, err = running.communicate(timeout=120)
    assert running.returncode == 0, err
    assert seen["pg_dump"] and seen["pg_restore"], "the clients ran too fast to be seen"

    plain = tmp_path / "plain.sql"
    dumped = subprocess.run([str(client_bin_dir() / "pg_dump"), "--format=plain", "--no-owner", "--no-privileges",
                             f"--dbname={demo_uri}"], capture_output=True, text=True, check=True).stdout
    plain.write_text("SELECT pg_catalog.pg_sleep(1.5);\n" + dumped)
    psql = subprocess.Popen(
        [sys.executable, "-m", "bravo_pipeline.cli", "export", "--timestamp", TS2, "--source", "dump",
         "--dump", str(plain), "--no-mongo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen.update(_watch(psql, {"psql"}, time.monotonic() + 60))
    psql_out, psql_err = psql.communicate(timeout=60)
    assert seen["psql"], "psql ran too fast to be seen"

    for client, sightings in seen.items():
        for argv, environ in sightings:
            assert SECRET not in argv and "postgresql://" not in argv and "password" not in argv, (client, argv)
            assert SECRET not in environ and "PGPASSFILE=" in environ, client
    passfiles = {line.split("=", 1)[1] for sightings in seen.values() for _, environ in sightings
                 for line in environ.splitlines() if line.startswith("PGPASSFILE=")}
    assert passfiles and not any(os.path.exists(path) for path in passfiles)
    _assert_secret_nowhere(tmp_path, out, err, psql_out, psql_err)


# ---------------------------------------------------------------------------
# Timestamps far in the future
# ---------------------------------------------------------------------------


def test_timestamps_more_than_a_day_ahead_are_refused(pipeline_env: dict[str, str]) -> None:
    for command in (["export", "--timestamp", "99991231-235959"], ["transform", "99991231-235959"],
                    ["show", "99991231-235959"]):
        line = one_line_error(run_cli(pipeline_env, *command))
        assert "99991231-235959" in line and "more than a day in the future" in line
    future = Path(pipeline_env["BRAVO_EXPORTS_DIR"]) / "raw" / "99991231-235959"
    future.mkdir(parents=True)
    (future / "export-summary.json").write_text('{"tables": {}}\n')
    assert run_cli(pipeline_env, "export", "--timestamp", TS, "--no-mongo").returncode == 0
    assert run_cli(pipeline_env, "latest").stdout.strip() == TS


# ---------------------------------------------------------------------------
# A plain dump is SQL for the server, never commands for this machine
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["\\! touch {marker}", "SELECT 1 \\g {marker}", "\\o {marker}"])
def test_a_plain_dump_cannot_run_client_commands(
    pipeline_env: dict[str, str], admin_uri: str, demo_uri: str, tmp_path: Path, command: str
) -> None:
    marker = tmp_path / "client-command-ran"
    dumped = subprocess.run([str(client_bin_dir() / "pg_dump"), "--format=plain", "--no-owner",
                             f"--dbname={demo_uri}"], capture_output=True, text=True, check=True).stdout
    lines = dumped.splitlines(keepends=True)
    middle = len(lines) // 2
    while lines[middle].strip():  # between two statements
        middle += 1
    lines.insert(middle, command.format(marker=marker) + "\n")
    dump = tmp_path / "crafted.sql"
    dump.write_text("".join(lines))
    env = {**pipeline_env, "BRAVO_POSTGRES_URI": admin_uri}
    line = one_line_error(run_cli(env, "export", "--timestamp", TS, "--source", "dump", "--dump", str(dump),
                                  "--no-mongo"))
    assert "backslash commands are restricted" in line
    assert not marker.exists()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [f"media_tool_{TS}"]).fetchone() is None
