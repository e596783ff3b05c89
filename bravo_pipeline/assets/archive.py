"""The S3 archive of an export: tarballs (mirrored as stages publish) and the metadata, last."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetKey, MetadataValue, Output, ResourceParam, asset

from bravo_pipeline.assets.raw import SUMMARY_KEY
from bravo_pipeline.assets.transformed import CAMPAIGNS_KEY
from bravo_pipeline.io_managers import ExportsIOManager
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import ArchiveResource, TimestampClaim
from bravo_pipeline.timestamps import validate_timestamp

ARCHIVE_KEY = AssetKey(["archive", "s3"])


@asset(
    key=ARCHIVE_KEY,
    deps=[SUMMARY_KEY, CAMPAIGNS_KEY],
    partitions_def=export_partitions,
    group_name="archive",
    kinds={"s3"},
    code_version="archive-1",
    io_manager_key="exports_io_manager",
    output_required=False,
    description=(
        "`s3://<bucket>/<prefix>/{raw,transformed}/<date>/<ts>-*.tar.gz` and `metadata/<date>/<ts>.json`. "
        "The tarballs are uploaded as the stages publish; this asset uploads any that are missing and "
        "writes the metadata last, so its presence means the archive is complete. Skipped (not "
        "materialized) when BRAVO_S3_BUCKET is unset."
    ),
)
def archive_s3(
    context: AssetExecutionContext,
    archive: ArchiveResource,
    exports_io_manager: ResourceParam[ExportsIOManager],
    timestamp_claim: TimestampClaim,  # held for the run: one writer per timestamp
) -> Iterator[Output[None]]:
    ts = validate_timestamp(context.partition_key)
    if not archive.enabled:
        context.log.info("no S3 bucket configured (BRAVO_S3_BUCKET): archive skipped")
        return
    metadata = archive.complete(exports_io_manager.layout, ts)
    location = archive.location()
    raw, transformed = metadata["exports"]["raw"], metadata["exports"].get("transformed")
    context.log.info(f"archived {ts} to {location.url}")
    yield Output(
        None,
        metadata={
            "metadata_key": location.metadata_key(ts),
            "url": MetadataValue.url(f"s3://{location.bucket}/{location.metadata_key(ts)}"),
            "raw_key": raw["key"],
            "raw_bytes": raw["size_bytes"],
            "transformed_key": transformed["key"] if transformed else "none",
            "transformed_bytes": transformed["size_bytes"] if transformed else 0,
            "dagster/row_count": raw["record_count"],
        },
    )
