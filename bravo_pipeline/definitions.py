"""The one Definitions object: assets, jobs and resources chosen from settings in one place."""

from __future__ import annotations

import os
from typing import Any

from dagster import AssetCheckKey, AssetKey, AssetSelection, Definitions, EnvVar, define_asset_job, map_asset_specs

from bravo_pipeline.assets.archive import archive_s3
from bravo_pipeline.assets.mongodb import mongodb_current, mongodb_version
from bravo_pipeline.assets.raw import raw_export
from bravo_pipeline.assets.reports import changes_report
from bravo_pipeline.assets.source import source_database
from bravo_pipeline.assets.transformed import transformed_campaigns
from bravo_pipeline.automation import cleanup_job, daily_cleanup_schedule, scheduled_export_sensor
from bravo_pipeline.checks import ALL_CHECKS, ON_DEMAND_CHECKS
from bravo_pipeline.io_managers import ExportsIOManager
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import ArchiveResource, MongoResource, PostgresSource, TimestampClaim
from bravo_pipeline.settings import Settings

EXPORT_JOB = "export_job"
DUMP_EXPORT_JOB = "dump_export_job"
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
    return {
        "archive": archive,
        "timestamp_claim": TimestampClaim(),
        "source": postgres_source(settings, secrets_from_env_vars=secrets_from_env_vars),
        "exports_io_manager": ExportsIOManager(
            exports_dir=str(settings.exports_dir), archive=archive, shared_root=settings.shared_root
        ),
        "mongodb": MongoResource(
            uri=_secret("BRAVO_MONGODB_URI", settings.mongodb_uri, secrets_from_env_vars),
            embedded_path=str(settings.mongodb_embedded_path),
            current_database=settings.mongodb_database,
        ),
    }


ON_DEMAND = AssetSelection.checks(*ON_DEMAND_CHECKS)

export_job = define_asset_job(
    EXPORT_JOB,
    selection=AssetSelection.assets(raw_export, transformed_campaigns, mongodb_version, archive_s3) - ON_DEMAND,
    partitions_def=export_partitions,
    description="A full export of one timestamp: the raw snapshot and every stage after it.",
)

dump_export_job = define_asset_job(
    DUMP_EXPORT_JOB,
    selection=AssetSelection.assets(
        source_database, raw_export, transformed_campaigns, mongodb_version, archive_s3
    ) - ON_DEMAND,
    partitions_def=export_partitions,
    config={"ops": {"raw_export": {"config": {"source": "dump"}}}},
    description="A full export from a production dump restored into media_tool_<ts> (config: dump file).",
)

transform_job = define_asset_job(
    TRANSFORM_JOB,
    selection=AssetSelection.assets(transformed_campaigns, mongodb_version, archive_s3) - ON_DEMAND,
    partitions_def=export_partitions,
    description="Re-run the transform (and optionally the MongoDB load) of an existing export.",
)

promote_job = define_asset_job(
    PROMOTE_JOB,
    selection=AssetSelection.assets(mongodb_current),
    description="Make a loaded MongoDB version the current database the app reads.",
)


def export_selection(*, dump: bool = False, raw: bool = True, mongodb: bool = True,
                     upload: bool = False) -> list[AssetKey]:
    """The assets of one run: [restored dump →] [raw →] transformed [→ MongoDB version] [→ archive]."""
    keys = [*transformed_campaigns.keys]
    if raw:
        keys = [*raw_export.keys, *keys]
    if dump:
        keys = [*source_database.keys, *keys]
    if mongodb:
        keys = [*keys, *mongodb_version.keys]
    if upload:
        keys = [*keys, *archive_s3.keys]
    return keys


def checks_in_runs(asset_keys: list[AssetKey]) -> set[AssetCheckKey]:
    """The checks a run of these assets executes: every check on them but the on-demand ones."""
    on_demand = {key for check in ON_DEMAND_CHECKS for key in check.check_keys}
    return {key for check in ALL_CHECKS for key in check.check_keys
            if key.asset_key in asset_keys and key not in on_demand}


OWNERS = ["team:data-engineering"]
ASSETS = map_asset_specs(
    lambda spec: spec.merge_attributes(owners=OWNERS),  # one policy for every asset, in one place
    [source_database, raw_export, transformed_campaigns, mongodb_version, mongodb_current, archive_s3, changes_report],
)


def build_definitions(settings: Settings | None = None) -> Definitions:
    return Definitions(
        assets=ASSETS,
        asset_checks=ALL_CHECKS,
        jobs=[export_job, dump_export_job, transform_job, promote_job, cleanup_job],
        sensors=[scheduled_export_sensor],
        schedules=[daily_cleanup_schedule],
        resources=build_resources(settings or Settings.from_env()),
    )


defs = build_definitions()
