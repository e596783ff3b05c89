"""MongoDB versions: each export in its own database, and the current database the app reads."""

import json

from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from bravo_pipeline.assets.raw import SUMMARY_KEY
from bravo_pipeline.assets.transformed import CAMPAIGNS_KEY
from bravo_pipeline.claims import claim, export_claim
from bravo_pipeline.faults import checkpoint
from bravo_pipeline.io_managers import StageFile
from bravo_pipeline.mongo.registry import Registry, RegistryError, registry_entry
from bravo_pipeline.mongo.versions import load_version, promote_version
from bravo_pipeline.names import version_database
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.resources import ExportsResource, MongoResource, TimestampClaim
from bravo_pipeline.timestamps import validate_timestamp

VERSION_KEY = AssetKey(["mongodb", "version"])
CURRENT_KEY = AssetKey(["mongodb", "current"])
CODE_VERSION = "mongodb-1"
PROMOTION_POOL = "mongodb_current"


class VersionConfig(Config):
    purpose: str = ""
    notes: str = ""
    action: str = "loaded"  # "restored" when the export came back from S3


class PromoteConfig(Config):
    version: str = Field(description="The loaded version to make current: its export timestamp YYYYMMDD-HHMMSS.")
    purpose: str = ""
    notes: str = ""


def _source_database(raw_summary: StageFile) -> str | None:
    return json.loads(raw_summary.path.read_text(encoding="utf-8")).get("database")


def _log(context: AssetExecutionContext, registry: Registry, entry: dict, point: str) -> None:
    """Append to the registry; if that fails the database (the truth) is done, and the next reader reconciles."""
    try:
        registry.append(entry)
    except (RegistryError, OSError) as error:
        context.log.warning(f"{entry['database_name']} holds the new version, but the registry could not be "
                            f"written ({error}); the next bravo-pipeline list reconciles it")
    checkpoint(f"{point}:registered")


@asset(
    key=VERSION_KEY,
    ins={"campaigns": AssetIn(key=CAMPAIGNS_KEY), "raw_summary": AssetIn(key=SUMMARY_KEY)},
    partitions_def=export_partitions,
    group_name="mongodb",
    kinds={"mongodb"},
    code_version=CODE_VERSION,
    description=(
        "Database `mediatool_<ts>`, collection campaigns: the transformed documents with Decimal128 "
        "decimals and BSON dates, indexed. Loaded into a staging collection and swapped in, so "
        "readers never see a half-loaded version; re-materializing replaces, never duplicates."
    ),
)
def mongodb_version(
    context: AssetExecutionContext,
    config: VersionConfig,
    mongodb: MongoResource,
    exports: ExportsResource,
    timestamp_claim: TimestampClaim,  # held for the run: one writer per timestamp (so per mediatool_<ts>)
    campaigns: StageFile,
    raw_summary: StageFile,
) -> MaterializeResult:
    ts = validate_timestamp(context.partition_key)
    action = "restored" if config.action == "restored" else "loaded"
    registry = Registry(exports.layout.root)
    registry.check()  # before any database is touched
    with mongodb.open() as store:
        result = load_version(store, campaigns.path.parent, ts, action=action)
    _log(context, registry, registry_entry(
        ts, action, database=result.database, collections=result.collections,
        source_postgres_db=_source_database(raw_summary), purpose=config.purpose, notes=config.notes,
        load_id=result.state.load_id,
    ), "load")
    context.log.info(f"loaded {result.collections['campaigns']} campaigns into {result.database} "
                     f"on {result.server} in {result.seconds:.2f}s")
    return MaterializeResult(
        metadata={
            "database": result.database,
            "collections": MetadataValue.json(result.collections),
            "dagster/row_count": result.collections["campaigns"],
            "indexes": MetadataValue.json(result.indexes),
            "duration_seconds": round(result.seconds, 3),
            "server": result.server,
        }
    )


@asset(
    key=CURRENT_KEY,
    deps=[VERSION_KEY],
    pool=PROMOTION_POOL,  # Dagster's concurrency pool, limit 1 (dagster.yaml): one promotion at a time
    group_name="mongodb",
    kinds={"mongodb"},
    code_version=CODE_VERSION,
    description=(
        "The current database the app reads (BRAVO_MONGODB_DATABASE, default mediatool_v2): holds "
        "exactly the campaigns of the promoted version, swapped in atomically. Materialize with "
        "config `version: <ts>` (required: the launchpad asks for it) or run `bravo-pipeline promote TS`; "
        "the materialization's `version` says which version became current."
    ),
)
def mongodb_current(
    context: AssetExecutionContext,
    config: PromoteConfig,
    mongodb: MongoResource,
    exports: ExportsResource,
) -> MaterializeResult:
    registry = Registry(exports.layout.root)
    registry.check()  # before any database is touched
    with mongodb.open() as store:
        ts = validate_timestamp(config.version)
        with claim(export_claim(ts), f"promotion of {ts} (run {context.run_id[:8]})", say=context.log.info):
            result = promote_version(store, ts, mongodb.current_database)
    _log(context, registry, registry_entry(
        ts, "promoted", database=result.database, collections=result.collections,
        source_postgres_db=None, purpose=config.purpose, notes=config.notes, load_id=result.state.load_id,
    ), "promote")
    count = result.collections["campaigns"]
    context.log.info(f"promoted {version_database(ts)} to {result.database} ({count} campaigns)")
    return MaterializeResult(
        metadata={
            "version": ts,
            "promoted_from": version_database(ts),
            "database": result.database,
            "collections": MetadataValue.json(result.collections),
            "dagster/row_count": result.collections["campaigns"],
            "duration_seconds": round(result.seconds, 3),
            "server": result.server,
        }
    )
