"""Start runs of the code location for the CLI, as the UI does, and follow them to the end.

A run is created from the code location loaded in this process (the same job
snapshot the UI serves, so the run appears on the job and asset pages with no
version warning) and submitted to the instance's run coordinator. Locally it
starts at once and runs in this process (bravo_pipeline.launcher); on the
deploy instance it is queued, started by the daemon with its launcher, and the
CLI only waits. Either way the CLI prints the run's log as it comes, read from
the instance's event log (so it works across hosts), and gets the outcome.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from bravo_pipeline.layout import pid_alive
from bravo_pipeline.partitions import IN_FLIGHT, PARTITION_TAG, register_partition
from bravo_pipeline.run_log import check_text, innermost_cause

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_DAGSTER_YAML = PROJECT_ROOT / "dagster.yaml"
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # the CLI prints its own lines
HOST_TAG, PID_TAG = "bravo/host", "bravo/pid"
LOCATION_NAME = "bravo_pipeline"  # workspace.yaml's location: CLI runs belong to the location the UI shows
CODE_MODULE = "bravo_pipeline.definitions"
POLL_SECONDS = 0.25
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
POOL_BLOCKED = "blocked by limit for pool"


def dagster_home() -> Path:
    """DAGSTER_HOME (default ./.dagster_home), created with the project's dagster.yaml."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and PROJECT_DAGSTER_YAML.exists():
        shutil.copyfile(PROJECT_DAGSTER_YAML, config)
    return home


@contextmanager
def instance() -> Iterator[DagsterInstance]:
    dagster_home()
    with DagsterInstance.get() as found:
        yield found


def process_tags() -> dict[str, str]:
    """Tags naming this process, so that the next command can tell when it died."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def mark_dead_runs(dagster_instance: DagsterInstance) -> list[str]:
    """Mark failed the runs of this host whose process died (run monitoring does it where a daemon runs)."""
    host = socket.gethostname()
    marked = []
    for run in dagster_instance.get_runs(filters=RunsFilter(statuses=IN_FLIGHT, tags={HOST_TAG: host})):
        pid = (run.tags or {}).get(PID_TAG, "")
        if pid.isdigit() and not pid_alive(int(pid)):
            dagster_instance.report_run_failed(run, f"its process (pid {pid} on {host}) died")
            if dagster_instance.event_log_storage.supports_global_concurrency_limits:
                # what the daemon's run monitoring does for finished runs: give back their pool slots
                dagster_instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            marked.append(run.run_id)
    return marked


# ---------------------------------------------------------------------------
# What a run did
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckLine:
    asset: str
    name: str
    passed: bool
    severity: str
    description: str

    @classmethod
    def of(cls, data: Any) -> CheckLine:
        """From Dagster's AssetCheckEvaluation."""
        return cls(data.asset_key.to_user_string(), data.check_name, data.passed, data.severity.value,
                   data.description or "")

    def __str__(self) -> str:
        return check_text(self.asset, self.name, self.passed, self.severity, self.description)


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    success: bool
    failure: str | None  # the step that failed first and its innermost cause
    checks: list[CheckLine]

    @property
    def reason(self) -> str:
        return self.failure or "the run failed (see the Dagster UI for details)"


def _failure_line(step_key: str | None, error: object, evaluations: list[tuple[str | None, CheckLine]]) -> str:
    """The step that failed and its innermost cause; a blocking check only when it is what failed."""
    if step_key and getattr(error, "cls_name", "") == "DagsterAssetCheckFailedError":
        failed = [line for step, line in evaluations if step == step_key and not line.passed
                  and line.severity == "ERROR"]
        if failed:
            return "; ".join(f"check {c.asset} {c.name} failed: {c.description}" for c in failed)
    cause = innermost_cause(error) if error is not None else "failed"
    return f"{step_key}: {cause}" if step_key else cause


