"""Session fixtures: one real embedded PostgreSQL server and one real S3 server (moto, HTTP) per run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from moto.server import ThreadedMotoServer

from bravo_pipeline.archive.s3 import S3Location, make_client
from bravo_pipeline.source.embedded_server import EmbeddedPostgres
from bravo_pipeline.uris import with_database

DEMO_DATABASE = "media_tool_demo"  # the session's demo source (scale 0.01)


def _postgres_servers_under(folder: Path) -> list[int]:
    """Processes of a PostgreSQL server whose data directory is under `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if arguments and arguments[0].endswith(b"/postgres") and b"-D" in arguments:
            data = arguments[arguments.index(b"-D") + 1] if arguments.index(b"-D") + 1 < len(arguments) else b""
            if Path(os.fsdecode(data)).is_relative_to(folder):
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="session", autouse=True)
def no_server_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every embedded PostgreSQL a test starts (the session's, or a CLI's in its own state folder)
    is stopped by the end: the suite leaves no process behind."""
    yield
    deadline = time.monotonic() + 15  # a server told to stop takes a moment to exit
    while (left := _postgres_servers_under(tmp_path_factory.getbasetemp())) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        os.kill(pid, signal.SIGTERM)
    assert not left, f"embedded PostgreSQL servers still running after the tests: pids {left}"


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("embedded-postgres"))
    server.ensure_running()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin_uri(pg_server: EmbeddedPostgres) -> str:
    return pg_server.uri("postgres")


def _database_for(request: pytest.FixtureRequest, admin_uri: str, prefix: str,
                  template: str | None = None) -> Iterator[str]:
    """A database named after the test (created anew, from `template` if given); its URI. Dropped afterwards."""
    name = prefix + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f" TEMPLATE {template}" if template else ""))
    yield with_database(admin_uri, name)
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_database(admin_uri: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database named after the test; its URI. Dropped afterwards."""
    yield from _database_for(request, admin_uri, "t_")


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def demo_uri(admin_uri: str) -> str:
    """A tiny demo source database (scale 0.01) shared by the tests that only read it."""
    from bravo_pipeline.demo_database import build_demo_database

    build_demo_database(admin_uri, database=DEMO_DATABASE, scale=0.01)
    return with_database(admin_uri, DEMO_DATABASE)


@pytest.fixture
def demo_copy(demo_uri: str, admin_uri: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A copy of the demo source named after the test, for a test that changes it; its URI. Dropped afterwards."""
    yield from _database_for(request, admin_uri, "c_", template=DEMO_DATABASE)


@pytest.fixture
def pipeline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_uri: str, admin_uri: str) -> dict[str, str]:
    """Environment of a user exporting the demo database as a live source into tmp_path.

    Dumps are restored on the session's server (BRAVO_POSTGRES_URI), so no test starts a server of its own.
    """
    env = {
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "BRAVO_EXPORTS_DIR": str(tmp_path / "exports"),
        "BRAVO_STATE_DIR": str(tmp_path / "state"),
        "BRAVO_SOURCE_URI": demo_uri,
        "BRAVO_POSTGRES_URI": admin_uri,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return {**os.environ, **env}


# ---------------------------------------------------------------------------
# A real S3 endpoint: moto's server over HTTP on 127.0.0.1
# ---------------------------------------------------------------------------

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
AWS_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server on 127.0.0.1 (a free port), for the whole session."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        for name in AWS_UNSET:
            patch.delenv(name, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3_client(s3_endpoint: str) -> Any:
    return make_client(s3_endpoint, "us-east-1")


@pytest.fixture
def bucket(s3_client: Any) -> str:
    name = f"bravo-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def location(bucket: str) -> S3Location:
    return S3Location(bucket)


# ---------------------------------------------------------------------------
# The CLI as a user types it
# ---------------------------------------------------------------------------


def run_cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`bravo-pipeline ARGS` in a child process with `env`."""
    return subprocess.run([sys.executable, "-m", "bravo_pipeline.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused command (asserting exit status 1 and exactly one line)."""
    lines = done.stderr.splitlines()
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("bravo-pipeline: error: "), done.stderr
    return lines[0]


# ---------------------------------------------------------------------------
# Files edited on purpose by a test (to simulate new source data, not tampering)
# ---------------------------------------------------------------------------


def refresh_summary(stage_dir: Path, ts: str | None = None) -> None:
    """Record the current size and sha256 of every file a stage's summary lists, then reseal it.

    What a test does after editing an export's files to stand for other source data; with
    `ts`, the summary is also made that of export `ts` (a folder copied under another name).
    """
    import hashlib
    import json

    from bravo_pipeline.integrity import seal
    from bravo_pipeline.names import table_filename

    def digest(path: Path) -> dict[str, object]:
        data = path.read_bytes()
        return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    raw = (stage_dir / "export-summary.json").is_file()
    path = stage_dir / ("export-summary.json" if raw else "transformation-summary.json")
    summary = json.loads(path.read_text())
    summary.pop("summarySha256", None)
    if ts is not None:
        summary["exportTimestamp"] = ts
    if raw:
        for table, entry in summary["tables"].items():
            entry.update(digest(stage_dir / table_filename(table)))
        if (stage_dir / "schema.json").is_file():
            summary["schemaFile"] = {"filename": "schema.json", **digest(stage_dir / "schema.json")}
    else:
        summary.update(digest(stage_dir / "campaigns.json"))
    path.write_text(json.dumps(seal(summary), indent=2) + "\n")


# ---------------------------------------------------------------------------
# Two complete exports, made once per module through the CLI, copied for each test
# ---------------------------------------------------------------------------

TS1, TS2 = "20250622-072114", "20250623-072114"


@pytest.fixture(scope="module")
def two_exports(tmp_path_factory: pytest.TempPathFactory, demo_uri: str) -> Path:
    """Two complete exports (raw, transformed, MongoDB versions), made once through the CLI."""
    root = tmp_path_factory.mktemp("integrity")
    env = {**os.environ, "DAGSTER_HOME": str(root / "dagster_home"), "BRAVO_EXPORTS_DIR": str(root / "exports"),
           "BRAVO_STATE_DIR": str(root / "state"), "BRAVO_SOURCE_URI": demo_uri}
    for ts in (TS1, TS2):
        done = run_cli(env, "export", "--timestamp", ts)
        assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def env(two_exports: Path, tmp_path: Path, demo_uri: str, pipeline_env: dict[str, str]) -> dict[str, str]:
    """A private copy of the two exports and their state, for one test to break."""
    for name in ("exports", "state", "dagster_home"):
        shutil.copytree(two_exports / name, tmp_path / name, dirs_exist_ok=True)
    return {**pipeline_env, "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "BRAVO_EXPORTS_DIR": str(tmp_path / "exports"), "BRAVO_STATE_DIR": str(tmp_path / "state")}
