"""The one Definitions object: assets, jobs and resources chosen from settings in one place."""

from __future__ import annotations

import os
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    EnvVar,
    ExecutorDefinition,
    define_asset_job,
    definitions,
    in_process_executor,
    map_asset_specs,
    multiprocess_executor,
)

from bravo_pipeline.assets.archive import archive_s3
from bravo_pipeline.assets.mongodb import mongodb_current, mongodb_version
from bravo_pipeline.assets.raw import raw_export
from bravo_pipeline.assets.reports import changes_report
from bravo_pipeline.assets.source import source_database
from bravo_pipeline.assets.transformed import transformed_campaigns
from bravo_pipeline.automation import cleanup_job, daily_cleanup_schedule, scheduled_export_sensor
from bravo_pipeline.checks import ALL_CHECKS, LOAD_GATE_CHECKS, ON_DEMAND_CHECKS
from bravo_pipeline.collector import freeze_what_is_loaded
from bravo_pipeline.io_managers import ExportsIOManager
from bravo_pipeline.resources import ArchiveResource, ExportsResource, MongoResource, PostgresSource, TimestampClaim
from bravo_pipeline.settings import Settings

EXPORT_JOB = "export_job"
TRANSFORM_JOB = "transform_job"
PROMOTE_JOB = "promote_job"


def _secret(name: str, value: str | None, from_env_var: bool) -> str | None:
    """In runs, URIs (which may hold passwords) are Dagster EnvVars, resolved at run time."""
    if not value:
        return None
    return EnvVar(name) if from_env_var else value


def postgres_source(settings: Settings, *, secrets_from_env_vars: bool = True) -> PostgresSource:
    return PostgresSource(
        uri=_secret("BRAVO_SOURCE_URI", settings.source_uri, secrets_from_env_vars),
        restore_uri=_secret("BRAVO_POSTGRES_URI", settings.postgres_uri, secrets_from_env_vars),
        schema_name=settings.source_schema,
        state_dir=str(settings.state_dir),
        export_workers=settings.export_workers,
    )


def build_resources(settings: Settings, *, secrets_from_env_vars: bool = True) -> dict[str, Any]:
    """Every resource, from settings. Outside a run (the CLI), pass secrets_from_env_vars=False."""
    archive = ArchiveResource(
        bucket=settings.s3_bucket,
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint_url,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )
    exports = ExportsResource(exports_dir=str(settings.exports_dir), archive=archive,
                              shared_root=settings.shared_root)
    return {
        "archive": archive,
        "timestamp_claim": TimestampClaim(),
        "source": postgres_source(settings, secrets_from_env_vars=secrets_from_env_vars),
        "exports": exports,
        "exports_io_manager": ExportsIOManager(exports=exports),
        "mongodb": MongoResource(
            uri=_secret("BRAVO_MONGODB_URI", settings.mongodb_uri, secrets_from_env_vars),
            embedded_path=str(settings.mongodb_embedded_path),
            current_database=settings.mongodb_database,
        ),
    }


ON_DEMAND = AssetSelection.checks(*ON_DEMAND_CHECKS)


def _jobs(archived: bool) -> list:
    """The jobs; `archive/s3` is in them only when a bucket is configured."""
    export = define_asset_job(
        EXPORT_JOB,
        selection=AssetSelection.assets(*run_assets(raw=True, mongodb=True, archive=archived)) - ON_DEMAND,
        description=(
            "A full export of one timestamp: the raw snapshot and every stage after it. Config "
            "`ops.raw_export.config.source`: demo, live or dump (with `dump`: a file or s3:// key)."
        ),
    )
    transform = define_asset_job(
        TRANSFORM_JOB,
        selection=AssetSelection.assets(*run_assets(raw=False, mongodb=True, archive=archived)) - ON_DEMAND,
        description="Re-run the transform (and optionally the MongoDB load) of an existing export.",
    )
    promote = define_asset_job(
        PROMOTE_JOB,
        selection=AssetSelection.assets(mongodb_current),
        description="Make a loaded MongoDB version the current database: name it in the config (`version`).",
    )
    return [export, transform, promote, cleanup_job]


def run_assets(*, raw: bool, mongodb: bool, archive: bool) -> list[AssetsDefinition]:
    """The assets of one run, in order: [raw →] transformed [→ MongoDB version] [→ archive]. The
    export and transform jobs are the fullest choices; a CLI run takes its subset with this too."""
    chosen = [raw_export] if raw else []
    chosen.append(transformed_campaigns)
    if mongodb:
        chosen.append(mongodb_version)
    if archive:
        chosen.append(archive_s3)
    return chosen


def export_selection(*, raw: bool = True, mongodb: bool = True, upload: bool = False) -> list[AssetKey]:
    """The asset keys of one run (see run_assets)."""
    return [key for assets in run_assets(raw=raw, mongodb=mongodb, archive=upload) for key in assets.keys]


# reports/changes is eager: this sensor (running by default, in the daemon that `make ui` starts)
# materializes it after each export, so it costs the export nothing.
changes_after_export = AutomationConditionSensorDefinition(
    "changes_after_export", target=AssetSelection.assets(changes_report), default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Materializes reports/changes for each new export (its automation condition is eager).",
)

EXECUTORS = {"in_process": in_process_executor, "multiprocess": multiprocess_executor}


def executor(settings: Settings) -> ExecutorDefinition:
    """In-process on one host (a step per process costs seconds); BRAVO_EXECUTOR=multiprocess otherwise."""
    return EXECUTORS[settings.executor]


def checks_in_runs(asset_keys: list[AssetKey]) -> set[AssetCheckKey]:
    """The checks a run of these assets executes: every check on them but the on-demand ones,
    and the MongoDB load's gate only with the load."""
    left_out = {key for check in ON_DEMAND_CHECKS for key in check.check_keys}
    if mongodb_version.key not in asset_keys:
        left_out |= {key for check in LOAD_GATE_CHECKS for key in check.check_keys}
    return {key for check in ALL_CHECKS for key in check.check_keys
            if key.asset_key in asset_keys and key not in left_out}


OWNERS = ["team:data-engineering"]


def _assets(archived: bool) -> list:
    assets = [source_database, raw_export, transformed_campaigns, mongodb_version, mongodb_current,
              *([archive_s3] if archived else []), changes_report]
    return map_asset_specs(lambda spec: spec.merge_attributes(owners=OWNERS), assets)  # one policy, one place


def build_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or Settings.from_env()
    archived = bool(settings.s3_bucket)
    return Definitions(
        assets=_assets(archived),
        asset_checks=ALL_CHECKS,
        jobs=_jobs(archived),
        sensors=[scheduled_export_sensor, changes_after_export],
        schedules=[daily_cleanup_schedule],
        executor=executor(settings),
        resources=build_resources(settings),
    )


@definitions
def defs() -> Definitions:
    """Loaded by Dagster each time it loads the code location, so settings are read then, not at import."""
    built = build_definitions()
    freeze_what_is_loaded()  # it lives as long as the process: see bravo_pipeline/collector.py
    return built