def run_outcome(dagster_instance: DagsterInstance, run_id: str) -> RunOutcome:
    run = dagster_instance.get_run_by_id(run_id)
    evaluations: list[tuple[str | None, CheckLine]] = []
    first_failure: tuple[str | None, object] | None = None
    run_failure: object = None
    for record in dagster_instance.get_records_for_run(run_id, limit=100_000).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_FAILURE and first_failure is None:
            first_failure = (event.step_key, event.step_failure_data.error)
        elif event.event_type == DagsterEventType.RUN_FAILURE and run_failure is None:
            run_failure = getattr(event.event_specific_data, "error", None) or event.message
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluations.append((event.step_key, CheckLine.of(event.asset_check_evaluation_data)))
    success = run is not None and run.status == DagsterRunStatus.SUCCESS
    failure = None
    if not success:
        if first_failure is not None:
            failure = _failure_line(*first_failure, evaluations)
        elif isinstance(run_failure, str):
            failure = run_failure
        elif run_failure is not None:
            failure = innermost_cause(run_failure)
    checks = sorted((line for _, line in evaluations), key=lambda c: (c.asset, c.name))
    return RunOutcome(run_id, success, failure, checks)


def latest_checks(dagster_instance: DagsterInstance, ts: str) -> list[CheckLine]:
    """The latest evaluation of every check for partition `ts`, from the instance's runs."""
    found: dict[tuple[str, str], CheckLine] = {}
    for run in dagster_instance.get_runs(filters=RunsFilter(tags={PARTITION_TAG: ts})):  # newest first
        records = dagster_instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        for record in records:
            data = record.event_log_entry.dagster_event.asset_check_evaluation_data
            key = (data.asset_key.to_user_string(), data.check_name)
            if key not in found:
                found[key] = CheckLine.of(data)
    return [found[key] for key in sorted(found)]


# ---------------------------------------------------------------------------
# Following a run
# ---------------------------------------------------------------------------


def _progress_line(record: object) -> str | None:
    entry = record.event_log_entry  # type: ignore[attr-defined]
    event = entry.dagster_event
    step = f"{entry.step_key}: " if entry.step_key else ""
    if event is None:
        if entry.level < logging.INFO or entry.user_message.endswith("Not executing."):
            return None  # Dagster's own lines for the steps skipped after a failure
        level = "" if entry.level == logging.INFO else f"{logging.getLevelName(entry.level)} "
        return f"{level}{step}{entry.user_message}"
    if event.event_type == DagsterEventType.STEP_FAILURE:
        return f"{step}FAILED: {innermost_cause(event.step_failure_data.error)}"
    if event.event_type == DagsterEventType.ENGINE_EVENT and POOL_BLOCKED in (event.message or ""):
        return f"{step}waiting: {event.message}"
    if event.event_type == DagsterEventType.RUN_ENQUEUED:
        return "queued (the instance's run queue starts it)"
    return None


def follow(dagster_instance: DagsterInstance, run_id: str, emit: Callable[[str], None],
           done: threading.Event) -> None:
    """Print the run's log lines as they arrive, until `done` is set and everything is printed."""
    cursor = None
    while True:
        finished = done.is_set()
        connection = dagster_instance.get_records_for_run(run_id, cursor=cursor)
        for record in connection.records:
            line = _progress_line(record)
            if line:
                emit(line)
        cursor = connection.cursor
        if finished and not connection.has_more:
            return
        if not connection.has_more:
            time.sleep(POLL_SECONDS)


# ---------------------------------------------------------------------------
# Starting a run
# ---------------------------------------------------------------------------


