"""Session fixtures: one real embedded PostgreSQL server for the whole run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bravo_pipeline.source.embedded_server import EmbeddedPostgres


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("embedded-postgres"))
    server.ensure_running()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin_uri(pg_server: EmbeddedPostgres) -> str:
    return pg_server.uri("postgres")


@pytest.fixture
def fresh_database(admin_uri: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database named after the test; its URI. Dropped afterwards."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin_uri.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def demo_uri(admin_uri: str) -> str:
    """A tiny demo source database (scale 0.01) shared by the tests that only read it."""
    from bravo_pipeline.source.demo_db import build_demo_database

    build_demo_database(admin_uri, database="media_tool_demo", scale=0.01)
    return admin_uri.rsplit("/", 1)[0] + "/media_tool_demo"


@pytest.fixture
def pipeline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_uri: str) -> dict[str, str]:
    """Environment of a user exporting the demo database as a live source into tmp_path."""
    import os

    env = {
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "BRAVO_EXPORTS_DIR": str(tmp_path / "exports"),
        "BRAVO_STATE_DIR": str(tmp_path / "state"),
        "BRAVO_SOURCE_URI": demo_uri,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return {**os.environ, **env}
