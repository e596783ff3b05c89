"""What changed since the previous export, as metadata in the UI (no command needed)."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AutomationCondition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from bravo_pipeline.assets.raw import SUMMARY_KEY
from bravo_pipeline.assets.transformed import CAMPAIGNS_KEY
from bravo_pipeline.compare import changed_tables_markdown, compare_exports, default_report_path, render, write_report
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import ExportsResource, TimestampClaim
from bravo_pipeline.timestamps import validate_timestamp

CHANGES_KEY = AssetKey(["reports", "changes"])


@asset(
    key=CHANGES_KEY,
    deps=[SUMMARY_KEY, CAMPAIGNS_KEY],
    partitions_def=export_partitions,
    group_name="reports",
    kinds={"json"},
    code_version="reports-1",
    automation_condition=AutomationCondition.eager(),
    description=(
        "Compares this export with the previous one (every row, matched by primary key): counts, "
        "added/removed/changed rows per table, changed fields, schema changes. Runs by itself after "
        "each new export when the Dagster daemon runs (make ui); the full report is written to "
        "exports/comparison-reports/."
    ),
)
def changes_report(
    context: AssetExecutionContext,
    exports: ExportsResource,
    timestamp_claim: TimestampClaim,  # held for the run: one writer per timestamp
) -> MaterializeResult:
    ts = validate_timestamp(context.partition_key)
    layout = exports.layout
    previous = exports.previous_export(ts)
    if previous is None:
        return MaterializeResult(metadata={"previous_export": "none", "note": "first export: nothing to compare"})
    for stage in ("raw", "transformed"):
        for export in (previous, ts):
            exports.pull(stage, export)
    report = compare_exports(layout, previous, ts)
    path = default_report_path(layout, previous, ts, "json")
    write_report(path, render(report, "json"))
    summary = report["summary"]
    schema_changes = {
        table: entry["schema"] for table, entry in report["details"].items()
        if any(entry["schema"].values())
    }
    return MaterializeResult(
        metadata={
            "previous_export": previous,
            "tables_with_changes": summary["tables_with_changes"],
            "records_before": summary["total_records_v1"],
            "records_after": summary["total_records_v2"],
            "changes": MetadataValue.md(changed_tables_markdown(report["details"])),
            "schema_changes": MetadataValue.json(schema_changes),
            "campaign_documents": MetadataValue.json(report.get("transformed", {}).get("campaigns")),
            "report": MetadataValue.path(str(path)),
        }
    )
