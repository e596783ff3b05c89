"""Archive exports to S3 (or any S3-compatible store) and bring them back.

Layout (shared/spec/export-format.md, "S3 layout"):

    <prefix>/raw/<YYYY-MM-DD>/<ts>-raw.tar.gz
    <prefix>/transformed/<YYYY-MM-DD>/<ts>-transformed.tar.gz
    <prefix>/metadata/<YYYY-MM-DD>/<ts>.json     written last: present = upload complete

Every error is an `ArchiveError` with one line naming the bucket (or object)
and the operation. The client retries transient failures (5xx, throttling,
dropped connections) with backoff; see `make_client`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bravo_pipeline.archive.tarballs import build_tarball, extract_stage
from bravo_pipeline.faults import checkpoint
from bravo_pipeline.integrity import IntegrityError, load_manifest, parse_summary
from bravo_pipeline.layout import ExportsLayout, Stage, staging_name, sweep_hidden
from bravo_pipeline.names import dump_database_name, printable, version_database
from bravo_pipeline.timestamps import iso_utc, timestamp_date, validate_timestamp

DEFAULT_PREFIX = "postgres-exports"
MAX_ATTEMPTS = 8
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 120
TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=64 * 1024 * 1024,
    multipart_chunksize=64 * 1024 * 1024,
    max_concurrency=4,
)
HASH_BUFFER = 1 << 20
MAX_METADATA_BYTES = 1 << 20
COLLECTION = "campaigns"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_STAGES: tuple[Stage, ...] = ("raw", "transformed")
_MISSING_BUCKET = {"NoSuchBucket", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId"}
_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}


class ArchiveError(RuntimeError):
    """An S3 archive problem, worded for the user (one line)."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", self.prefix.strip("/"))

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    def stage_key(self, stage: Stage, ts: str) -> str:
        day = timestamp_date(ts).isoformat()
        return self._key(stage, day, f"{ts}-{stage}.tar.gz")

    def raw_key(self, ts: str) -> str:
        return self.stage_key("raw", ts)

    def transformed_key(self, ts: str) -> str:
        return self.stage_key("transformed", ts)

    def metadata_key(self, ts: str) -> str:
        return self._key("metadata", timestamp_date(ts).isoformat(), f"{ts}.json")

    @property
    def metadata_prefix(self) -> str:
        return self._key("metadata") + "/"


@dataclass(frozen=True)
class StageArchive:
    """One stage tarball in S3 (or, in a dry run, what would be uploaded)."""

    stage: Stage
    key: str
    size_bytes: int  # tarball size; in a dry run the folder's uncompressed size
    sha256: str | None  # None in a dry run
    collections: tuple[str, ...] = ()  # data files of the stage (table/collection names)


@dataclass(frozen=True)
class RemoteExport:
    ts: str
    metadata_key: str
    raw_size_bytes: int
    transformed_size_bytes: int | None
    uploaded_at: str | None
    metadata: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def size_bytes(self) -> int:
        return self.raw_size_bytes + (self.transformed_size_bytes or 0)

    @property
    def has_transformed(self) -> bool:
        return self.transformed_size_bytes is not None


# ---------------------------------------------------------------------------
# Client and errors
# ---------------------------------------------------------------------------


def make_client(endpoint_url: str | None, region: str | None = None) -> Any:
    """A boto3 S3 client that retries transient failures (5xx, throttling, dropped connections)."""
    config = Config(
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        # S3-compatible endpoints (MinIO, moto, Ceph) rarely resolve bucket subdomains.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def _client_error(error: BaseException) -> ClientError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ClientError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _one_line(text: object) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def archive_error(
    error: BaseException, location: S3Location, operation: str, key: str | None = None
) -> ArchiveError:
    """Word an S3/botocore failure as one line naming the bucket (or object) and the operation."""
    client_error = _client_error(error)
    where = f"s3://{location.bucket}/{key}" if key else f"s3://{location.bucket}"
    if client_error is None:
        return ArchiveError(f"{where}: {_one_line(error) or type(error).__name__} ({operation})")
    code = str(client_error.response.get("Error", {}).get("Code", ""))
    message = _one_line(client_error.response.get("Error", {}).get("Message", "")) or code
    if code in _MISSING_BUCKET and (key is None or code == "NoSuchBucket"):
        return ArchiveError(f"s3://{location.bucket}: bucket does not exist ({operation})")
    if code in _DENIED:
        return ArchiveError(f"s3://{location.bucket}: access denied ({operation})")
    if key is not None and code in _MISSING_KEY:
        return ArchiveError(f"{where}: object does not exist ({operation})")
    return ArchiveError(f"{where}: {code}: {message} ({operation})")


