"""The transformed stage: one denormalized document per campaign, from its own raw export."""

from dagster import AssetExecutionContext, AssetIn, AssetKey, MetadataValue, Output, asset

from bravo_pipeline.assets.raw import SUMMARY_KEY, raw_table_key
from bravo_pipeline.faults import checkpoint
from bravo_pipeline.io_managers import StagedFolder, StageFile
from bravo_pipeline.names import CAMPAIGNS_FILE
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import ExportsResource, TimestampClaim
from bravo_pipeline.timestamps import validate_timestamp
from bravo_pipeline.transform.export import preview_documents, transform_export
from bravo_pipeline.transform.raw_tables import TRANSFORM_COLUMNS

CAMPAIGNS_KEY = AssetKey(["transformed", "campaigns"])
CODE_VERSION = "transformed-1"


@asset(
    key=CAMPAIGNS_KEY,
    ins={"raw_summary": AssetIn(key=SUMMARY_KEY)},  # the raw folder; the tables it reads are deps
    deps=[raw_table_key(table) for table in TRANSFORM_COLUMNS],
    partitions_def=export_partitions,
    group_name="transformed",
    io_manager_key="exports_io_manager",
    kinds={"polars", "json"},
    code_version=CODE_VERSION,
    description=(
        "`transformed/<ts>/campaigns.json`: one document per campaign with its account, team, "
        "strategies and line items embedded; exact decimals, deterministic. Re-materialize an old "
        "partition to rebuild it from that export's raw files."
    ),
)
def transformed_campaigns(
    context: AssetExecutionContext,
    exports: ExportsResource,
    timestamp_claim: TimestampClaim,  # held for the run: one writer per timestamp
    raw_summary: StageFile,
) -> Output[StagedFolder]:
    ts = validate_timestamp(context.partition_key)
    staging = exports.begin("transformed", ts)
    try:
        summary = transform_export(raw_summary.path.parent, staging, ts)
        checkpoint("transform:written")
        preview = preview_documents(staging / CAMPAIGNS_FILE)
    except BaseException:
        exports.abandon(staging)
        raise
    target = exports.layout.stage_dir("transformed", ts)
    orphans = summary["orphans"]
    context.log.info(
        f"transformed {summary['totalCampaigns']} campaigns in {summary['durationSeconds']}s"
    )
    return Output(
        StagedFolder(staging, "transformed", ts, replace=True),
        metadata={
            "dagster/row_count": summary["totalCampaigns"],
            "strategies": summary["totalStrategies"],
            "line_items": summary["totalLineItems"],
            "users": summary["totalUsers"],
            "sha256": summary["sha256"],
            "bytes": summary["size"],
            "path": MetadataValue.path(str(target / CAMPAIGNS_FILE)),
            "unresolved_users": MetadataValue.json(summary["unresolvedUsers"]),
            "orphans": MetadataValue.json({kind: entry["count"] for kind, entry in orphans.items()}),
            "duration_seconds": summary["durationSeconds"],
            "preview": MetadataValue.json(preview),
            "raw_export": MetadataValue.path(str(raw_summary.path.parent)),
        },
    )
