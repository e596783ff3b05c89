"""Asset checks, partitioned by the export timestamp: thin wrappers over bravo_pipeline.quality."""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    asset_check,
)

from bravo_pipeline.assets.mongodb import VERSION_KEY
from bravo_pipeline.assets.raw import SUMMARY_KEY
from bravo_pipeline.assets.transformed import CAMPAIGNS_KEY
from bravo_pipeline.names import version_database
from bravo_pipeline.partitions import export_partitions
from bravo_pipeline.quality import checks as quality
from bravo_pipeline.resources import ExportsResource, MongoResource


class UnpartitionedCheckError(Exception):
    """A check run without an export timestamp ("Execute all" on a partitioned asset)."""


def export_timestamp(context: AssetCheckExecutionContext) -> str:
    if not context.has_partition_key:
        raise UnpartitionedCheckError(
            "These checks run for one export timestamp: open the asset's partition (or the Checks tab "
            "of a materialization) and execute them there, or run `bravo-pipeline verify TS`."
        )
    return context.partition_key


def _result(outcome: quality.CheckOutcome) -> AssetCheckResult:
    return AssetCheckResult(
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR if outcome.severity == "ERROR" else AssetCheckSeverity.WARN,
        description=outcome.description,
        metadata=outcome.metadata,
    )


@asset_check(
    asset=SUMMARY_KEY,
    name="raw_completeness",
    partitions_def=export_partitions,
    blocking=True,
    description=(
        "Every table file's row count equals the count PostgreSQL reported inside the snapshot; "
        "sizes and sha256 match export-summary.json; all 27 known tables are present. Blocking."
    ),
)
def raw_completeness(
    context: AssetCheckExecutionContext, exports: ExportsResource
) -> AssetCheckResult:
    return _result(quality.raw_completeness(exports.local_stage("raw", export_timestamp(context))))


@asset_check(
    asset=SUMMARY_KEY,
    name="referential_integrity",
    partitions_def=export_partitions,
    description=(
        "Dangling references (strategies → campaigns, line items → strategies, campaign users → "
        "users.zoho_user_id, traders → users.id, campaigns → accounts): WARN when few, ERROR above "
        "the allowed fraction."
    ),
)
def referential_integrity(
    context: AssetCheckExecutionContext, exports: ExportsResource
) -> AssetCheckResult:
    return _result(quality.referential_integrity(exports.local_stage("raw", export_timestamp(context))))


@asset_check(
    asset=SUMMARY_KEY,
    name="schema_drift",
    partitions_def=export_partitions,
    description=(
        "schema.json against the previous export's: added tables or columns WARN; removed columns "
        "or type changes ERROR when the transform reads them, WARN otherwise."
    ),
)
def schema_drift(
    context: AssetCheckExecutionContext, exports: ExportsResource
) -> AssetCheckResult:
    ts = export_timestamp(context)
    previous = exports.previous_export(ts)
    before = quality.load_schema(exports.local_stage("raw", previous)) if previous else None
    current = quality.load_schema(exports.local_stage("raw", ts))
    outcome = quality.schema_drift(before, current, quality.used_columns_of_transform())
    outcome.metadata["previous_export"] = previous or "none"
    return _result(outcome)


@asset_check(
    asset=CAMPAIGNS_KEY,
    name="transform_conservation",
    partitions_def=export_partitions,
    blocking=True,
    description=(
        "Embedded + orphans = raw rows for strategies and line items; one document per campaign "
        "row; the exact decimal sum of raw budgets equals the sum of price.targetAmount. Blocking: "
        "a failure stops the MongoDB load."
    ),
)
def transform_conservation(
    context: AssetCheckExecutionContext, exports: ExportsResource
) -> AssetCheckResult:
    ts = export_timestamp(context)
    return _result(
        quality.transform_conservation(
            exports.local_stage("raw", ts), exports.local_stage("transformed", ts)
        )
    )


@asset_check(
    asset=CAMPAIGNS_KEY,
    name="mongodb_loadable",
    partitions_def=export_partitions,
    blocking=True,
    description=(
        "Nothing MongoDB would refuse: every campaign has a campaignNumber of its own (the unique "
        "index), fits in 16 MiB of BSON, and has no key starting with $ or holding a . or NUL. "
        "Blocking, and run only with the MongoDB load: a failure stops it before any write."
    ),
)
def mongodb_loadable(
    context: AssetCheckExecutionContext, exports: ExportsResource
) -> AssetCheckResult:
    ts = export_timestamp(context)
    return _result(quality.mongodb_loadable(exports.local_stage("transformed", ts)))


@asset_check(
    asset=VERSION_KEY,
    name="mongodb_matches_transformed",
    partitions_def=export_partitions,
    description=(
        "Document count and the exact decimal sum of price.targetAmount in `mediatool_<ts>` equal "
        "those of `transformed/<ts>/campaigns.json`."
    ),
)
def mongodb_matches_transformed(
    context: AssetCheckExecutionContext,
    mongodb: MongoResource,
    exports: ExportsResource,
) -> AssetCheckResult:
    ts = export_timestamp(context)
    with mongodb.open() as store:
        outcome = quality.mongodb_version(
            store, version_database(ts), exports.local_stage("transformed", ts)
        )
    return _result(outcome)


@asset_check(
    asset=SUMMARY_KEY,
    name="export_verified",
    partitions_def=export_partitions,
    description=(
        "Reads every file of `raw/<ts>/` and `transformed/<ts>/` again and matches it with its summary "
        "(size and sha256, and each summary's own digest): what `bravo-pipeline verify TS` does. Not part "
        "of the export run (the files were hashed as they were written); execute it when you want to know."
    ),
)
def export_verified(
    context: AssetCheckExecutionContext, exports: ExportsResource
) -> AssetCheckResult:
    return _result(quality.export_verified(exports.layout, export_timestamp(context)))


ALL_CHECKS = [
    raw_completeness,
    referential_integrity,
    schema_drift,
    transform_conservation,
    mongodb_loadable,
    mongodb_matches_transformed,
    export_verified,
]
ON_DEMAND_CHECKS = [export_verified]  # not run by the export and transform jobs
LOAD_GATE_CHECKS = [mongodb_loadable]  # run only when the run loads MongoDB
