"""The restored source database of a dump export: `media_tool_<ts>`, upstream of the raw stage."""

from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from bravo_pipeline.io_managers import ExportsIOManager
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import ArchiveResource, PostgresSource, TimestampClaim
from bravo_pipeline.source.dump_restore import (
    dump_database_name,
    remove_dump,
    restore_dump,
    run_pg_dump,
    stage_dump_file,
)
from bravo_pipeline.timestamps import validate_timestamp

SOURCE_DB_KEY = AssetKey(["source", "media_tool_db"])


class DumpConfig(Config):
    dump: str = ""  # a file or s3://bucket/key (plain, -Fc, -Fd, optionally gzip); empty: pg_dump BRAVO_SOURCE_URI
    keep_dump: bool = False


@asset(
    key=SOURCE_DB_KEY,
    partitions_def=export_partitions,
    group_name="source",
    kinds={"postgres"},
    code_version="source-1",
    description=(
        "Database `media_tool_<ts>`: a production dump restored on BRAVO_POSTGRES_URI (default: the "
        "embedded server), the source of a dump export. The dump passes through "
        "`exports/temp/prod_dump_<ts>.<ext>` and is removed after a successful restore."
    ),
)
def source_database(
    context: AssetExecutionContext,
    config: DumpConfig,
    source: PostgresSource,
    archive: ArchiveResource,
    exports_io_manager: ResourceParam[ExportsIOManager],
    timestamp_claim: TimestampClaim,  # held for the run: one writer per timestamp
) -> MaterializeResult:
    ts = validate_timestamp(context.partition_key)
    temp_dir = exports_io_manager.layout.temp_dir
    if config.dump.startswith("s3://"):
        context.log.info(f"downloading dump {config.dump}")
        download = archive.download(config.dump, temp_dir / f".download-{ts}" / "dump")  # format is sniffed
        try:
            staged = stage_dump_file(download, temp_dir, ts)
        finally:
            remove_dump(download.parent)
    elif config.dump:
        context.log.info(f"staging dump {config.dump}")
        staged = stage_dump_file(Path(config.dump), temp_dir, ts)
    else:
        if not source.uri:
            raise ValueError("a dump export without --dump runs pg_dump on BRAVO_SOURCE_URI, which is unset")
        context.log.info("running pg_dump against BRAVO_SOURCE_URI")
        staged = run_pg_dump(source.uri, source.schema_name, temp_dir, ts)
    database = dump_database_name(ts)
    context.log.info(f"restoring {staged.format} dump ({staged.size_bytes} bytes) into {database}")
    restored = restore_dump(source.restore_admin_uri(), staged, database, keep_dump=config.keep_dump)
    context.log.info(f"restored {restored.tables} tables in {restored.seconds:.1f}s")
    return MaterializeResult(
        metadata={
            "database": restored.database,
            "dump_format": staged.format,
            "dump_bytes": staged.size_bytes,
            "dump_path": MetadataValue.path(str(staged.path)),
            "dump_kept": config.keep_dump,
            "restore_seconds": round(restored.seconds, 3),
            "tables": restored.tables,
        }
    )
