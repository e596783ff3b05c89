"""The raw stage: every table of one snapshot, materialized together in one step."""


from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetOut,
    Config,
    MetadataValue,
    Nothing,
    Output,
    multi_asset,
)

from bravo_pipeline.assets.metadata import preview_rows, table_column_schema
from bravo_pipeline.assets.source import SOURCE_DB_KEY, restore_source_dump
from bravo_pipeline.faults import checkpoint
from bravo_pipeline.io_managers import StagedFolder
from bravo_pipeline.names import printable
from bravo_pipeline.partitions import discard_if_unexported, export_partitions
from bravo_pipeline.resources import ArchiveResource, ExportsResource, PostgresSource, TimestampClaim
from bravo_pipeline.source.dump_restore import restored_dump_label
from bravo_pipeline.source.kinds import choose_kind
from bravo_pipeline.source.raw_export import TableFile, export_raw
from bravo_pipeline.source.tables import KNOWN_TABLES
from bravo_pipeline.timestamps import validate_timestamp

RAW_GROUP = "raw"
SUMMARY_KEY = AssetKey(["raw", "export_summary"])
CODE_VERSION = "raw-1"


def raw_table_key(table: str) -> AssetKey:
    return AssetKey(["raw", table])


def _outs() -> dict[str, AssetOut]:
    outs = {
        table: AssetOut(  # published with the summary's folder: nothing for an IO manager to store or load
            key=raw_table_key(table),
            dagster_type=Nothing,
            description=f"Rows of media_tool.{table} at the export snapshot: `raw/<ts>/{table}.json`.",
            kinds={"postgres", "json"},
            code_version=CODE_VERSION,
            is_required=False,  # nothing is yielded when the timestamp is already exported
        )
        for table in KNOWN_TABLES
    }
    outs["export_summary"] = AssetOut(
        key=SUMMARY_KEY,
        io_manager_key="exports_io_manager",
        description=(
            "`raw/<ts>/export-summary.json` and `schema.json`: counts, sizes and sha256 of every "
            "table file, the source catalog. Written last: its presence means the export is complete."
        ),
        kinds={"json"},
        code_version=CODE_VERSION,
        is_required=False,
    )
    return outs


class RawExportConfig(Config):
    source: str = ""  # demo | live | dump; empty: live when BRAVO_SOURCE_URI is set, else demo
    dump: str = ""  # with source dump: a file or s3://bucket/key (plain, -Fc, -Fd, gzip); empty: pg_dump
    keep_dump: bool = False  # keep exports/temp/prod_dump_<ts>.<ext> after a successful restore


@multi_asset(
    name="raw_export",
    outs=_outs(),
    deps=[SOURCE_DB_KEY],
    partitions_def=export_partitions,
    group_name=RAW_GROUP,
    can_subset=False,
    description="One consistent REPEATABLE READ snapshot of the source, streamed table by table.",
)
def raw_export(
    context: AssetExecutionContext,
    config: RawExportConfig,
    source: PostgresSource,
    archive: ArchiveResource,
    exports: ExportsResource,
    timestamp_claim: TimestampClaim,  # held for the run: one writer per timestamp
) -> Iterator[Output]:
    ts = validate_timestamp(context.partition_key)
    layout = exports.layout
    if layout.is_complete("raw", ts):  # refused, and the healthy partition stays as it is
        context.log.warning(f"raw/{ts} is already exported: an export is never overwritten, nothing done")
        return
    try:
        layout.check_absent("raw", ts)
        kind = choose_kind(config.source, dump=config.dump, source_uri=source.uri)
        if kind == "dump":
            restore_source_dump(context, ts, config.dump, config.keep_dump, source, archive, layout.temp_dir)
        uri = source.export_uri(kind, ts)
        dump = restored_dump_label(uri) if kind == "dump" else None
    except BaseException:
        discard_if_unexported(context.instance, ts, layout.is_complete("raw", ts), run_id=context.run_id)
        raise
    staging = exports.begin("raw", ts)
    done: list[TableFile] = []

    def on_table(item: TableFile) -> None:
        done.append(item)
        context.log.info(
            f"exported {printable(item.table.name)}: {item.count} rows, {item.size} bytes in {item.seconds:.2f}s"
        )

    try:
        result = export_raw(
            uri,
            source.schema_name,
            staging,
            ts,
            source={"kind": kind, "dump": dump},
            workers=source.export_workers,
            on_table=on_table,
            warn=context.log.warning,
        )
    except BaseException:
        exports.abandon(staging)
        discard_if_unexported(context.instance, ts, layout.is_complete("raw", ts), run_id=context.run_id)
        raise
    checkpoint("raw:exported")
    target = layout.stage_dir("raw", ts)
    summary = result.summary
    yield Output(
        StagedFolder(staging, "raw", ts, replace=False),
        output_name="export_summary",
        metadata={
            "path": MetadataValue.path(str(target)),
            "tables": len(result.tables),
            "extra_tables": MetadataValue.json(result.extra_tables),
            "dagster/row_count": summary["totalRecords"],
            "total_bytes": summary["totalBytes"],
            "duration_seconds": summary["durationSeconds"],
            "source": MetadataValue.json(summary["source"]),
            "host": str(summary["host"]),
        },
    )
    for item in result.tables:
        if item.table.name not in KNOWN_TABLES:
            continue
        yield Output(
            None,
            output_name=item.table.name,
            metadata={
                "dagster/row_count": item.count,
                "bytes": item.size,
                "sha256": item.sha256,
                "path": MetadataValue.path(str(target / item.filename)),
                "dagster/column_schema": table_column_schema(item.table),
                "preview": MetadataValue.json(preview_rows(target / item.filename)),
                "seconds": round(item.seconds, 3),
            },
        )
