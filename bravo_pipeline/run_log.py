"""Every log line of every run for a timestamp also goes to `exports/logs/pipeline_<ts>.log`.

Installed through the instance's `python_logs.dagster_handler_config` (see
dagster.yaml), so runs launched from the UI, the CLI or the daemon all write it.
The partition comes from the run's tags, which Dagster attaches to each record.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.timestamps import validate_timestamp
from bravo_pipeline.uris import known_secrets, scrub

PARTITION_TAG = "dagster/partition"


def format_line(moment: datetime, level: str, message: str) -> str:
    return f"[{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC] {level} {message}\n"


def append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)


def innermost_cause(error: object) -> str:
    """The first line of the innermost cause of a Dagster SerializableErrorInfo, without its class name."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    message = (getattr(error, "message", "") or "").strip()
    line = message.splitlines()[0] if message else "an error"
    kind, sep, text = line.partition(": ")
    cls_name = getattr(error, "cls_name", None) or ""
    return text if sep and cls_name and kind.endswith(cls_name) else line


def check_text(asset: str, name: str, passed: bool, severity: str, description: str) -> str:
    """`raw/export_summary raw_completeness: passed` (or warning / FAILED, with the description)."""
    if passed:
        return f"{asset} {name}: passed"
    return f"{asset} {name}: {'warning' if severity == 'WARN' else 'FAILED'} - {description}"


def check_line(data: Any) -> str:
    """check_text of Dagster's AssetCheckEvaluation."""
    return check_text(data.asset_key.to_user_string(), data.check_name, data.passed, data.severity.value,
                      data.description or "")


def _requested(run_id: str) -> str:
    """What a run was asked to materialize, from the instance (best effort: the line is for people)."""
    try:
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            run = instance.get_run_by_id(run_id)
    except Exception:  # the log line goes out without it
        return ""
    if run is None or not run.asset_selection:
        return ""
    groups: dict[str, int] = {}
    for key in run.asset_selection:
        groups[key.path[0]] = groups.get(key.path[0], 0) + 1
    keys = sorted(key.to_user_string() for key in run.asset_selection)
    shown = [name for name in keys if groups[name.split("/")[0]] <= 2]
    shown += [f"{group} ({count} assets)" for group, count in sorted(groups.items()) if count > 2]
    return ", requested: " + ", ".join(sorted(shown))


RUN_EVENTS = {"PIPELINE_START", "PIPELINE_SUCCESS", "PIPELINE_FAILURE", "PIPELINE_CANCELED",
              "STEP_FAILURE", "ASSET_CHECK_EVALUATION"}


def event_line(event: object, meta: dict) -> str | None:
    """The log file's line for a Dagster event, or None for events the file leaves out."""
    kind = getattr(event, "event_type_value", "")
    run_id, job = meta.get("run_id", ""), meta.get("job_name", "")
    if kind == "PIPELINE_START":
        return f"run {run_id} started: {job}{_requested(run_id)}"
    if kind == "PIPELINE_SUCCESS":
        return f"run {run_id} ended: success"
    if kind == "PIPELINE_CANCELED":
        return f"run {run_id} ended: canceled"
    if kind == "PIPELINE_FAILURE":
        error = getattr(getattr(event, "event_specific_data", None), "error", None)
        return f"run {run_id} ended: failed" + (f" ({innermost_cause(error)})" if error is not None else "")
    if kind == "STEP_FAILURE":
        return f"FAILED: {innermost_cause(event.step_failure_data.error)}"  # type: ignore[attr-defined]
    if kind == "ASSET_CHECK_EVALUATION":
        return f"check {check_line(event.asset_check_evaluation_data)}"  # type: ignore[attr-defined]
    return None


def _event_level(line: str) -> str:
    if line.startswith("FAILED") or " ended: failed" in line or ": FAILED - " in line:
        return "ERROR"
    return "WARNING" if ": warning - " in line else "INFO"


class PartitionLogFileHandler(logging.Handler):
    """Configured at level DEBUG: Dagster logs its events at DEBUG; only run boundaries,
    failures and check results among them are kept, with every INFO-and-above message."""

    _secrets: set[str] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None)
        if not meta:
            return
        ts = (meta.get("job_tags") or {}).get(PARTITION_TAG)
        try:
            validate_timestamp(ts)
        except ValueError:
            return
        event = meta.get("dagster_event")
        if event is not None:
            if getattr(event, "event_type_value", "") not in RUN_EVENTS:
                return
            message = event_line(event, meta) or ""
        elif record.levelno < logging.INFO:
            return
        else:
            message = str(meta.get("orig_message") or record.getMessage())
        is_check = event is not None and event.event_type_value == "ASSET_CHECK_EVALUATION"
        step = None if is_check else meta.get("step_key")
        text = f"{step}: {message}" if step else message
        if self._secrets is None:
            self._secrets = known_secrets()
        text = scrub(text, self._secrets)
        root = Path(os.environ.get("BRAVO_EXPORTS_DIR") or "exports").resolve()
        level = _event_level(message) if event is not None else record.levelname
        try:
            append_line(ExportsLayout(root).log_path(ts),
                        format_line(datetime.fromtimestamp(record.created, UTC), level, text))
        except OSError:
            self.handleError(record)
