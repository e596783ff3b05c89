"""Where exports live under the exports root, and how a stage folder appears atomically.

A stage folder (`raw/<ts>/`, `transformed/<ts>/`) is written under a hidden
staging name in the same parent, then renamed into place; its summary file is
written last. A reader treats a folder without its summary as absent. Staging
folders of processes that died are swept on the next write.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bravo_pipeline.names import (
    EXPORT_SUMMARY_FILE,
    LOGS_DIR,
    REPORTS_DIR,
    TEMP_DIR,
    TRANSFORMATION_SUMMARY_FILE,
    table_filename,
)
from bravo_pipeline.timestamps import validate_timestamp

Stage = Literal["raw", "transformed"]
SUMMARY_FILES: dict[str, str] = {
    "raw": EXPORT_SUMMARY_FILE,
    "transformed": TRANSFORMATION_SUMMARY_FILE,
}
_STAGING_MARK = ".partial-"
_RENAME_EXCHANGE = 2


class ExportExistsError(RuntimeError):
    pass


class ExportMissingError(RuntimeError):
    pass


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE). False if unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ExportsLayout:
    root: Path

    def stage_dir(self, stage: Stage, ts: str) -> Path:
        return self.root / stage / validate_timestamp(ts)

    def summary_path(self, stage: Stage, ts: str) -> Path:
        return self.stage_dir(stage, ts) / SUMMARY_FILES[stage]

    def is_complete(self, stage: Stage, ts: str) -> bool:
        return self.summary_path(stage, ts).is_file()

    def require_complete(self, stage: Stage, ts: str) -> Path:
        if not self.is_complete(stage, ts):
            label = "raw export" if stage == "raw" else "transformed export"
            raise ExportMissingError(f"{label} {ts} is incomplete or missing")
        return self.stage_dir(stage, ts)

    def table_path(self, ts: str, table: str) -> Path:
        """The file of one source table in `raw/<ts>/` (names.table_filename)."""
        return self.stage_dir("raw", ts) / table_filename(table)

    @property
    def temp_dir(self) -> Path:
        """Work files: staged dumps, tarballs being built or downloaded."""
        return self.root / TEMP_DIR

    @property
    def reports_dir(self) -> Path:
        return self.root / REPORTS_DIR

    def log_path(self, ts: str) -> Path:
        return self.root / LOGS_DIR / f"pipeline_{validate_timestamp(ts)}.log"

    def timestamps(self, stage: Stage) -> list[str]:
        """Complete exports of a stage, oldest first."""
        folder = self.root / stage
        if not folder.is_dir():
            return []
        found = []
        for entry in folder.iterdir():
            if entry.name.startswith("."):
                continue
            try:
                validate_timestamp(entry.name)
            except ValueError:
                continue
            if (entry / SUMMARY_FILES[stage]).is_file():
                found.append(entry.name)
        return sorted(found)

    def begin_staging(self, stage: Stage, ts: str) -> Path:
        """A fresh empty hidden folder beside the target, to write a stage into."""
        target = self.stage_dir(stage, ts)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._sweep_dead_staging(target.parent)
        staging = target.parent / f".{target.name}{_STAGING_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        return staging

    @staticmethod
    def abandon(staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def publish(self, staging: Path, stage: Stage, ts: str, *, replace: bool) -> Path:
        """Rename a written staging folder into place.

        With `replace`, an existing folder is swapped out atomically and then removed;
        without, an existing complete folder is an error and the staging folder is removed.
        """
        target = self.stage_dir(stage, ts)
        if not (staging / SUMMARY_FILES[stage]).is_file():
            shutil.rmtree(staging, ignore_errors=True)
            raise ExportMissingError(f"{stage} export {ts} was not finished (no summary written)")
        if target.exists():
            if not replace and self.is_complete(stage, ts):
                shutil.rmtree(staging, ignore_errors=True)
                raise ExportExistsError(
                    f"{stage} export {ts} already exists at {target}; it is never overwritten"
                )
            if _exchange(staging, target):
                shutil.rmtree(staging)
                return target
            shutil.rmtree(target)
        staging.rename(target)
        return target

    def check_absent(self, stage: Stage, ts: str) -> None:
        if self.is_complete(stage, ts):
            raise ExportExistsError(
                f"{stage} export {ts} already exists at {self.stage_dir(stage, ts)}; "
                "it is never overwritten (take a new export with a new timestamp)"
            )

    @staticmethod
    def _sweep_dead_staging(parent: Path) -> None:
        for entry in parent.glob(f".*{_STAGING_MARK}*"):
            pid_text = entry.name.rsplit(_STAGING_MARK, 1)[1].split("-", 1)[0]
            if pid_text.isdigit() and not _pid_alive(int(pid_text)):
                shutil.rmtree(entry, ignore_errors=True)