@contextmanager
def _code_location(dagster_instance: DagsterInstance) -> Iterator[tuple[Any, Any]]:
    """The workspace with the code location loaded in this process, named as workspace.yaml names it."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=CODE_MODULE,
                             working_directory=str(PROJECT_ROOT)),
        location_name=LOCATION_NAME,
    )
    with WorkspaceProcessContext(dagster_instance, InProcessWorkspaceLoadTarget(origin)) as context:
        workspace = context.create_request_context()
        yield workspace, workspace.get_code_location(LOCATION_NAME)


def hosts_runs_here(dagster_instance: DagsterInstance) -> bool:
    """Whether a submitted run starts at once in this process (the local instance) or is queued."""
    from dagster._core.run_coordinator import DefaultRunCoordinator

    from bravo_pipeline.launcher import LocalRunLauncher

    return (isinstance(dagster_instance.run_launcher, LocalRunLauncher)
            and isinstance(dagster_instance.run_coordinator, DefaultRunCoordinator))


def _check_launchable(dagster_instance: DagsterInstance) -> None:
    from dagster._core.run_coordinator import DefaultRunCoordinator

    if isinstance(dagster_instance.run_coordinator, DefaultRunCoordinator) and not hosts_runs_here(dagster_instance):
        raise RunnerError(
            f"{dagster_home() / 'dagster.yaml'} starts runs with neither a queue nor the project's launcher: "
            "add `run_launcher: {module: bravo_pipeline.launcher, class: LocalRunLauncher}` (see dagster.yaml)"
        )


class RunnerError(Exception):
    """The instance cannot run the CLI's runs as configured."""


def launch(
    dagster_instance: DagsterInstance,
    job_name: str,
    ts: str | None,
    *,
    asset_selection: Sequence[AssetKey] | None = None,
    op_config: Mapping[str, Mapping[str, object]] | None = None,
    emit: Callable[[str], None] = print,
    guard: AbstractContextManager[object] | None = None,
) -> RunOutcome:
    """Create a run of `job_name` (for partition `ts`), submit it to the instance, follow it to its end.

    `guard` is held while the run is created and submitted: a run the local
    instance starts at once runs inside it; a queued run only waits behind it.
    """
    from dagster._core.definitions.selector import JobSubsetSelector

    from bravo_pipeline.definitions import checks_in_runs
    from bravo_pipeline.launcher import host_here

    _check_launchable(dagster_instance)
    mark_dead_runs(dagster_instance)
    run_config: dict[str, object] = dict(QUIET_CONSOLE)
    if op_config:
        run_config["ops"] = {op: {"config": dict(config)} for op, config in op_config.items()}
    tags = {**process_tags(), **({PARTITION_TAG: ts} if ts is not None else {})}
    keys = list(asset_selection) if asset_selection is not None else None
    checks = checks_in_runs(keys) if keys is not None else None
    with _code_location(dagster_instance) as (workspace, location):
        repository = next(iter(location.get_repositories().values()))
        selector = JobSubsetSelector(location_name=LOCATION_NAME, repository_name=repository.name,
                                     job_name=job_name, op_selection=None, asset_selection=keys,
                                     asset_check_selection=checks)
        remote_job = location.get_job(selector)
        plan = location.get_execution_plan(remote_job, run_config, step_keys_to_execute=None, known_state=None,
                                           instance=dagster_instance)
        done = threading.Event()
        with guard if guard is not None else nullcontext():
            if ts is not None:
                register_partition(dagster_instance, ts)
            run = dagster_instance.create_run(
                job_name=job_name, run_id=None, run_config=run_config, resolved_op_selection=None,
                step_keys_to_execute=None, op_selection=None, status=None, root_run_id=None,
                parent_run_id=None, tags={**remote_job.tags, **tags}, job_snapshot=remote_job.job_snapshot,
                execution_plan_snapshot=plan.execution_plan_snapshot,
                parent_job_snapshot=remote_job.parent_job_snapshot,
                remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
                asset_selection=frozenset(keys) if keys is not None else None,
                asset_check_selection=frozenset(checks) if checks is not None else None,
                asset_graph=repository.asset_graph,
            )
            watcher = threading.Thread(target=follow, args=(dagster_instance, run.run_id, emit, done), daemon=True)
            watcher.start()
            try:
                host_here(run.run_id)
                dagster_instance.submit_run(run.run_id, workspace)  # the local instance: runs to its end here
            except BaseException:
                done.set()
                watcher.join(timeout=30)
                raise
        try:
            while dagster_instance.get_run_by_id(run.run_id).status not in FINISHED:  # queued, runs elsewhere
                time.sleep(POLL_SECONDS * 4)
        finally:
            done.set()
            watcher.join(timeout=30)
    return run_outcome(dagster_instance, run.run_id)
