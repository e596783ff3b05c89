"""The source database of an export, outside the pipeline: an external asset upstream of the raw stage.

A live or demo export reads a server that Dagster does not build, so the source
is never "missing". A dump export restores the dump into `media_tool_<ts>`
inside the raw step and records that restore as a materialization of the source
for that timestamp, so the lineage shows it when it happens.
"""

from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, AssetSpec, MetadataValue

from bravo_pipeline.names import dump_database_name
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import ArchiveResource, PostgresSource
from bravo_pipeline.source.dump_restore import (
    remove_dump,
    restore_dump,
    run_pg_dump,
    stage_dump_file,
)

SOURCE_DB_KEY = AssetKey(["source", "media_tool_db"])

source_database = AssetSpec(
    key=SOURCE_DB_KEY,
    partitions_def=export_partitions,
    group_name="source",
    kinds={"postgres"},
    description=(
        "The PostgreSQL database an export reads: BRAVO_SOURCE_URI (live), the embedded demo server "
        "(demo), or `media_tool_<ts>` restored from a production dump on BRAVO_POSTGRES_URI (dump). "
        "Not built by the pipeline; a dump export records its restore here."
    ),
)


def restore_source_dump(
    context: AssetExecutionContext, ts: str, dump: str, keep_dump: bool, source: PostgresSource,
    archive: ArchiveResource, temp_dir: Path,
) -> None:
    """Restore `dump` (a file, s3://..., or empty: pg_dump BRAVO_SOURCE_URI) into media_tool_<ts>."""
    if dump.startswith("s3://"):
        context.log.info(f"downloading dump {dump}")
        download = archive.download(dump, temp_dir / f".download-{ts}" / "dump")  # format is sniffed
        try:
            staged = stage_dump_file(download, temp_dir, ts)
        finally:
            remove_dump(download.parent)
    elif dump:
        context.log.info(f"staging dump {dump}")
        staged = stage_dump_file(Path(dump), temp_dir, ts)
    else:
        if not source.uri:
            raise ValueError("a dump export without --dump runs pg_dump on BRAVO_SOURCE_URI, which is unset")
        context.log.info("running pg_dump against BRAVO_SOURCE_URI")
        staged = run_pg_dump(source.uri, source.schema_name, temp_dir, ts)
    database = dump_database_name(ts)
    context.log.info(f"restoring {staged.format} dump ({staged.size_bytes} bytes) into {database}")
    restored = restore_dump(source.restore_admin_uri(), staged, database, keep_dump=keep_dump)
    context.log.info(f"restored {restored.tables} tables in {restored.seconds:.1f}s")
    context.log_event(AssetMaterialization(
        asset_key=SOURCE_DB_KEY,
        partition=ts,
        metadata={
            "database": restored.database,
            "dump_format": staged.format,
            "dump_bytes": staged.size_bytes,
            "dump_path": MetadataValue.path(str(staged.path)),
            "dump_kept": keep_dump,
            "restore_seconds": round(restored.seconds, 3),
            "tables": restored.tables,
        },
    ))
