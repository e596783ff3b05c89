"""Where exports live under the exports root, and how a stage folder appears atomically.

A stage folder (`raw/<ts>/`, `transformed/<ts>/`) is written under a hidden
staging name in the same parent, flushed to disk, then renamed into place; its
summary file is written last. A reader treats a folder without its summary as
absent. Deleting is the same in reverse: one rename out of the published names,
then removal. Staging folders of processes that died, and half-deleted folders,
are swept on the next write.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bravo_pipeline.durable import fsync_path, fsync_tree, rename_durably
from bravo_pipeline.faults import checkpoint
from bravo_pipeline.names import (
    EXPORT_SUMMARY_FILE,
    LOGS_DIR,
    REPORTS_DIR,
    TEMP_DIR,
    TRANSFORMATION_SUMMARY_FILE,
    log_file,
    table_filename,
)
from bravo_pipeline.timestamps import validate_timestamp

Stage = Literal["raw", "transformed"]
SUMMARY_FILES: dict[str, str] = {
    "raw": EXPORT_SUMMARY_FILE,
    "transformed": TRANSFORMATION_SUMMARY_FILE,
}
_STAGING_MARK = ".partial-"
_DELETING_MARK = ".deleting-"
FOREIGN_STAGING_MAX_AGE_SECONDS = 24 * 3600
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


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host still exists."""
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
        return self.root / LOGS_DIR / log_file(validate_timestamp(ts))

    def previous_export(self, ts: str, elsewhere: Iterable[str] = ()) -> str | None:
        """The newest complete raw export older than `ts`: here, or among `elsewhere` (the
        timestamps complete in a shared root, which a reader pulls before it opens them)."""
        validate_timestamp(ts)
        older = [candidate for candidate in {*self.timestamps("raw"), *elsewhere} if candidate < ts]
        return max(older) if older else None

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
        self.sweep(stage)
        staging = target.parent / staging_name(target.name)
        staging.mkdir()
        return staging

    @staticmethod
    def abandon(staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def publish(self, staging: Path, stage: Stage, ts: str, *, replace: bool) -> Path:
        """Rename a written staging folder into place, its files flushed to disk first.

        With `replace`, an existing folder is swapped out atomically and then removed;
        without, an existing complete folder is an error and the staging folder is removed.
        """
        target = self.stage_dir(stage, ts)
        if not (staging / SUMMARY_FILES[stage]).is_file():
            shutil.rmtree(staging, ignore_errors=True)
            raise ExportMissingError(f"{stage} export {ts} was not finished (no summary written)")
        fsync_tree(staging)
        if target.exists():
            if not replace and self.is_complete(stage, ts):
                shutil.rmtree(staging, ignore_errors=True)
                raise ExportExistsError(
                    f"{stage} export {ts} already exists at {target}; it is never overwritten"
                )
            if _exchange(staging, target):
                fsync_path(target.parent)
                shutil.rmtree(staging)
                return target
            self._remove_hidden(target)
        rename_durably(staging, target)
        return target

    def unpublish(self, stage: Stage, ts: str) -> bool:
        """Take `<stage>/<ts>/` out of the published names in one rename, then delete it.

        A crash at any point leaves the export either complete and listed, or not
        listed at all (a hidden folder that the next sweep removes). False if absent.
        """
        target = self.stage_dir(stage, ts)
        if not target.exists():
            return False
        self._remove_hidden(target)
        return True

    def _remove_hidden(self, folder: Path) -> None:
        hidden = folder.parent / f".{folder.name}{_DELETING_MARK}{_owner_mark()}"
        rename_durably(folder, hidden)
        checkpoint("unpublish:renamed")
        shutil.rmtree(hidden, ignore_errors=True)

    def check_absent(self, stage: Stage, ts: str) -> None:
        if self.is_complete(stage, ts):
            raise ExportExistsError(
                f"{stage} export {ts} already exists at {self.stage_dir(stage, ts)}; "
                "it is never overwritten (take a new export with a new timestamp)"
            )

    def sweep(self, stage: Stage) -> list[Path]:
        """Remove what dead writers left in `<stage>/`: staging folders, half-deleted folders."""
        return sweep_hidden(self.root / stage)


def staging_name(name: str) -> str:
    """A hidden name beside `name` for a writer's work in progress, swept once the writer is dead."""
    return f".{name}{_STAGING_MARK}{_owner_mark()}"


def _owner_mark() -> str:
    """pid, a random part and the host: who is writing (the sweep spares live processes of this host)."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"


def _is_dead_writer(name: str, mark: str, path: Path) -> bool:
    owner = name.rsplit(mark, 1)[1]
    pid_text, _, host = owner.partition("-")
    host = host.partition("@")[2]
    if host and host != socket.gethostname():  # another host's: only when clearly abandoned
        try:
            return time.time() - path.stat().st_mtime > FOREIGN_STAGING_MAX_AGE_SECONDS
        except FileNotFoundError:
            return False
    return not pid_text.isdigit() or not pid_alive(int(pid_text))


def sweep_hidden(parent: Path) -> list[Path]:
    """Remove dead writers' staging entries (`.<name>.partial-…`) and every `.deleting-` entry in `parent`."""
    removed = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        name = entry.name
        if not name.startswith("."):
            continue
        if _DELETING_MARK in name or (_STAGING_MARK in name and _is_dead_writer(name, _STAGING_MARK, entry)):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
