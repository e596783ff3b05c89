"""The S3 archive of an export: its tarballs, then the metadata, last. Defined only with a bucket."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetKey, MetadataValue, Output, asset

from bravo_pipeline.assets.raw import SUMMARY_KEY
from bravo_pipeline.assets.transformed import CAMPAIGNS_KEY
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import ArchiveResource, ExportsResource, TimestampClaim
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
        "Uploads each stage S3 lacks (or holds from other content), then writes the metadata last, so "
        "its presence means the archive is complete. Part of the definitions only when BRAVO_S3_BUCKET "
        "is set."
    ),
)
def archive_s3(
    context: AssetExecutionContext,
    archive: ArchiveResource,
    exports: ExportsResource,
    timestamp_claim: TimestampClaim,  # held for the run: one writer per timestamp
) -> Iterator[Output[None]]:
    ts = validate_timestamp(context.partition_key)
    metadata = archive.complete(exports.layout, ts)
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