_FAILURES = (ClientError, BotoCoreError, Boto3Error)


def check_bucket(client: Any, location: S3Location, operation: str) -> None:
    try:
        client.head_bucket(Bucket=location.bucket)
    except _FAILURES as error:
        raise archive_error(error, location, operation) from None


def _object_exists(client: Any, location: S3Location, key: str, operation: str) -> bool:
    try:
        client.head_object(Bucket=location.bucket, Key=key)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code", "")) in _MISSING_KEY:
            return False
        raise archive_error(error, location, operation, key) from None
    except (BotoCoreError, Boto3Error) as error:
        raise archive_error(error, location, operation, key) from None
    return True


# ---------------------------------------------------------------------------
# Upload: one composition, used by the pipeline (IO manager and archive/s3), the CLI and the tests
# ---------------------------------------------------------------------------


def _read_local_summary(layout: ExportsLayout, stage: Stage, ts: str) -> tuple[dict[str, Any], str]:
    """A complete local stage's summary and its sha256 (which names the stage's content)."""
    data = layout.summary_path(stage, ts).read_bytes()
    return parse_summary(data, str(layout.summary_path(stage, ts))), hashlib.sha256(data).hexdigest()


def _stage_collections(stage: Stage, summary: dict[str, Any]) -> tuple[str, ...]:
    if stage == "raw":
        return tuple(sorted(summary.get("tables") or {}))
    return (COLLECTION,)


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file())


def upload_stage(
    client: Any,
    location: S3Location,
    layout: ExportsLayout,
    stage: Stage,
    ts: str,
    work_dir: Path,
    *,
    transfer_config: TransferConfig | None = None,
) -> StageArchive:
    """Tar `<stage>/<ts>/` into `work_dir`, upload it (SHA256 checksum, multipart when large)."""
    stage_dir = layout.require_complete(stage, ts)
    summary, summary_sha256 = _read_local_summary(layout, stage, ts)
    _, contents = load_manifest(stage_dir, stage)
    key = location.stage_key(stage, ts)
    work_dir.mkdir(parents=True, exist_ok=True)
    sweep_hidden(work_dir)
    tarball = build_tarball(stage_dir, work_dir / staging_name(f"{ts}-{stage}.tar.gz"), contents)
    try:
        abort_incomplete_uploads(client, location, key)
        client.upload_file(
            str(tarball.path),
            location.bucket,
            key,
            ExtraArgs={
                "ChecksumAlgorithm": "SHA256",
                "ContentType": "application/gzip",
                "Metadata": {"sha256": tarball.sha256, "summary-sha256": summary_sha256},
            },
            Config=transfer_config or TRANSFER_CONFIG,
            Callback=lambda _sent: checkpoint(f"upload:transferring:{stage}"),
        )
    except _FAILURES as error:
        raise archive_error(error, location, "upload", key) from None
    finally:
        tarball.path.unlink(missing_ok=True)
    return StageArchive(stage, key, tarball.size_bytes, tarball.sha256, _stage_collections(stage, summary))


