"""The sensor, schedule and cleanup job of automation.py."""

from dagster import DagsterInstance, build_sensor_context

from bravo_pipeline.automation import scheduled_export_sensor
from bravo_pipeline.timestamps import validate_timestamp


def test_scheduled_export_sensor_requests_one_partition_and_one_run() -> None:
    with DagsterInstance.ephemeral() as instance:
        result = scheduled_export_sensor(build_sensor_context(instance=instance))
    [request] = result.run_requests
    [partitions] = result.dynamic_partitions_requests
    assert partitions.partition_keys == [request.partition_key]
    assert request.run_key == request.partition_key == validate_timestamp(request.partition_key)
    assert partitions.partitions_def_name == "export_timestamp"
