"""Dagster resources: thin, configurable handles on the library's connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import ConfigurableResource

from bravo_pipeline.mongo.store import DocumentStore, connect_server, open_embedded
from bravo_pipeline.settings import DEFAULT_DATABASE, DEFAULT_MONGODB_DATABASE, DEFAULT_SCHEMA, redact_uri
from bravo_pipeline.source.connection import SourceError, connect, with_database
from bravo_pipeline.source.dump_restore import dump_database_name
from bravo_pipeline.source.embedded_server import EmbeddedPostgres


class PostgresSource(ConfigurableResource):
    """The PostgreSQL servers of an export.

    `uri` (BRAVO_SOURCE_URI) is a live server to export from, or to pg_dump; unset,
    exports read the demo database on the embedded server. `restore_uri`
    (BRAVO_POSTGRES_URI) is the server where dumps are restored into
    `media_tool_<ts>`; unset, the embedded server.
    """

    uri: str | None = None
    restore_uri: str | None = None
    schema_name: str = DEFAULT_SCHEMA
    state_dir: str = ".bravo"
    export_workers: int = 1

    def default_kind(self) -> str:
        return "live" if self.uri else "demo"

    def embedded_server(self) -> EmbeddedPostgres:
        return EmbeddedPostgres(Path(self.state_dir) / "postgres")

    def restore_admin_uri(self) -> str:
        if self.restore_uri:
            return with_database(self.restore_uri, "postgres")
        return self.embedded_server().uri("postgres")

    def export_uri(self, kind: str, ts: str) -> str:
        """Where the raw export of `ts` reads, for a source of `kind`."""
        if kind == "live":
            if not self.uri:
                raise SourceError("a live export needs BRAVO_SOURCE_URI (the server to export from)")
            return self.uri
        if kind == "dump":
            return self._existing(self.restore_admin_uri(), dump_database_name(ts),
                                  "restore the dump first (materialize source/media_tool_db)")
        return self._existing(self.embedded_server().uri("postgres"), DEFAULT_DATABASE,
                              "run `bravo-pipeline demo-db`")

    @staticmethod
    def _existing(admin_uri: str, database: str, hint: str) -> str:
        with connect(admin_uri, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if found is None:
            raise SourceError(f"database {database} does not exist on {redact_uri(admin_uri)}: {hint}")
        return with_database(admin_uri, database)


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
