"""Dagster resources: thin, configurable handles on the library's connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import ConfigurableResource

from bravo_pipeline.mongo.store import DocumentStore, connect_server, open_embedded
from bravo_pipeline.settings import DEFAULT_DATABASE, DEFAULT_MONGODB_DATABASE, DEFAULT_SCHEMA
from bravo_pipeline.source.connection import SourceError, connect, with_database
from bravo_pipeline.source.embedded_server import EmbeddedPostgres


class PostgresSource(ConfigurableResource):
    """The PostgreSQL server exports read from: `uri` (live) or the embedded demo server."""

    uri: str | None = None
    schema_name: str = DEFAULT_SCHEMA
    state_dir: str = ".bravo"

    @property
    def kind(self) -> str:
        return "live" if self.uri else "demo"

    def embedded_server(self) -> EmbeddedPostgres:
        return EmbeddedPostgres(Path(self.state_dir) / "postgres")

    def connection_uri(self) -> str:
        if self.uri:
            return self.uri
        uri = self.embedded_server().uri(DEFAULT_DATABASE)
        admin = with_database(uri, "postgres")
        with connect(admin, autocommit=True) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DEFAULT_DATABASE]
            ).fetchone()
        if found is None:
            raise SourceError(
                f"the demo database {DEFAULT_DATABASE} does not exist on the embedded server: "
                "run `bravo-pipeline demo-db`"
            )
        return uri


class MongoResource(ConfigurableResource):
    """Where MongoDB versions go: `uri` (a real server) or the embedded on-disk store."""

    uri: str | None = None
    embedded_path: str = ".bravo/mongodb"
    current_database: str = DEFAULT_MONGODB_DATABASE

    @contextmanager
    def open(self) -> Iterator[DocumentStore]:
        store = connect_server(self.uri) if self.uri else open_embedded(Path(self.embedded_path))
        try:
            yield store
        finally:
            store.close()
