"""Deterministic tarballs of one stage folder, and extraction that cannot escape its folder.

`build_tarball` writes `raw/<ts>/` (or `transformed/<ts>/`) as a tar.gz whose
only top-level entry is `<ts>/`: members sorted by path, every timestamp 0,
owner 0:0 without names, gzip header without name or mtime. The same folder
always gives byte-identical tarballs. Files are streamed, never held in memory.

`safe_extract` accepts only plain files and folders under `<ts>/` and writes
them into a hidden staging folder beside the target, renamed into place at the
end: the result is `<target_parent>/<ts>/` complete, or nothing at all.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bravo_pipeline.hashing import HashingWriter
from bravo_pipeline.timestamps import validate_timestamp

COPY_BUFFER = 1 << 20
_STAGING_MARK = ".partial-"  # the staging name ExportsLayout sweeps when its process died


@dataclass(frozen=True)
class TarballInfo:
    path: Path
    size_bytes: int
    sha256: str


def _members(stage_dir: Path) -> list[tuple[str, Path]]:
    """(archive name, path) of the folder and everything under it, sorted by archive name."""
    top = stage_dir.name
    found = [(top, stage_dir)]
    for path in stage_dir.rglob("*"):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise ValueError(f"{path}: not a plain file or folder; refusing to archive it")
        found.append((f"{top}/{path.relative_to(stage_dir).as_posix()}", path))
    return sorted(found)


def _tar_info(name: str, path: Path) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_dir():
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.type = tarfile.REGTYPE
        info.mode = 0o644
        info.size = path.stat().st_size
    return info


def build_tarball(stage_dir: Path, out: Path) -> TarballInfo:
    """Write `stage_dir` (named `<ts>`) as a deterministic tar.gz at `out`."""
    validate_timestamp(stage_dir.name)
    if not stage_dir.is_dir():
        raise FileNotFoundError(f"{stage_dir}: no such folder to archive")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with out.open("wb") as raw:
            hashing = HashingWriter(raw)
            with (
                gzip.GzipFile(filename="", mode="wb", fileobj=hashing, mtime=0) as zipped,  # type: ignore[arg-type]
                tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
            ):
                for name, path in _members(stage_dir):
                    info = _tar_info(name, path)
                    if info.isdir():
                        tar.addfile(info)
                        continue
                    with path.open("rb") as handle:
                        tar.addfile(info, handle)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return TarballInfo(out, hashing.size, hashing.hexdigest())


def _member_path(member: tarfile.TarInfo, expected_ts: str, tarball: Path) -> PurePosixPath:
    """The member's path relative to `<ts>/`; ValueError when it is not a safe member."""
    name = member.name
    label = f"{tarball.name}: refusing member {name!r}"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"{label}: absolute path")
    parts = PurePosixPath(name).parts
    if ".." in parts or "\\" in name:
        raise ValueError(f"{label}: path escapes the export folder")
    if not member.isfile() and not member.isdir():
        kind = "symlink" if member.issym() else "hardlink" if member.islnk() else "special file"
        raise ValueError(f"{label}: {kind} (only plain files and folders are allowed)")
    if not parts or parts[0] != expected_ts:
        raise ValueError(f"{label}: top-level folder is not {expected_ts}/")
    if len(parts) == 1 and not member.isdir():
        raise ValueError(f"{label}: {expected_ts} must be a folder")
    return PurePosixPath(*parts[1:]) if len(parts) > 1 else PurePosixPath(".")


def _extract_into(tarball: Path, expected_ts: str, staging: Path) -> None:
    with tarfile.open(tarball, mode="r:gz") as tar:
        for member in tar:
            relative = _member_path(member, expected_ts, tarball)
            destination = staging / relative
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                raise ValueError(f"{tarball.name}: member {member.name!r} has no data")
            with source, destination.open("wb") as handle:
                shutil.copyfileobj(source, handle, COPY_BUFFER)


def safe_extract(
    tarball: Path, expected_ts: str, target_parent: Path, *, required_file: str | None = None
) -> Path:
    """Extract `tarball` (top folder `<expected_ts>/`) to `<target_parent>/<expected_ts>/`.

    Refuses (ValueError, one line naming the member) anything but plain files and
    folders under `<expected_ts>/`. With `required_file`, the tarball must hold that
    file at its top. The target appears complete, or not at all.
    """
    ts = validate_timestamp(expected_ts)
    target = target_parent / ts
    if target.exists():
        raise FileExistsError(f"{target} already exists; not extracting {tarball.name} over it")
    target_parent.mkdir(parents=True, exist_ok=True)
    staging = target_parent / f".{ts}{_STAGING_MARK}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        try:
            _extract_into(tarball, ts, staging)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ValueError(f"{tarball.name}: not a valid tar.gz ({message})") from None
        if required_file is not None and not (staging / required_file).is_file():
            raise ValueError(f"{tarball.name}: no {ts}/{required_file} in the tarball")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
