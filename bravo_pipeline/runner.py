"""Launch real Dagster runs on the instance at DAGSTER_HOME, for the CLI.

Runs execute in this process but are recorded on the instance, so each one
shows in the UI (`make ui`) like a run launched there.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetKey, DagsterEventType, DagsterInstance, ExecuteInProcessResult

from bravo_pipeline.partitions import register_partition
from bravo_pipeline.settings import Settings

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def dagster_home() -> Path:
    """DAGSTER_HOME (default ./.dagster_home), created with the project's dagster.yaml."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and PROJECT_DAGSTER_YAML.exists():
        shutil.copyfile(PROJECT_DAGSTER_YAML, config)
    return home


HOST_TAG, PID_TAG = "bravo/host", "bravo/pid"


@contextmanager
def instance() -> Iterator[DagsterInstance]:
    dagster_home()
    with DagsterInstance.get() as found:
        yield found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_dead_runs(dagster_instance: DagsterInstance) -> list[str]:
    """Mark failed the runs of this host whose process died (run monitoring does it where a daemon runs)."""
    from dagster import RunsFilter

    from bravo_pipeline.partitions import IN_FLIGHT

    host = socket.gethostname()
    marked = []
    for run in dagster_instance.get_runs(filters=RunsFilter(statuses=IN_FLIGHT, tags={HOST_TAG: host})):
        pid = (run.tags or {}).get(PID_TAG, "")
        if pid.isdigit() and not _pid_alive(int(pid)):
            dagster_instance.report_run_failed(run, f"its process (pid {pid} on {host}) died")
            if dagster_instance.event_log_storage.supports_global_concurrency_limits:
                # what the daemon's run monitoring does for finished runs: give back their pool slots
                dagster_instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            marked.append(run.run_id)
    return marked


@dataclass(frozen=True)
class CheckLine:
    asset: str
    name: str
    passed: bool
    severity: str
    description: str

    def __str__(self) -> str:
        if self.passed:
            return f"{self.asset} {self.name}: passed"
        mark = "warning" if self.severity == "WARN" else "FAILED"
        return f"{self.asset} {self.name}: {mark} - {self.description}"


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    success: bool
    error: str | None
    checks: list[CheckLine]

    @property
    def reason(self) -> str:
        """Why the run failed, naming the failed ERROR checks when there are any."""
        failed = [f"{c.asset} {c.name}" for c in self.checks if not c.passed and c.severity == "ERROR"]
        if failed:
            return f"check failed: {', '.join(failed)}"
        return self.error or "the run failed"


def latest_checks(dagster_instance: DagsterInstance, ts: str) -> list[CheckLine]:
    """The latest evaluation of every check for partition `ts`, from the instance's runs."""
    from dagster import RunsFilter

    found: dict[tuple[str, str], CheckLine] = {}
    for run in dagster_instance.get_runs(filters=RunsFilter(tags={"dagster/partition": ts})):  # newest first
        records = dagster_instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        for record in records:
            data = record.event_log_entry.dagster_event.asset_check_evaluation_data
            key = (data.asset_key.to_user_string(), data.check_name)
            if key not in found:
                found[key] = CheckLine(key[0], key[1], data.passed, data.severity.value, data.description or "")
    return [found[key] for key in sorted(found)]


def check_lines(result: ExecuteInProcessResult) -> list[CheckLine]:
    return [
        CheckLine(
            evaluation.asset_key.to_user_string(),
            evaluation.check_name,
            evaluation.passed,
            evaluation.severity.value,
            evaluation.description or "",
        )
        for evaluation in result.get_asset_check_evaluations()
    ]


def first_failure(result: ExecuteInProcessResult) -> str | None:
    """The sentence to show for a failed run: the innermost cause of its first step failure."""
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:
                error = error.cause
            if error is not None:
                line = error.message.strip().splitlines()[0]
                kind, sep, text = line.partition(": ")
                return text if sep and error.cls_name and kind.endswith(error.cls_name) else line
    return None if result.success else "the run failed (see the Dagster UI for details)"


@contextmanager
def tail(path: Path, emit: Callable[[str], None], interval: float = 0.2) -> Iterator[None]:
    """Print lines appended to `path` while the block runs."""
    stop = threading.Event()
    start = path.stat().st_size if path.exists() else 0

    def follow() -> None:
        position = start
        while True:
            finished = stop.is_set()
            if path.exists():
                with path.open(encoding="utf-8", errors="replace") as handle:
                    handle.seek(position)
                    chunk = handle.read()
                    position = handle.tell()
                for line in chunk.splitlines():
                    emit(line)
            if finished:
                return
            time.sleep(interval)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def run_job(
    dagster_instance: DagsterInstance,
    job_name: str,
    ts: str | None,
    *,
    asset_selection: Sequence[AssetKey] | None = None,
    op_config: Mapping[str, Mapping[str, object]] | None = None,
    log_file: Path | None = None,
    emit: Callable[[str], None] = print,
) -> RunOutcome:
    """Execute a job of the project's definitions for partition `ts` (None: unpartitioned)."""
    from bravo_pipeline.definitions import build_definitions, checks_in_runs

    mark_dead_runs(dagster_instance)
    if ts is not None:
        register_partition(dagster_instance, ts)
    job = build_definitions(Settings.from_env()).resolve_job_def(job_name)
    if asset_selection is not None:
        job = job.get_subset(asset_selection=set(asset_selection),
                             asset_check_selection=checks_in_runs(list(asset_selection)))
    run_config: dict[str, object] = dict(QUIET_CONSOLE)
    if op_config:
        run_config["ops"] = {op: {"config": dict(config)} for op, config in op_config.items()}
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    with tail(log_file, emit) if log_file else _nothing():
        result = job.execute_in_process(
            run_config=run_config,
            instance=dagster_instance,
            partition_key=ts,
            raise_on_error=False,
            tags=tags,
        )
    return RunOutcome(result.run_id, result.success, first_failure(result), check_lines(result))


@contextmanager
def _nothing() -> Iterator[None]:
    yield
