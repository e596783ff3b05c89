"""The export-timestamp partitions shared by every partitioned asset, and their keys' lifecycle.

A key exists while its export does or a run for it is in flight. Keys that are
not timestamps, and keys whose export failed before anything was published,
are removed: by the run itself, by the next command for that key and by cleanup.
"""

from __future__ import annotations

from collections.abc import Callable

from dagster import DagsterInstance, DagsterRunStatus, DynamicPartitionsDefinition, RunsFilter

from bravo_pipeline.timestamps import InvalidTimestampError, validate_timestamp

EXPORT_PARTITIONS_NAME = "export_timestamp"
PARTITION_TAG = "dagster/partition"
IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]

export_partitions = DynamicPartitionsDefinition(name=EXPORT_PARTITIONS_NAME)


def register_partition(instance: DagsterInstance, ts: str) -> str:
    """Validate `ts` and add it as a partition key (Dagster itself validates nothing)."""
    key = validate_timestamp(ts)
    if not instance.has_dynamic_partition(EXPORT_PARTITIONS_NAME, key):
        instance.add_dynamic_partitions(EXPORT_PARTITIONS_NAME, [key])
    return key


def runs_in_flight(instance: DagsterInstance, ts: str, *, besides: str | None = None,
                   job_names: list[str] | None = None) -> list[str]:
    """Ids of runs for partition `ts` that are queued or running (other than `besides`)."""
    runs = instance.get_runs(filters=RunsFilter(tags={PARTITION_TAG: ts}, statuses=IN_FLIGHT,
                                                job_name=None))
    return [run.run_id for run in runs
            if run.run_id != besides and (job_names is None or run.job_name in job_names)]


def remove_key(instance: DagsterInstance, ts: str) -> bool:
    if instance.has_dynamic_partition(EXPORT_PARTITIONS_NAME, ts):
        instance.delete_dynamic_partition(EXPORT_PARTITIONS_NAME, ts)
        return True
    return False


def discard_invalid_key(instance: DagsterInstance | None, ts: str) -> None:
    """Raise InvalidTimestampError for a key that is not an export timestamp, removing the key first."""
    try:
        validate_timestamp(ts)
    except InvalidTimestampError:
        if instance is not None:
            remove_key(instance, ts)
        raise


def discard_if_unexported(instance: DagsterInstance, ts: str, exported: bool, *, run_id: str | None) -> bool:
    """Remove the key of `ts` when no export exists for it and no other run is in flight for it."""
    if exported or runs_in_flight(instance, ts, besides=run_id):
        return False
    return remove_key(instance, ts)


def partition_report(instance: DagsterInstance, exported: Callable[[str], bool]) -> list[tuple[str, str]]:
    """Every key with its state: exported, in flight, no export, or not a timestamp."""
    report = []
    for key in sorted(instance.get_dynamic_partitions(EXPORT_PARTITIONS_NAME)):
        try:
            validate_timestamp(key)
        except InvalidTimestampError:
            report.append((key, "in flight" if runs_in_flight(instance, key) else "not a timestamp"))
            continue
        if exported(key):
            report.append((key, "exported"))
        elif runs_in_flight(instance, key):
            report.append((key, "in flight"))
        else:
            report.append((key, "no export"))
    return report


class InstancePartitionKeys:
    """The keys of `instance`, as cleanup sees them (retention.cleanup.PartitionKeys)."""

    def __init__(self, instance: DagsterInstance, *, besides: str | None = None) -> None:
        self._instance = instance
        self._besides = besides  # the cleanup run itself

    def all_keys(self) -> list[str]:
        return sorted(self._instance.get_dynamic_partitions(EXPORT_PARTITIONS_NAME))

    def in_flight(self, ts: str) -> bool:
        return bool(runs_in_flight(self._instance, ts, besides=self._besides))

    def remove(self, ts: str) -> None:
        remove_key(self._instance, ts)
