"""What changed since the previous export, as metadata in the UI (no command needed)."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AutomationCondition,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from bravo_pipeline.assets.raw import SUMMARY_KEY
from bravo_pipeline.assets.transformed import CAMPAIGNS_KEY
from bravo_pipeline.io_managers import ExportsIOManager
from bravo_pipeline.ops.compare import compare_exports, default_report_path, render, write_report
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import TimestampClaim
from bravo_pipeline.timestamps import validate_timestamp

CHANGES_KEY = AssetKey(["reports", "changes"])


def _changes_table(details: dict) -> str:
    lines = ["| table | rows before | rows after | added | removed | changed |", "|---|---|---|---|---|---|"]
    for table, entry in sorted(details.items()):
        if entry["added"] or entry["removed"] or entry["changed"] or entry["count_diff"]:
            lines.append(f"| {table} | {entry['count_v1']} | {entry['count_v2']} | {entry['added']} | "
                         f"{entry['removed']} | {entry['changed']} |")
    return "\n".join(lines) if len(lines) > 2 else "No table changed."


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
    exports_io_manager: ResourceParam[ExportsIOManager],
    timestamp_claim: TimestampClaim,  # held for the run: one writer per timestamp
) -> MaterializeResult:
    ts = validate_timestamp(context.partition_key)
    layout = exports_io_manager.layout
    previous = exports_io_manager.previous_export(ts)
    if previous is None:
        return MaterializeResult(metadata={"previous_export": "none", "note": "first export: nothing to compare"})
    for stage in ("raw", "transformed"):
        for export in (previous, ts):
            exports_io_manager.pull(stage, export)
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
            "changes": MetadataValue.md(_changes_table(report["details"])),
            "schema_changes": MetadataValue.json(schema_changes),
            "campaign_documents": MetadataValue.json(report.get("transformed", {}).get("campaigns")),
            "report": MetadataValue.path(str(path)),
        }
    )
