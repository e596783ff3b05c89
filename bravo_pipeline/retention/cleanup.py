"""Retention across every store an export lives in: local files, S3, MongoDB and PostgreSQL.

The CLI and the Dagster cleanup job both call `find_cleanup` then `run_cleanup`.
Order makes a crash safe: remote copies and databases go first, the local raw
folder (whose summary makes the export listed) last, then the partition key.
A store that cannot be reached is reported and skipped; the rest is cleaned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bravo_pipeline.claims import ClaimBusy, claim, export_claim
from bravo_pipeline.layout import ExportsLayout, sweep_hidden
from bravo_pipeline.mongo.registry import Registry, registry_entry
from bravo_pipeline.mongo.versions import is_version_database, sweep_staging
from bravo_pipeline.mongo.view import observe
from bravo_pipeline.names import dump_database_name, version_database
from bravo_pipeline.retention.plan import CleanupPlan, delete_local, local_artifacts, plan_cleanup


@dataclass(frozen=True)
class Item:
    store: str  # local, s3, mongodb, postgres
    name: str  # as the user reads it: a path, an s3:// URL, a database
    size_bytes: int | None
    key: str = ""  # s3: the object key to delete


@dataclass
class CleanupReport:
    plan: CleanupPlan
    items: dict[str, list[Item]] = field(default_factory=dict)  # ts → what goes
    deleted: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)  # a store of theirs could not be asked
    warnings: list[str] = field(default_factory=list)
    swept: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # ts → why it was not deleted now
    removed_keys: list[str] = field(default_factory=list)  # partition keys that had no export


@dataclass
class Stores:
    """Where exports live. s3_client None: not asked for (no --s3); drop_databases: --databases."""

    mongodb: Any  # a context-manager factory yielding a DocumentStore: read for the promoted version
    current_database: str
    s3_client: Any = None
    s3_location: Any = None
    drop_databases: bool = False
    postgres_admin_uri: str | None = None


def find_cleanup(layout: ExportsLayout, *, now: datetime, older_than: timedelta, keep: int,
                 stores: Stores) -> CleanupReport:
    warnings: list[str] = []
    view = observe(stores.mongodb, Registry(layout.root), stores.current_database, warnings.append)
    plan = plan_cleanup(layout.timestamps("raw"), now=now, older_than=older_than, keep=keep,
                        protected={view.current} if view.current else set())
    report = CleanupReport(plan, warnings=warnings)
    for ts in plan.delete:
        failed_before = len(report.failures)
        report.items[ts] = _items(layout, ts, stores, report.failures)
        if len(report.failures) > failed_before:
            report.unreachable.add(ts)
    return report


def _items(layout: ExportsLayout, ts: str, stores: Stores, failures: list[str]) -> list[Item]:
    items = [Item("local", str(a.path), a.size_bytes) for a in local_artifacts(layout, ts)]
    if stores.s3_client is not None:
        from bravo_pipeline.archive.s3 import archived_objects

        location = stores.s3_location
        try:
            items += [Item("s3", f"s3://{location.bucket}/{key}", size, key)
                      for key, size in archived_objects(stores.s3_client, location, ts)]
        except Exception as error:
            failures.append(_one_line(error))  # an ArchiveError, naming the bucket and the object
    if stores.drop_databases:
        try:
            with stores.mongodb() as store:
                if version_database(ts) in store.database_names():
                    items.append(Item("mongodb", version_database(ts), None))
        except Exception as error:
            failures.append(f"MongoDB: {_one_line(error)}")
    if stores.postgres_admin_uri is not None:
        try:
            if _pg_database_exists(stores.postgres_admin_uri, dump_database_name(ts)):
                items.append(Item("postgres", dump_database_name(ts), None))
        except Exception as error:
            failures.append(f"PostgreSQL: {_one_line(error)}")
    return items


INCOMPLETE_UPLOAD_MAX_AGE = timedelta(days=1)


def sweep_leftovers(layout: ExportsLayout, stores: Stores) -> list[str]:
    """Remove what killed commands left behind: hidden stage folders and temp files of dead writers,
    MongoDB staging collections, half-built PostgreSQL databases, incomplete multipart uploads."""
    swept = [str(path) for stage in ("raw", "transformed") for path in layout.sweep(stage)]
    swept += [str(path) for path in sweep_hidden(layout.temp_dir)]
    with stores.mongodb() as store:
        for database in store.database_names():
            if database == stores.current_database or is_version_database(database):
                swept += [f"{database}.{name}" for name in sweep_staging(store, database)]
    if stores.postgres_admin_uri is not None:
        from bravo_pipeline.source.connection import connect
        from bravo_pipeline.source.databases import PARTIAL_SUFFIX, drop_database

        with connect(stores.postgres_admin_uri, autocommit=True) as conn:
            partial = [row[0] for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"%{PARTIAL_SUFFIX}"])]
        for database in partial:
            drop_database(stores.postgres_admin_uri, database)
            swept.append(database)
    if stores.s3_client is not None:
        from bravo_pipeline.archive.s3 import abort_incomplete_uploads

        swept += [f"s3 upload {key}" for key in abort_incomplete_uploads(
            stores.s3_client, stores.s3_location, stores.s3_location.prefix, INCOMPLETE_UPLOAD_MAX_AGE)]
    return swept


class PartitionKeys(Protocol):
    """The export-timestamp keys of the Dagster instance, and the runs that use them."""

    def all_keys(self) -> list[str]: ...

    def in_flight(self, ts: str) -> bool: ...

    def remove(self, ts: str) -> None: ...


def run_cleanup(layout: ExportsLayout, report: CleanupReport, stores: Stores,
                partitions: PartitionKeys) -> CleanupReport:
    """Delete what `find_cleanup` found, export by export, oldest first, then keys without an export and
    leftovers. An export that a run uses or is about to publish (queued or running for its key, or holding
    its claim) is skipped and reported."""
    registry = Registry(layout.root)
    for ts in report.plan.delete:
        if partitions.in_flight(ts):
            report.skipped[ts] = "a run for it is queued or running"
            continue
        try:
            with claim(export_claim(ts), "cleanup", wait=False):
                _delete_export(layout, report, stores, registry, partitions, ts)
        except ClaimBusy as busy:
            report.skipped[ts] = str(busy)
    exported = set(layout.timestamps("raw"))
    for ts in partitions.all_keys():
        if ts in exported or ts in report.skipped or partitions.in_flight(ts):
            continue
        try:
            with claim(export_claim(ts), "cleanup", wait=False):
                if not layout.is_complete("raw", ts) and not partitions.in_flight(ts):
                    partitions.remove(ts)
                    report.removed_keys.append(ts)
        except (ClaimBusy, ValueError):
            continue
    try:
        report.swept = sweep_leftovers(layout, stores)
    except Exception as error:
        report.failures.append(f"sweeping leftovers: {_one_line(error)}")
    return report


def _delete_export(layout: ExportsLayout, report: CleanupReport, stores: Stores, registry: Registry,
                   partitions: PartitionKeys, ts: str) -> None:
    failed_before = len(report.failures)
    for item in [i for i in report.items.get(ts, []) if i.store != "local"]:
        try:
            _delete_remote(item, stores, registry, ts)
        except Exception as error:
            report.failures.append(f"{item.name}: {_one_line(error)}")
    if len(report.failures) > failed_before or ts in report.unreachable:
        return  # keep the local export listed, so the next cleanup retries it
    delete_local(layout, ts)
    partitions.remove(ts)
    report.deleted.append(ts)


def _delete_remote(item: Item, stores: Stores, registry: Registry, ts: str) -> None:
    if item.store == "s3":
        from bravo_pipeline.archive.s3 import delete_archived

        delete_archived(stores.s3_client, stores.s3_location, item.key)
    elif item.store == "mongodb":
        with stores.mongodb() as store:
            store.drop_database(item.name)
        registry.append(registry_entry(ts, "dropped", database=item.name, collections={},
                                       source_postgres_db=None, notes="cleanup"))
    elif item.store == "postgres":
        from bravo_pipeline.source.databases import drop_database

        drop_database(stores.postgres_admin_uri or "", item.name)


def _pg_database_exists(admin_uri: str, database: str) -> bool:
    from bravo_pipeline.source.connection import connect, database_exists

    with connect(admin_uri, autocommit=True) as conn:
        return database_exists(conn, database)


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
