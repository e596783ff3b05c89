"""Retention: which local exports to delete, and deleting one export's local artifacts safely.

`plan_cleanup` is pure (no I/O): the caller lists the exports, reads the promoted
version, and decides. `delete_local` removes everything of one export, each
stage folder leaving the published names in one rename first, so a crash at
any point leaves the export complete and listed, or gone.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.names import staged_dump_pattern
from bravo_pipeline.timestamps import timestamp_datetime, validate_timestamp

_DURATION = re.compile(r"^([0-9]+)([dhmw])$")
_UNITS: dict[str, timedelta] = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
# Deletion order: what does not make an export listed first, raw/<ts>/ last.
_DELETE_ORDER: dict[str, int] = {"report": 0, "temp": 1, "log": 2, "transformed": 3, "raw": 4}


def parse_duration(text: str) -> timedelta:
    """`7d`, `12h`, `30m`, `2w` → timedelta."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}: use a number followed by d, h, m or w, e.g. 7d or 12h"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_duration(value: timedelta) -> str:
    """The shortest of `14d`, `12h`, `30m` that is exact (seconds are dropped)."""
    minutes = int(value.total_seconds() // 60)
    if minutes and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


# ---------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanupPlan:
    delete: list[str]  # oldest first
    kept: dict[str, str]  # ts → why it is kept, newest first


def _keep_reason(
    position: int, ts: str, *, cutoff: datetime, older_than: timedelta, keep: int, protected: set[str]
) -> str | None:
    if position == 0:
        return "newest"
    if ts in protected:
        return "promoted"
    if position < keep:
        return f"within --keep {keep}"
    if timestamp_datetime(ts) >= cutoff:
        return f"younger than {format_duration(older_than)}"
    return None


def plan_cleanup(
    local_timestamps: list[str],
    *,
    now: datetime,
    older_than: timedelta,
    keep: int,
    protected: set[str],
) -> CleanupPlan:
    """Delete exports older than `now - older_than`.

    Kept whatever their age: the newest, the protected (the promoted version), the `keep` newest.
    """
    if keep < 0:
        raise ValueError(f"--keep must be 0 or more, not {keep}")
    if older_than < timedelta(0):
        raise ValueError("--older-than must not be negative")
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    cutoff = moment - older_than
    newest_first = sorted({validate_timestamp(ts) for ts in local_timestamps}, reverse=True)
    kept: dict[str, str] = {}
    delete: list[str] = []
    for position, ts in enumerate(newest_first):
        reason = _keep_reason(
            position, ts, cutoff=cutoff, older_than=older_than, keep=keep, protected=protected
        )
        if reason is None:
            delete.append(ts)
        else:
            kept[ts] = reason
    return CleanupPlan(delete=sorted(delete), kept=kept)


# ---------------------------------------------------------------------------
# Local artifacts of one export
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    kind: str  # raw, transformed, log, temp, report
    path: Path
    size_bytes: int


def _size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(folder) / name).lstat().st_size
            except FileNotFoundError:
                continue
    return total


def _candidates(layout: ExportsLayout, ts: str) -> list[tuple[str, Path]]:
    found = [
        ("raw", layout.stage_dir("raw", ts)),
        ("transformed", layout.stage_dir("transformed", ts)),
        ("log", layout.log_path(ts)),
    ]
    found += [("temp", path) for path in sorted(layout.temp_dir.glob(staged_dump_pattern(ts)))]
    found += [("report", path) for path in sorted(layout.reports_dir.glob(f"*{ts}*"))]
    return found


def local_artifacts(layout: ExportsLayout, ts: str) -> list[Artifact]:
    """Everything of export `ts` on local disk (folders with their summed size)."""
    validate_timestamp(ts)
    return [
        Artifact(kind, path, _size(path))
        for kind, path in _candidates(layout, ts)
        if path.exists() or path.is_symlink()
    ]


# ---------------------------------------------------------------------------
# Deleting
# ---------------------------------------------------------------------------


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _delete(layout: ExportsLayout, artifact: Artifact, ts: str) -> None:
    if artifact.kind in ("raw", "transformed"):
        layout.unpublish(artifact.kind, ts)  # type: ignore[arg-type]
    else:
        _remove(artifact.path)


def delete_local(layout: ExportsLayout, ts: str) -> list[Artifact]:
    """Delete every local artifact of export `ts`; returns what was deleted.

    Order: comparison reports, temp files, the log, transformed/<ts>/, then
    raw/<ts>/. Each stage folder leaves the published names in one rename before
    it is removed, so a crash at any point leaves the export either listed and
    complete, or not listed at all; until raw/<ts>/ goes, cleanup runs again.
    """
    artifacts = sorted(local_artifacts(layout, ts), key=lambda item: _DELETE_ORDER[item.kind])
    for artifact in artifacts:
        _delete(layout, artifact, ts)
    return artifacts
