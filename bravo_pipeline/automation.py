"""Scheduled exports (a sensor) and retention (a job with a daily schedule), both stopped by default."""

import os
from datetime import UTC, datetime

from dagster import (
    Config,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    job,
    op,
    schedule,
    sensor,
)

from bravo_pipeline.partitions import InstancePartitionKeys, export_partitions
from bravo_pipeline.resources import ArchiveResource, ExportsResource, MongoResource, PostgresSource
from bravo_pipeline.retention.cleanup import Stores, find_cleanup, run_cleanup
from bravo_pipeline.retention.plan import parse_duration
from bravo_pipeline.timestamps import new_timestamp

EXPORT_INTERVAL_SECONDS = int(os.environ.get("BRAVO_EXPORT_INTERVAL_SECONDS") or 24 * 3600)


@sensor(
    job_name="export_job",
    minimum_interval_seconds=EXPORT_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.STOPPED,
    description=(
        "Takes a new export every BRAVO_EXPORT_INTERVAL_SECONDS (default daily): adds the partition "
        "for the current UTC time and requests the full export run in the same tick. One export now, "
        "from the UI, even while stopped: Preview tick result → Continue → Apply requests & commit tick result."
    ),
)
def scheduled_export_sensor(context: SensorEvaluationContext) -> SensorResult:
    ts = new_timestamp()
    return SensorResult(
        run_requests=[RunRequest(run_key=ts, partition_key=ts)],
        dynamic_partitions_requests=[export_partitions.build_add_request([ts])],
    )


class CleanupConfig(Config):
    older_than: str = "7d"
    keep: int = 3
    s3: bool = False
    databases: bool = False


def stores_for(archive: ArchiveResource, mongodb: MongoResource, source: PostgresSource,
               *, s3: bool, databases: bool) -> Stores:
    return Stores(
        mongodb=mongodb.open,
        current_database=mongodb.current_database,
        s3_client=archive.client() if s3 and archive.enabled else None,
        s3_location=archive.location() if s3 and archive.enabled else None,
        drop_databases=databases,
        postgres_admin_uri=source.restore_admin_uri() if databases else None,
    )


@op(description="Delete exports older than the window everywhere they live (see bravo-pipeline cleanup).")
def cleanup_exports(
    context: OpExecutionContext,
    config: CleanupConfig,
    exports: ExportsResource,
    archive: ArchiveResource,
    mongodb: MongoResource,
    source: PostgresSource,
) -> None:
    layout = exports.layout
    stores = stores_for(archive, mongodb, source, s3=config.s3, databases=config.databases)
    report = find_cleanup(layout, now=datetime.now(UTC), older_than=parse_duration(config.older_than),
                          keep=config.keep, stores=stores)
    run_cleanup(layout, report, stores, InstancePartitionKeys(context.instance, besides=context.run_id))
    context.log.info(f"deleted {len(report.deleted)} exports: {', '.join(report.deleted) or 'none'}")
    for ts, reason in report.skipped.items():
        context.log.info(f"skipped {ts}: {reason}")
    if report.failures:
        raise RuntimeError("cleanup could not reach every store: " + "; ".join(report.failures))


@job(description="Retention: delete old exports from every store, with their partition keys.")
def cleanup_job() -> None:
    cleanup_exports()


@schedule(job=cleanup_job, cron_schedule="0 3 * * *", execution_timezone="UTC",
          default_status=DefaultScheduleStatus.STOPPED,
          description="Daily retention at 03:00 UTC (stopped by default).")
def daily_cleanup_schedule() -> RunRequest:
    return RunRequest(run_key=None)
