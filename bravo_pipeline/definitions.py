"""The one Definitions object: assets, jobs and resources chosen from settings in one place."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, EnvVar, define_asset_job

from bravo_pipeline.assets.raw import raw_export
from bravo_pipeline.assets.transformed import transformed_campaigns
from bravo_pipeline.io_managers import ExportsIOManager
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import PostgresSource
from bravo_pipeline.settings import Settings

EXPORT_JOB = "export_job"
TRANSFORM_JOB = "transform_job"


def build_resources(settings: Settings) -> dict[str, object]:
    return {
        "source": PostgresSource(
            uri=EnvVar("BRAVO_SOURCE_URI") if settings.source_uri else None,
            schema_name=settings.source_schema,
            state_dir=str(settings.state_dir),
        ),
        "exports_io_manager": ExportsIOManager(exports_dir=str(settings.exports_dir)),
    }


export_job = define_asset_job(
    EXPORT_JOB,
    selection=AssetSelection.assets(raw_export, transformed_campaigns),
    partitions_def=export_partitions,
    description="A full export of one timestamp: the raw snapshot and every stage after it.",
)

transform_job = define_asset_job(
    TRANSFORM_JOB,
    selection=AssetSelection.assets(transformed_campaigns),
    partitions_def=export_partitions,
    description="Re-run the transform of an existing export from its raw files.",
)


def build_definitions(settings: Settings | None = None) -> Definitions:
    return Definitions(
        assets=[raw_export, transformed_campaigns],
        jobs=[export_job, transform_job],
        resources=build_resources(settings or Settings.from_env()),
    )


defs = build_definitions()
