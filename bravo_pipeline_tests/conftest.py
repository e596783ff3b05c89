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
