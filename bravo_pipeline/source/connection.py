"""Connections to PostgreSQL with errors a user can act on (never showing a password)."""

from __future__ import annotations

import psycopg

from bravo_pipeline.uris import UriError, postgres_params, redact_uri, scrub

CONNECT_TIMEOUT_SECONDS = 10


class SourceError(RuntimeError):
    """A problem with a PostgreSQL source, worded for the user (one line)."""


def connect(uri: str, *, application_name: str = "bravo-pipeline", **kwargs: object) -> psycopg.Connection:
    try:
        password = postgres_params(uri).get("password")
    except UriError as error:
        raise SourceError(str(error)) from None
    try:
        return psycopg.connect(
            uri,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=application_name,
            **kwargs,  # type: ignore[arg-type]
        )
    except psycopg.Error as error:
        reason = scrub(describe_error(error), {password} if password else set())
        raise SourceError(f"cannot connect to PostgreSQL at {redact_uri(uri)}: {reason}") from None


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
