"""Two commands at once, through the real CLI: every store stays consistent and every exit status tells the truth.

A command is held at a named point with BRAVO_TEST_PAUSE_AT (bravo_pipeline.faults) while a second one
starts, so the overlap is the one each test means, every time.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from bravo_pipeline.mongo.store import open_embedded
from bravo_pipeline.mongo.versions import COLLECTION
from bravo_pipeline.partitions import EXPORT_PARTITIONS_NAME
from bravo_pipeline_tests.conftest import TS1, TS2, one_line_error, run_cli

TS3 = "20250624-072114"


class Paused:
    """A CLI command started in the background and held at `point` until released."""

    def __init__(self, env: dict[str, str], tmp_path: Path, point: str, *args: str) -> None:
        self.release_file = tmp_path / f"release-{point.replace(':', '-')}"
        self.reached_file = self.release_file.with_name(self.release_file.name + ".reached")
        pause = {"BRAVO_TEST_PAUSE_AT": point, "BRAVO_TEST_PAUSE_FILE": str(self.release_file)}
        self.process = subprocess.Popen([sys.executable, "-m", "bravo_pipeline.cli", *args], env={**env, **pause},
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not self.reached_file.exists():
            assert self.process.poll() is None, self.process.communicate()
            assert time.monotonic() < deadline, f"never reached {point}"
            time.sleep(0.05)

    def release(self) -> subprocess.CompletedProcess[str]:
        self.release_file.touch()
        out, err = self.process.communicate(timeout=300)
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err)


def _background(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bravo_pipeline.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _still_waiting(process: subprocess.Popen[str], seconds: float = 3.0) -> None:
    time.sleep(seconds)
    assert process.poll() is None, process.communicate()


def _wait_for_line(log: Path, text: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not (log.exists() and text in log.read_text()):
        assert time.monotonic() < deadline, f"{log} never said {text!r}"
        time.sleep(0.1)


def _finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _holding(env: dict[str, str], database: str) -> tuple[int, Decimal, set[str]]:
    store = open_embedded(Path(env["BRAVO_STATE_DIR"]) / "mongodb")
    try:
        count, total = store.count_and_decimal_sum(database, COLLECTION, "price.targetAmount")
        versions = {d.get("exportTimestamp") for b in store.iter_batches(database, COLLECTION, 5000) for d in b}
        return count, total, versions
    finally:
        store.close()


def _expected(env: dict[str, str], ts: str) -> tuple[int, Decimal]:
    lines = (Path(env["BRAVO_EXPORTS_DIR"]) / "raw" / ts / "campaigns.json").read_text().splitlines()[1:-1]
    budgets = [json.loads(line.rstrip(","))["budget"] for line in lines]
    return len(budgets), sum((Decimal(b) for b in budgets if b is not None), Decimal(0))


def _registry(env: dict[str, str]) -> list[dict[str, Any]]:
    return json.loads((Path(env["BRAVO_EXPORTS_DIR"]) / "mongodb-versions.json").read_text())


def _instance(env: dict[str, str]) -> DagsterInstance:
    import os

    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    return DagsterInstance.get()


def test_two_promotions_at_once_leave_exactly_one_version(env: dict[str, str], tmp_path: Path) -> None:
    first = Paused(env, tmp_path, "promote:staged", "promote", TS1)
    second = _background(env, "promote", TS2)
    _still_waiting(second)  # Dagster's pool holds it until the first promotion is done
    assert first.release().returncode == 0
    done = _finish(second)
    assert done.returncode == 0, done.stderr
    count, total, versions = _holding(env, "mediatool_v2")
    assert versions == {TS2} and (count, total) == _expected(env, TS2)
    promoted = [e for e in _registry(env) if e["action"] == "promoted"]
    assert [e["version"] for e in promoted] == [TS1, TS2]
    assert "(current: mediatool_v2)" in run_cli(env, "show", TS2).stdout


def test_a_load_waits_for_the_export_of_its_timestamp(env: dict[str, str], tmp_path: Path) -> None:
    exporting = Paused(env, tmp_path, "load:staged", "export", "--timestamp", TS3)
    loading = _background(env, "transform", TS3, "--load")
    _wait_for_line(Path(env["BRAVO_EXPORTS_DIR"]) / "logs" / f"pipeline_{TS3}.log", f"waiting for export {TS3}")
    _still_waiting(loading, 1)
    exported = exporting.release()
    assert exported.returncode == 0, exported.stderr
    loaded = _finish(loading)
    assert loaded.returncode == 0, loaded.stderr
    assert f"waiting for export {TS3}: in use by export {TS3}" in loaded.stdout
    count, total, versions = _holding(env, f"mediatool_{TS3}")
    assert versions == {TS3} and (count, total) == _expected(env, TS3)
    ids = [e["load_id"] for e in _registry(env) if e["version"] == TS3]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_a_second_export_of_a_timestamp_is_refused_and_harms_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = Paused(env, tmp_path, "raw:exported", "export", "--timestamp", TS3, "--no-mongo")
    line = one_line_error(run_cli(env, "export", "--timestamp", TS3, "--no-mongo"))
    assert f"export {TS3} is already running" in line
    bad = {**env, "BRAVO_SOURCE_URI": "postgresql://app:pw/db"}
    one_line_error(run_cli(bad, "export", "--timestamp", TS3, "--no-mongo"))
    with _instance(env) as instance:
        assert instance.has_dynamic_partition(EXPORT_PARTITIONS_NAME, TS3)
    done = first.release()
    assert done.returncode == 0, done.stderr
    assert run_cli(env, "verify", TS3).returncode == 0
    with _instance(env) as instance:
        assert instance.has_dynamic_partition(EXPORT_PARTITIONS_NAME, TS3)


def test_cleanup_skips_what_a_run_is_using_or_about_to_publish(env: dict[str, str], tmp_path: Path) -> None:
    transforming = Paused(env, tmp_path, "transform:written", "transform", TS1)
    exporting = Paused(env, tmp_path, "raw:exported", "export", "--timestamp", TS3, "--no-mongo")
    done = run_cli(env, "cleanup", "--older-than", "0m", "--keep", "0", "--databases")
    assert done.returncode == 0, done.stderr
    assert f"skip   {TS1}  (a run for it is queued or running)" in done.stdout
    with _instance(env) as instance:
        assert instance.has_dynamic_partition(EXPORT_PARTITIONS_NAME, TS3)  # about to publish: kept
    assert transforming.release().returncode == 0
    assert exporting.release().returncode == 0
    listing = run_cli(env, "list").stdout
    assert TS1 in listing and TS3 in listing
    assert run_cli(env, "verify", TS1).returncode == 0


@pytest.mark.parametrize("point", ["raw:joining", "raw:exported"])
def test_after_a_crash_the_dead_run_is_failed_and_its_key_removed(env: dict[str, str], point: str) -> None:
    killed = run_cli({**env, "BRAVO_TEST_KILL_AT": point}, "export", "--timestamp", TS3)
    assert killed.returncode == -signal.SIGKILL
    raw = Path(env["BRAVO_EXPORTS_DIR"]) / "raw"
    assert not (raw / TS3).exists()  # a table half joined, or all of them, only in a hidden folder
    assert TS3 not in run_cli(env, "list").stdout
    with _instance(env) as instance:
        assert instance.has_dynamic_partition(EXPORT_PARTITIONS_NAME, TS3)
        [run] = instance.get_runs(filters=RunsFilter(tags={"dagster/partition": TS3}))
        assert run.status == DagsterRunStatus.STARTED
    done = run_cli(env, "cleanup")
    assert done.returncode == 0, done.stderr
    assert f"marked run {run.run_id} failed" in done.stdout
    assert f"removed partition key {TS3}" in done.stdout
    with _instance(env) as instance:
        assert not instance.has_dynamic_partition(EXPORT_PARTITIONS_NAME, TS3)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
    assert not [p for p in raw.iterdir() if TS3 in p.name]
    again = run_cli(env, "export", "--timestamp", TS3)
    assert again.returncode == 0, again.stderr
    verified = run_cli(env, "verify", TS3)
    assert verified.returncode == 0, verified.stderr


def test_a_promotion_waits_for_a_reload_of_its_version(env: dict[str, str], tmp_path: Path) -> None:
    reloading = Paused(env, tmp_path, "load:staged", "transform", TS1, "--load")
    promoting = _background(env, "promote", TS1)
    _still_waiting(promoting, 8)
    assert reloading.release().returncode == 0
    done = _finish(promoting)
    assert done.returncode == 0, done.stderr
    count, total, versions = _holding(env, "mediatool_v2")
    assert versions == {TS1} and (count, total) == _expected(env, TS1)
    store = open_embedded(Path(env["BRAVO_STATE_DIR"]) / "mongodb")
    try:
        from bravo_pipeline.mongo.versions import read_state

        version, current = read_state(store, f"mediatool_{TS1}"), read_state(store, "mediatool_v2")
    finally:
        store.close()
    assert version is not None and current is not None
    assert current.source_sha256 == version.source_sha256 and current.count == version.count
