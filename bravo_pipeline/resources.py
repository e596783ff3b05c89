"""Dagster resources: thin, configurable handles on the library's connections."""

from __future__ import annotations

from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from bravo_pipeline import claims
from bravo_pipeline.archive.s3 import (
    ArchiveError,
    S3Location,
    archive_export,
    make_client,
)
from bravo_pipeline.archive.shared_store import SharedRoot, pull_stage, push_stage, shared_timestamps
from bravo_pipeline.layout import ExportsLayout, Stage
from bravo_pipeline.mongo.store import DocumentStore, opened_store
from bravo_pipeline.names import dump_database_name
from bravo_pipeline.partitions import PARTITION_TAG, discard_invalid_key
from bravo_pipeline.settings import (
    DEFAULT_DATABASE,
    DEFAULT_MONGODB_DATABASE,
    DEFAULT_S3_PREFIX,
    DEFAULT_SCHEMA,
)
from bravo_pipeline.source.connection import SourceError, connect, database_exists
from bravo_pipeline.source.embedded_server import EmbeddedPostgres
from bravo_pipeline.source.kinds import choose_kind
from bravo_pipeline.uris import redact_uri, with_database


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

    def embedded_server(self) -> EmbeddedPostgres:
        return EmbeddedPostgres.in_state_dir(Path(self.state_dir))

    def restore_admin_uri(self) -> str:
        if self.restore_uri:
            return with_database(self.restore_uri, "postgres")
        return self.embedded_server().uri("postgres")

    def export_uri(self, kind: str, ts: str) -> str:
        """Where the raw export of `ts` reads, for a source of `kind` (whose needs source.kinds checks)."""
        if kind == "live":
            choose_kind(kind, dump="", source_uri=self.uri)  # refused without BRAVO_SOURCE_URI
            return self.uri or ""
        if kind == "dump":
            return self._existing(self.restore_admin_uri(), dump_database_name(ts),
                                  "a dump export restores it first (raw_export config: source dump, dump FILE)")
        return self._existing(self.embedded_server().uri("postgres"), DEFAULT_DATABASE,
                              "run `bravo-pipeline demo-db`")

    @staticmethod
    def _existing(admin_uri: str, database: str, hint: str) -> str:
        with connect(admin_uri, autocommit=True) as conn:
            found = database_exists(conn, database)
        if not found:
            raise SourceError(f"database {database} does not exist on {redact_uri(admin_uri)}: {hint}")
        return with_database(admin_uri, database)


class TimestampClaim(ConfigurableResource):
    """A partitioned run holds its export timestamp for as long as it runs: one writer per timestamp.

    Acquired when the run's resources are set up (before any step writes), released
    when they are torn down, or by the operating system or database if the
    process dies (bravo_pipeline.claims, configured from the settings: no URI in
    resource config). A second run of the same timestamp waits, and says so in its log.
    """

    _stack: ExitStack = PrivateAttr(default_factory=ExitStack)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        run = context.dagster_run
        ts = (run.tags or {}).get(PARTITION_TAG) if run is not None else None
        if not ts or run is None:
            return
        discard_invalid_key(context.instance, ts)
        self._stack.enter_context(claims.claim(
            claims.export_claim(ts), f"run {run.run_id[:8]} of {run.job_name}",
            say=lambda line: context.log.info(line) if context.log else None,
        ))

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self._stack.close()


class MongoResource(ConfigurableResource):
    """Where MongoDB versions go: `uri` (a real server) or the embedded on-disk store."""

    uri: str | None = None
    embedded_path: str = ".bravo/mongodb"
    current_database: str = DEFAULT_MONGODB_DATABASE

    def open(self) -> AbstractContextManager[DocumentStore]:
        return opened_store(self.uri, Path(self.embedded_path))


class ArchiveResource(ConfigurableResource):
    """The S3 archive (BRAVO_S3_BUCKET, BRAVO_S3_PREFIX, BRAVO_S3_ENDPOINT_URL); off without a bucket."""

    bucket: str | None = None
    prefix: str = DEFAULT_S3_PREFIX
    endpoint_url: str | None = None
    region_name: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.bucket)

    def location(self) -> S3Location:
        if not self.bucket:
            raise ArchiveError("no S3 bucket configured (set BRAVO_S3_BUCKET)")
        return S3Location(self.bucket, self.prefix)

    def client(self) -> Any:
        """A boto3 client that retries transient failures with backoff (archive.s3.make_client)."""
        return make_client(self.endpoint_url, self.region_name)

    def download(self, url: str, target: Path) -> Path:
        """Download `s3://bucket/key` to `target` (any bucket, not only the archive's)."""
        bucket, _, key = url.removeprefix("s3://").partition("/")
        if not bucket or not key:
            raise ArchiveError(f"not an S3 object URL: {url} (expected s3://bucket/key)")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client().download_file(bucket, key, str(target))
        except Exception as error:
            target.unlink(missing_ok=True)
            raise ArchiveError(f"cannot download {url}: {str(error).splitlines()[0]}") from None
        return target

    def complete(self, layout: ExportsLayout, ts: str) -> dict[str, Any]:
        """Upload whatever stage is not in S3 yet, then write the metadata last."""
        return archive_export(self.client(), self.location(), layout, ts, layout.temp_dir)


class ExportsResource(ConfigurableResource):
    """The exports root (`BRAVO_EXPORTS_DIR`) and, in shared-root mode (`BRAVO_SHARED_ROOT`,
    s3://bucket/prefix), the copy of it every host reads: staging, publishing, finding and pulling
    stage folders. The S3 archive is the `archive/s3` asset's job, not this."""

    exports_dir: str
    archive: ArchiveResource  # its S3 client reaches the shared root
    shared_root: str | None = None

    @property
    def layout(self) -> ExportsLayout:
        return ExportsLayout(Path(self.exports_dir))

    def begin(self, stage: Stage, ts: str) -> Path:
        return self.layout.begin_staging(stage, ts)

    def abandon(self, staging: Path) -> None:
        self.layout.abandon(staging)

    def publish(self, staging: Path, stage: Stage, ts: str, *, replace: bool) -> list[str]:
        """Rename a written staging folder into place (and push it to the shared root); what was done."""
        done = [f"published {self.layout.publish(staging, stage, ts, replace=replace)}"]
        if self.shared_root:
            pushed = push_stage(self.archive.client(), SharedRoot.parse(self.shared_root), self.layout, stage, ts)
            done.append(f"pushed {pushed} files to {self.shared_root}/{stage}/{ts}/")
        return done

    def pull(self, stage: Stage, ts: str) -> bool:
        """Whether the stage is complete on this host, pulled from the shared root first when needed."""
        if self.shared_root and not self.layout.is_complete(stage, ts):
            pull_stage(self.archive.client(), SharedRoot.parse(self.shared_root), self.layout, stage, ts)
        return self.layout.is_complete(stage, ts)

    def local_stage(self, stage: Stage, ts: str) -> Path:
        """A complete stage folder on this host: pulled from the shared root first when needed."""
        self.pull(stage, ts)
        return self.layout.require_complete(stage, ts)

    def previous_export(self, ts: str) -> str | None:
        """The newest complete raw export older than `ts`, on this host or in the shared root
        (open it with `local_stage`, which pulls it)."""
        shared = (shared_timestamps(self.archive.client(), SharedRoot.parse(self.shared_root), "raw")
                  if self.shared_root else ())
        return self.layout.previous_export(ts, shared)
