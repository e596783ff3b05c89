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

from bravo_pipeline.timestamps import validate_timestamp
from bravo_pipeline.uris import known_secrets, scrub

PARTITION_TAG = "dagster/partition"


def format_line(moment: datetime, level: str, message: str) -> str:
    return f"[{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC] {level} {message}\n"


def append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)


class PartitionLogFileHandler(logging.Handler):
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
        step = meta.get("step_key")
        message = str(meta.get("orig_message") or record.getMessage())
        event = meta.get("dagster_event")
        if event is not None and not message:
            message = event.event_type_value
        text = f"{step}: {message}" if step else message
        if self._secrets is None:
            self._secrets = known_secrets()
        text = scrub(text, self._secrets)
        root = Path(os.environ.get("BRAVO_EXPORTS_DIR") or "exports").resolve()
        try:
            append_line(
                root / "logs" / f"pipeline_{ts}.log",
                format_line(datetime.fromtimestamp(record.created, UTC), record.levelname, text),
            )
        except OSError:
            self.handleError(record)