def abort_incomplete_uploads(client: Any, location: S3Location, prefix: str,
                             older_than: timedelta | None = None) -> list[str]:
    """Abort multipart uploads left under `prefix` by killed uploads (those older than `older_than`)."""
    aborted = []
    cutoff = datetime.now(UTC) - older_than if older_than is not None else None
    try:
        paginator = client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=location.bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                if cutoff is not None and upload["Initiated"] > cutoff:
                    continue
                client.abort_multipart_upload(Bucket=location.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                aborted.append(upload["Key"])
    except _FAILURES as error:
        raise archive_error(error, location, "upload", prefix) from None
    return aborted


def archived_stage(
    client: Any, location: S3Location, layout: ExportsLayout, stage: Stage, ts: str
) -> StageArchive | None:
    """The stage tarball already in S3, if it was made from the local stage as it is now; else None."""
    key = location.stage_key(stage, ts)
    try:
        head = client.head_object(Bucket=location.bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise archive_error(error, location, "upload", key) from None
    except (BotoCoreError, Boto3Error) as error:
        raise archive_error(error, location, "upload", key) from None
    recorded = head.get("Metadata") or {}
    summary, summary_sha256 = _read_local_summary(layout, stage, ts)
    if not recorded.get("sha256") or recorded.get("summary-sha256") != summary_sha256:
        return None
    return StageArchive(stage, key, int(head["ContentLength"]), recorded["sha256"], _stage_collections(stage, summary))


def metadata_document(
    location: S3Location,
    ts: str,
    raw: StageArchive,
    transformed: StageArchive | None,
    summary: dict[str, Any],
    *,
    uploaded_at: datetime | None = None,
) -> dict[str, Any]:
    """The metadata object of an upload (spec shape), from the raw export summary."""
    tables = summary.get("tables") or {}
    source = summary.get("source") or {}
    database = summary.get("database")
    postgres = database if database == dump_database_name(ts) else None
    exports: dict[str, Any] = {
        "raw": {
            "key": raw.key,
            "size_bytes": raw.size_bytes,
            "sha256": raw.sha256,
            "record_count": summary.get("totalRecords"),
            "tables_exported": len(tables),
        },
        "transformed": None,
    }
    if transformed is not None:
        exports["transformed"] = {
            "key": transformed.key,
            "size_bytes": transformed.size_bytes,
            "sha256": transformed.sha256,
            "collections": list(transformed.collections),
        }
    return {
        "timestamp": ts,
        "export_date": timestamp_date(ts).isoformat(),
        "source": {"kind": source.get("kind"), "database": database, "host": summary.get("host")},
        "exports": exports,
        "databases_created": {"postgres": postgres, "mongodb": version_database(ts)},
        "export_duration_seconds": summary.get("durationSeconds"),
        "export_complete": True,
        "uploaded_at": iso_utc(uploaded_at or datetime.now(UTC)),
    }


def write_metadata(
    client: Any,
    location: S3Location,
    ts: str,
    raw: StageArchive,
    transformed: StageArchive | None,
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Write the metadata object: call it only once every tarball is uploaded."""
    document = metadata_document(location, ts, raw, transformed, summary)
    key = location.metadata_key(ts)
    body = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    try:
        client.put_object(
            Bucket=location.bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
        )
    except _FAILURES as error:
        raise archive_error(error, location, "upload", key) from None
    return document


def withdraw_metadata(client: Any, location: S3Location, ts: str) -> None:
    """Remove the metadata of `ts` (if any): the export reads as incomplete until it is rewritten."""
    key = location.metadata_key(ts)
    if _object_exists(client, location, key, "upload"):
        _delete(client, location, key, "upload")


def archive_export(
    client: Any, location: S3Location, layout: ExportsLayout, ts: str, work_dir: Path,
    *, transfer_config: TransferConfig | None = None,
) -> dict[str, Any]:
    """Upload each complete stage of `<ts>` that S3 lacks (or holds from other content), then the
    metadata last: its presence means the archive is complete. Returns the metadata."""
    ts = validate_timestamp(ts)
    summary, _ = _read_local_summary(layout, "raw", ts)
    check_bucket(client, location, "upload")
    stages: dict[str, StageArchive] = {}
    for stage in _STAGES:
        if stage == "raw" or layout.is_complete(stage, ts):
            found = archived_stage(client, location, layout, stage, ts)
            if found is None:
                withdraw_metadata(client, location, ts)
                found = upload_stage(client, location, layout, stage, ts, work_dir, transfer_config=transfer_config)
            stages[stage] = found
    return write_metadata(client, location, ts, stages["raw"], stages.get("transformed"), summary)


def plan_upload(location: S3Location, layout: ExportsLayout, ts: str) -> list[StageArchive]:
    """What `archive_export` would upload (keys, uncompressed sizes), touching nothing remote."""
    planned = []
    for stage in _STAGES:
        if stage == "raw" or layout.is_complete(stage, ts):
            folder = layout.require_complete(stage, ts)
            summary, _ = _read_local_summary(layout, stage, ts)
            planned.append(StageArchive(stage, location.stage_key(stage, ts), _folder_bytes(folder), None,
                                        _stage_collections(stage, summary)))
    return planned


def archived_objects(client: Any, location: S3Location, ts: str) -> list[tuple[str, int]]:
    """The objects of export `ts` in S3 and their sizes, the metadata first: deleted in this order,
    the export reads as incomplete from the first deletion on."""
    found = []
    for key in (location.metadata_key(ts), location.raw_key(ts), location.transformed_key(ts)):
        try:
            head = client.head_object(Bucket=location.bucket, Key=key)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in _MISSING_KEY:
                continue
            raise archive_error(error, location, "cleanup", key) from None
        except (BotoCoreError, Boto3Error) as error:
            raise archive_error(error, location, "cleanup", key) from None
        found.append((key, int(head["ContentLength"])))
    return found


def delete_archived(client: Any, location: S3Location, key: str) -> None:
    """Delete one object `archived_objects` listed."""
    _delete(client, location, key, "cleanup")


def _delete(client: Any, location: S3Location, key: str, operation: str) -> None:
    try:
        client.delete_object(Bucket=location.bucket, Key=key)
    except _FAILURES as error:
        raise archive_error(error, location, operation, key) from None


# ---------------------------------------------------------------------------
# List and download: everything read from the bucket is untrusted
# ---------------------------------------------------------------------------


def _metadata_keys(client: Any, location: S3Location) -> Iterator[str]:
    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=location.bucket, Prefix=location.metadata_prefix):
            for item in page.get("Contents", []):
                yield item["Key"]
    except _FAILURES as error:
        raise archive_error(error, location, "list") from None


def _ts_of_metadata_key(key: str) -> str | None:
    name = key.rsplit("/", 1)[-1]
    if not name.endswith(".json"):
        return None
    try:
        return validate_timestamp(name.removesuffix(".json"))
    except ValueError:
        return None


def read_metadata(client: Any, location: S3Location, ts: str, operation: str) -> dict[str, Any]:
    """The metadata object of `ts`, checked; ArchiveError 'no export <ts> in s3://…' when absent."""
    key = location.metadata_key(ts)
    where = f"s3://{location.bucket}/{key}"
    try:
        response = client.get_object(Bucket=location.bucket, Key=key)
        if int(response.get("ContentLength") or 0) > MAX_METADATA_BYTES:
            raise ArchiveError(f"{where}: metadata larger than {MAX_METADATA_BYTES} bytes ({operation})")
        body = response["Body"].read(MAX_METADATA_BYTES + 1)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404"):
            raise ArchiveError(f"no export {ts} in {location.url}") from None
        raise archive_error(error, location, operation, key) from None
    except (BotoCoreError, Boto3Error) as error:
        raise archive_error(error, location, operation, key) from None
    try:
        metadata = json.loads(body)
    except ValueError:
        raise ArchiveError(f"{where}: metadata is not valid JSON ({operation})") from None
    _check_metadata(metadata, location, ts, where)
    return metadata


def _check_metadata(metadata: Any, location: S3Location, ts: str, where: str) -> None:
    """The metadata must describe `ts`, with tarballs exactly at this prefix's keys."""
    if not isinstance(metadata, dict) or metadata.get("timestamp") != ts:
        raise ArchiveError(f"{where}: metadata is not that of export {ts}")
    exports = metadata.get("exports")
    if not isinstance(exports, dict) or not isinstance(exports.get("raw"), dict):
        raise ArchiveError(f"{where}: metadata lists no raw export")
    for stage in _STAGES:
        entry = exports.get(stage)
        if entry is None and stage == "transformed":
            continue
        if not isinstance(entry, dict):
            raise ArchiveError(f"{where}: metadata entry {stage} is not an object")
        expected_key = location.stage_key(stage, ts)
        if entry.get("key") != expected_key:
            raise ArchiveError(
                f"{where}: {stage} tarball key {printable(str(entry.get('key')))} is not {expected_key} "
                f"(only keys under {location.url} are restored)"
            )
        size = entry.get("size_bytes")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ArchiveError(f"{where}: {stage} size_bytes is not a byte count")
        if not isinstance(entry.get("sha256"), str) or not _SHA256.match(entry["sha256"]):
            raise ArchiveError(f"{where}: {stage} sha256 is not a sha256")


def list_remote(
    client: Any, location: S3Location, warn: Callable[[str], None] = lambda _: None
) -> list[RemoteExport]:
    """Every complete export in S3 (one per readable metadata object), newest first.

    A metadata object that cannot be read or does not describe its export is
    skipped with a warning; the others are listed.
    """
    found: list[RemoteExport] = []
    for key in _metadata_keys(client, location):
        ts = _ts_of_metadata_key(key)
        if ts is None or key != location.metadata_key(ts):
            continue
        try:
            metadata = read_metadata(client, location, ts, "list")
        except ArchiveError as error:
            warn(f"skipping {error}")
            continue
        exports = metadata["exports"]
        transformed = exports.get("transformed")
        found.append(
            RemoteExport(
                ts=ts,
                metadata_key=key,
                raw_size_bytes=exports["raw"]["size_bytes"],
                transformed_size_bytes=transformed["size_bytes"] if transformed else None,
                uploaded_at=str(metadata.get("uploaded_at") or "") or None,
                metadata=metadata,
            )
        )
    return sorted(found, key=lambda item: item.ts, reverse=True)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BUFFER):
            digest.update(block)
    return digest.hexdigest()


def _download_verified(client: Any, location: S3Location, entry: dict[str, Any], path: Path) -> Path:
    key = str(entry["key"])
    try:
        client.download_file(location.bucket, key, str(path))
    except _FAILURES as error:
        path.unlink(missing_ok=True)
        raise archive_error(error, location, "download", key) from None
    actual = _file_sha256(path)
    if actual != entry["sha256"] or path.stat().st_size != entry["size_bytes"]:
        path.unlink(missing_ok=True)
        raise ArchiveError(
            f"s3://{location.bucket}/{key}: checksum mismatch "
            f"(metadata sha256 {entry['sha256']}, downloaded {actual}) (download)"
        )
    return path


def _check_local_absent(layout: ExportsLayout, stages: list[Stage], ts: str) -> None:
    for stage in stages:
        if layout.is_complete(stage, ts):
            raise ArchiveError(
                f"{stage} export {ts} already exists at {layout.stage_dir(stage, ts)}; "
                "not downloading over it (remove it first to restore it from S3)"
            )


def download_export(
    client: Any, location: S3Location, layout: ExportsLayout, ts: str, *, work_dir: Path
) -> list[Path]:
    """Download `<ts>` from S3 into the exports root; the stage folders it created.

    Every tarball is downloaded and checked against the metadata sha256, then
    extracted and checked file by file against the export's own summary, before
    its folder is published; a failure leaves no export folder behind.
    """
    ts = validate_timestamp(ts)
    metadata = read_metadata(client, location, ts, "download")
    stages: dict[Stage, dict[str, Any]] = {
        stage: metadata["exports"][stage] for stage in _STAGES if metadata["exports"].get(stage)
    }
    _check_local_absent(layout, list(stages), ts)
    work_dir.mkdir(parents=True, exist_ok=True)
    sweep_hidden(work_dir)
    tarballs: dict[Stage, Path] = {}
    created: list[Path] = []
    try:
        for stage, entry in stages.items():
            path = work_dir / staging_name(f"{ts}-{stage}.tar.gz")
            tarballs[stage] = _download_verified(client, location, entry, path)
        for stage, tarball in tarballs.items():
            created.append(_extract_stage(layout, stage, ts, tarball))
    except BaseException:
        for folder in created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        for tarball in tarballs.values():
            tarball.unlink(missing_ok=True)
    return created


def _extract_stage(layout: ExportsLayout, stage: Stage, ts: str, tarball: Path) -> Path:
    target = layout.stage_dir(stage, ts)
    if target.exists() and not layout.is_complete(stage, ts):
        # A folder without its summary is "not there" (spec): leftovers are replaced.
        shutil.rmtree(target)
    try:
        return extract_stage(tarball, stage, ts, target.parent)
    except (IntegrityError, OSError) as error:
        raise ArchiveError(f"{stage} export {ts}: {_one_line(error)} (download)") from None
