from datetime import UTC, date, datetime

import pytest
from dagster import DagsterInstance

from bravo_pipeline.partitions import EXPORT_PARTITIONS_NAME, register_partition
from bravo_pipeline.timestamps import (
    InvalidTimestampError,
    new_timestamp,
    timestamp_date,
    validate_timestamp,
)


@pytest.mark.parametrize("good", ["20250622-072114", "20240229-235959", "19991231-000000"])
def test_good_keys_are_accepted(good: str) -> None:
    assert validate_timestamp(good) == good


@pytest.mark.parametrize(
    "bad",
    ["20251399-999999", "2025-06-22", "../x", "", "20250230-120000", "20250622-072114\n",
     "20250622072114", " 20250622-072114", None, 20250622],
)
def test_bad_keys_are_refused_with_a_clear_message(bad: object) -> None:
    with pytest.raises(InvalidTimestampError, match="invalid export timestamp"):
        validate_timestamp(bad)


def test_new_key_is_utc_and_valid() -> None:
    moment = datetime(2025, 6, 22, 9, 21, 14, tzinfo=UTC)
    assert new_timestamp(moment) == "20250622-092114"
    before = datetime.now(UTC).replace(microsecond=0)
    made = new_timestamp()
    after = datetime.now(UTC)
    assert validate_timestamp(made) == made
    assert before <= datetime.strptime(made, "%Y%m%d-%H%M%S").replace(tzinfo=UTC) <= after


def test_date_part() -> None:
    assert timestamp_date("20250622-072114") == date(2025, 6, 22)


def test_register_partition_validates_before_adding() -> None:
    with DagsterInstance.ephemeral() as instance:
        with pytest.raises(InvalidTimestampError):
            register_partition(instance, "../x")
        register_partition(instance, "20250622-072114")
        register_partition(instance, "20250622-072114")
        assert instance.get_dynamic_partitions(EXPORT_PARTITIONS_NAME) == ["20250622-072114"]
