"""The export-timestamp partitions shared by every partitioned asset."""

from __future__ import annotations

from dagster import DagsterInstance, DynamicPartitionsDefinition

from bravo_pipeline.timestamps import validate_timestamp

EXPORT_PARTITIONS_NAME = "export_timestamp"

export_partitions = DynamicPartitionsDefinition(name=EXPORT_PARTITIONS_NAME)


def register_partition(instance: DagsterInstance, ts: str) -> str:
    """Validate `ts` and add it as a partition key (Dagster itself validates nothing)."""
    key = validate_timestamp(ts)
    if not instance.has_dynamic_partition(EXPORT_PARTITIONS_NAME, key):
        instance.add_dynamic_partitions(EXPORT_PARTITIONS_NAME, [key])
    return key


def registered_partitions(instance: DagsterInstance) -> list[str]:
    return sorted(instance.get_dynamic_partitions(EXPORT_PARTITIONS_NAME))
