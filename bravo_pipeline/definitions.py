"""The one Definitions object: assets, jobs and resources chosen from settings in one place."""

from __future__ import annotations

from dagster import AssetKey, AssetSelection, Definitions, EnvVar, define_asset_job

from bravo_pipeline.assets.mongodb import mongodb_current, mongodb_version
from bravo_pipeline.assets.raw import raw_export
from bravo_pipeline.assets.source import source_database
from bravo_pipeline.assets.transformed import transformed_campaigns
from bravo_pipeline.checks import ALL_CHECKS
from bravo_pipeline.io_managers import ExportsIOManager
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import MongoResource, PostgresSource
from bravo_pipeline.settings import Settings

EXPORT_JOB = "export_job"
DUMP_EXPORT_JOB = "dump_export_job"
TRANSFORM_JOB = "transform_job"
PROMOTE_JOB = "promote_job"


def build_resources(settings: Settings) -> dict[str, object]:
    return {
        "source": PostgresSource(
            uri=EnvVar("BRAVO_SOURCE_URI") if settings.source_uri else None,
            restore_uri=EnvVar("BRAVO_POSTGRES_URI") if settings.postgres_uri else None,
            schema_name=settings.source_schema,
            state_dir=str(settings.state_dir),
            export_workers=settings.export_workers,
        ),
        "exports_io_manager": ExportsIOManager(exports_dir=str(settings.exports_dir)),
        "mongodb": MongoResource(
            uri=EnvVar("BRAVO_MONGODB_URI") if settings.mongodb_uri else None,
            embedded_path=str(settings.state_dir / "mongodb"),
            current_database=settings.mongodb_database,
        ),
    }


export_job = define_asset_job(
    EXPORT_JOB,
    selection=AssetSelection.assets(raw_export, transformed_campaigns, mongodb_version),
    partitions_def=export_partitions,
    description="A full export of one timestamp: the raw snapshot and every stage after it.",
)

dump_export_job = define_asset_job(
    DUMP_EXPORT_JOB,
    selection=AssetSelection.assets(source_database, raw_export, transformed_campaigns, mongodb_version),
    partitions_def=export_partitions,
    config={"ops": {"raw_export": {"config": {"source": "dump"}}}},
    description="A full export from a production dump restored into media_tool_<ts> (config: dump file).",
)

transform_job = define_asset_job(
    TRANSFORM_JOB,
    selection=AssetSelection.assets(transformed_campaigns, mongodb_version),
    partitions_def=export_partitions,
    description="Re-run the transform (and optionally the MongoDB load) of an existing export.",
)

promote_job = define_asset_job(
    PROMOTE_JOB,
    selection=AssetSelection.assets(mongodb_current),
    description="Make a loaded MongoDB version the current database the app reads.",
)


def export_selection(*, dump: bool, mongodb: bool) -> list[AssetKey]:
    """The assets of one export run: [restored dump →] raw → transformed [→ MongoDB version]."""
    keys = [*raw_export.keys, *transformed_campaigns.keys]
    if dump:
        keys = [*source_database.keys, *keys]
    if mongodb:
        keys = [*keys, *mongodb_version.keys]
    return keys


def build_definitions(settings: Settings | None = None) -> Definitions:
    return Definitions(
        assets=[source_database, raw_export, transformed_campaigns, mongodb_version, mongodb_current],
        asset_checks=ALL_CHECKS,
        jobs=[export_job, dump_export_job, transform_job, promote_job],
        resources=build_resources(settings or Settings.from_env()),
    )


defs = build_definitions()
