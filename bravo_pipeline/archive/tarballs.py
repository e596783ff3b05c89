"""Deterministic tarballs of one stage folder, and extraction that checks every member.

`build_tarball` writes `raw/<ts>/` (or `transformed/<ts>/`) as a tar.gz whose
only top-level entry is `<ts>/`: the summary first (so a reader knows what to
expect before any data), then the other files sorted by name; every timestamp
0, owner 0:0 without names, gzip header without name or mtime, compressed by
ISA-L (`isal`: standard gzip, read by `tar xzf` and any gzip reader). The same
folder always gives byte-identical tarballs on a host. Files are streamed, never held in memory.

`extract_stage` treats the tarball as untrusted: it reads the stage's summary
from it first, then accepts only the files that summary lists (each once, with
the recorded size and sha256, so the extracted size is bounded by the
summary's totals), as plain files directly under `<ts>/`. Everything is written
into a hidden staging folder beside the target and renamed into place at the
end: the result is `<target_parent>/<ts>/` complete and verified, or nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from isal import igzip

from bravo_pipeline.durable import EarlyWriteback, fsync_tree, rename_durably
from bravo_pipeline.hashing import HashingWriter
from bravo_pipeline.integrity import (
    MAX_SUMMARY_BYTES,
    FileDigest,
    IntegrityError,
    Manifest,
    VerifiedReader,
    check_seal,
    expected_digest,
    manifest,
    mismatch,
    parse_summary,
)
from bravo_pipeline.layout import SUMMARY_FILES, Stage, staging_name, sweep_hidden
from bravo_pipeline.names import SCHEMA_FILE, printable
from bravo_pipeline.timestamps import validate_timestamp

COPY_BUFFER = 1 << 20
# ISA-L's gzip at level 2: about 20x zlib's level 9 here, files about 1.13x its size (make bench).
ARCHIVE_GZIP_LEVEL = 2


@dataclass(frozen=True)
class TarballInfo:
    path: Path
    size_bytes: int
    sha256: str


_LEADING_FILES = (*SUMMARY_FILES.values(), SCHEMA_FILE)  # written first, in this order


def _members(stage_dir: Path) -> list[tuple[str, Path]]:
    """(archive name, path) of the folder and its files: summary and schema first, then by name."""
    top = stage_dir.name
    files = []
    for path in stage_dir.iterdir():
        if path.is_symlink() or not path.is_file():
            raise ValueError(f"{path}: not a plain file; refusing to archive it")
        files.append(path)

    def order(path: Path) -> tuple[int, str]:
        name = path.name
        return (_LEADING_FILES.index(name) if name in _LEADING_FILES else len(_LEADING_FILES), name)

    return [(top, stage_dir), *((f"{top}/{path.name}", path) for path in sorted(files, key=order))]


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


def _verified_source(path: Path, handle: BinaryIO, contents: Manifest | None) -> VerifiedReader | BinaryIO:
    if contents is None or path.name == contents.summary_file:
        return handle
    expected = expected_digest(contents, path.name, str(path))
    return handle if expected is None else VerifiedReader(handle, expected, str(path))


def build_tarball(stage_dir: Path, out: Path, contents: Manifest | None = None) -> TarballInfo:
    """Write `stage_dir` (named `<ts>`) as a deterministic tar.gz at `out`.

    With `contents` (the folder's manifest), every file is checked against its
    summary while it is read into the tarball: a mismatch, or a file the summary
    does not list, stops the build (IntegrityError) and leaves no tarball.
    """
    validate_timestamp(stage_dir.name)
    if not stage_dir.is_dir():
        raise FileNotFoundError(f"{stage_dir}: no such folder to archive")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with out.open("wb") as raw:
            hashing = HashingWriter(raw)
            with (
                igzip.IGzipFile(filename="", mode="wb", fileobj=hashing, mtime=0,  # type: ignore[arg-type]
                                compresslevel=ARCHIVE_GZIP_LEVEL) as zipped,
                tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
            ):
                tar.copybufsize = COPY_BUFFER
                for name, path in _members(stage_dir):
                    info = _tar_info(name, path)
                    if info.isdir():
                        tar.addfile(info)
                        continue
                    with path.open("rb") as handle:
                        source = _verified_source(path, handle, contents)
                        tar.addfile(info, source)
                        if isinstance(source, VerifiedReader):
                            source.finish()
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return TarballInfo(out, hashing.size, hashing.hexdigest())


def _refuse(tarball: Path, name: str, reason: str) -> IntegrityError:
    return IntegrityError(f"{tarball.name}: refusing member {printable(name)}: {reason}")


def _member_file(member: tarfile.TarInfo, expected_ts: str, tarball: Path) -> str | None:
    """The file name of a member directly under `<ts>/`, None for the `<ts>/` folder itself."""
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise _refuse(tarball, name, "absolute path")
    parts = PurePosixPath(name).parts
    if ".." in parts or "\\" in name:
        raise _refuse(tarball, name, "path escapes the export folder")
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
        kind = "symlink" if member.issym() else "hardlink" if member.islnk() else "special file"
        raise _refuse(tarball, name, f"{kind} (only plain files are allowed)")
    if not parts or parts[0] != expected_ts:
        raise _refuse(tarball, name, f"top-level folder is not {expected_ts}/")
    if len(parts) == 1:
        if not member.isdir():
            raise _refuse(tarball, name, f"{expected_ts} must be a folder")
        return None
    if len(parts) > 2 or member.isdir():
        raise _refuse(tarball, name, "an export folder holds no subfolders")
    return parts[1]


def _open_tar(tarball: Path) -> tarfile.TarFile:
    return tarfile.open(tarball, mode="r:gz")


def _read_summary(tarball: Path, ts: str, summary_name: str) -> bytes:
    """The stage summary inside the tarball (first member in our tarballs; searched for in older ones)."""
    with _open_tar(tarball) as tar:
        for member in tar:
            if _member_file(member, ts, tarball) != summary_name:
                continue
            if member.size > MAX_SUMMARY_BYTES:
                raise _refuse(tarball, member.name, f"a summary over {MAX_SUMMARY_BYTES} bytes")
            source = tar.extractfile(member)
            assert source is not None
            with source:
                return source.read()
    raise IntegrityError(f"{tarball.name}: no {ts}/{summary_name} in the tarball")


def _expected(name: str, contents: Manifest, summary: FileDigest, tarball: Path, member_name: str) -> FileDigest:
    if name == contents.summary_file:
        return summary
    if name not in contents.files:
        raise _refuse(tarball, member_name, f"not a file of the export's {contents.summary_file}")
    recorded = contents.files[name]
    # schema.json of an export made before digests were recorded: bounded, not checked
    return recorded or FileDigest(-1, "")


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path, expected: FileDigest,
                 tarball: Path) -> None:
    if expected.size >= 0 and member.size != expected.size:
        raise _refuse(tarball, member.name, f"{member.size} bytes, the summary says {expected.size}")
    if expected.size < 0 and member.size > MAX_SUMMARY_BYTES:
        raise _refuse(tarball, member.name, f"over {MAX_SUMMARY_BYTES} bytes")
    source = tar.extractfile(member)
    if source is None:
        raise _refuse(tarball, member.name, "no data")
    with source, destination.open("wb") as handle:
        out = HashingWriter(handle)
        writeback = EarlyWriteback(handle)
        while block := source.read(COPY_BUFFER):
            out.write(block)
            writeback.wrote(out.size)
    if expected.size >= 0 and (out.size != expected.size or out.hexdigest() != expected.sha256):
        raise mismatch(f"{tarball.name}: member {member.name}", expected, out.size, out.hexdigest())


def _extract_into(tarball: Path, stage: Stage, ts: str, staging: Path) -> None:
    summary_name = SUMMARY_FILES[stage]
    summary_bytes = _read_summary(tarball, ts, summary_name)
    label = f"{tarball.name}: {ts}/{summary_name}"
    summary = parse_summary(summary_bytes, label)
    check_seal(summary, label)
    if summary.get("exportTimestamp") != ts:
        raise IntegrityError(f"{tarball.name}: {ts}/{summary_name} is the summary of another export")
    contents = manifest(stage, summary)
    summary_digest = FileDigest(len(summary_bytes), hashlib.sha256(summary_bytes).hexdigest())
    seen: set[str] = set()
    with _open_tar(tarball) as tar:
        for member in tar:
            name = _member_file(member, ts, tarball)
            if name is None:
                continue
            if name in seen:
                raise _refuse(tarball, member.name, "a second copy of a file")
            seen.add(name)
            expected = _expected(name, contents, summary_digest, tarball, member.name)
            _copy_member(tar, member, staging / name, expected, tarball)
    missing = sorted({*contents.files, summary_name} - seen)
    if missing:
        raise IntegrityError(f"{tarball.name}: the tarball lacks {', '.join(printable(m) for m in missing)}")


def extract_stage(tarball: Path, stage: Stage, expected_ts: str, target_parent: Path) -> Path:
    """Extract a stage tarball (top folder `<expected_ts>/`) to `<target_parent>/<expected_ts>/`, verified.

    Raises IntegrityError (one line naming the member) for anything but the files
    the export's own summary lists, with their recorded sizes and digests. The
    target appears complete, or not at all.
    """
    ts = validate_timestamp(expected_ts)
    target = target_parent / ts
    if target.exists():
        raise FileExistsError(f"{target} already exists; not extracting {tarball.name} over it")
    target_parent.mkdir(parents=True, exist_ok=True)
    sweep_hidden(target_parent)
    staging = target_parent / staging_name(ts)
    staging.mkdir()
    try:
        try:
            _extract_into(tarball, stage, ts, staging)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise IntegrityError(f"{tarball.name}: not a valid tar.gz ({message})") from None
        fsync_tree(staging)
        rename_durably(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
