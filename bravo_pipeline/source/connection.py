"""Connections to PostgreSQL with errors a user can act on (never showing a password)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg

from bravo_pipeline.settings import redact_uri

CONNECT_TIMEOUT_SECONDS = 10


class SourceError(RuntimeError):
    """A problem with a PostgreSQL source, worded for the user (one line)."""


def with_database(uri: str, database: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path="/" + database))


def connect(uri: str, *, application_name: str = "bravo-pipeline", **kwargs: object) -> psycopg.Connection:
    try:
        return psycopg.connect(
            uri,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=application_name,
            **kwargs,  # type: ignore[arg-type]
        )
    except psycopg.OperationalError as error:
        raise SourceError(
            f"cannot connect to PostgreSQL at {redact_uri(uri)}: {describe_error(error)}"
        ) from None


def database_exists(conn: psycopg.Connection, database: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone() is not None


def describe_error(error: BaseException) -> str:
    """The first meaningful line of a driver error, without connection details."""
    for line in str(error).splitlines():
        line = line.strip()
        if not line:
            continue
        # libpq prefixes: 'connection failed: connection to server at "127.0.0.1", port 1 failed: ...'
        if "failed: " in line:
            line = line.rsplit("failed: ", 1)[1]
        return line
    return type(error).__name__
