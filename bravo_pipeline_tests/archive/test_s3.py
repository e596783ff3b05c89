"""Archive to S3 and back against a real S3 endpoint (moto's server, over HTTP)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig

from bravo_pipeline.archive.s3 import (
    ArchiveError,
    S3Location,
    archive_export,
    download_export,
    list_remote,
    make_client,
    plan_upload,
)
from bravo_pipeline.archive.tarballs import build_tarball, extract_stage
from bravo_pipeline.integrity import IntegrityError
from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.names import printable
from bravo_pipeline_tests.archive.conftest import EXPORT_TS, FaultProxy, write_transformed
from bravo_pipeline_tests.conftest import refresh_summary

TS = EXPORT_TS


def _keys(client: Any, bucket: str) -> list[str]:
    listing = client.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _copy_export(
    source: ExportsLayout, root: Path, timestamps: list[str], *, transformed: bool
) -> ExportsLayout:
    layout = ExportsLayout(root)
    for ts in timestamps:
        shutil.copytree(source.stage_dir("raw", TS), layout.stage_dir("raw", ts))
        refresh_summary(layout.stage_dir("raw", ts), ts)
        if transformed:
            write_transformed(layout, ts)
    return layout


# ---------------------------------------------------------------------------
# Keys and tarballs
# ---------------------------------------------------------------------------


def test_keys_follow_the_spec_layout() -> None:
    location = S3Location("b", "/postgres-exports/")
    assert location.raw_key(TS) == "postgres-exports/raw/2025-06-22/20250622-072114-raw.tar.gz"
    assert location.transformed_key(TS) == (
        "postgres-exports/transformed/2025-06-22/20250622-072114-transformed.tar.gz"
    )
    assert location.metadata_key(TS) == "postgres-exports/metadata/2025-06-22/20250622-072114.json"
    with pytest.raises(ValueError, match="invalid export timestamp"):
        location.raw_key("../x")


def test_tarball_is_deterministic(source_exports: ExportsLayout, tmp_path: Path) -> None:
    folder = tmp_path / TS
    shutil.copytree(source_exports.stage_dir("raw", TS), folder)
    first = build_tarball(folder, tmp_path / "a.tar.gz")
    for path in folder.iterdir():
        os.utime(path, (1_000_000, 1_000_000))
    second = build_tarball(folder, tmp_path / "b.tar.gz")
    assert first.sha256 == second.sha256 and first.size_bytes == second.size_bytes
    assert hashlib.sha256(first.path.read_bytes()).hexdigest() == first.sha256
    assert first.path.stat().st_size == first.size_bytes
    with tarfile.open(first.path) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[:3] == [TS, f"{TS}/export-summary.json", f"{TS}/schema.json"]  # what to expect comes first
    assert names[3:] == sorted(names[3:])
    assert all(n == TS or n.startswith(f"{TS}/") for n in names)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert first.path.read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime
    assert first.path.read_bytes()[3] == 0  # no file name or comment in the gzip header
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "xzf", str(first.path), "-C", str(unpacked)], check=True)  # what a user types
    assert {p.name: p.read_bytes() for p in (unpacked / TS).iterdir()} == {
        p.name: p.read_bytes() for p in folder.iterdir()}


def _summary_listing(files: dict[str, bytes]) -> bytes:
    tables = {name.removesuffix(".json"): {"count": 0, "filename": name, "size": len(data),
                                           "sha256": hashlib.sha256(data).hexdigest()}
              for name, data in files.items()}
    return json.dumps({"exportTimestamp": TS, "tables": tables}).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, kind: bytes = tarfile.REGTYPE,
         linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if data is not None else 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _evil_tarball(path: Path, name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, f"{TS}/export-summary.json", _summary_listing({"ok.json": b"[]"}))
        _add(tar, f"{TS}/ok.json", b"[]")
        _add(tar, name, b"evil" if kind == tarfile.REGTYPE else None, kind, linkname)
    return path


@pytest.mark.parametrize(
    ("name", "kind", "linkname", "reason"),
    [
        ("../evil", tarfile.REGTYPE, "", "escapes"),
        (f"{TS}/../../evil", tarfile.REGTYPE, "", "escapes"),
        ("ABSOLUTE", tarfile.REGTYPE, "", "absolute path"),
        (f"{TS}/link", tarfile.SYMTYPE, "/etc/passwd", "symlink"),
        (f"{TS}/hard", tarfile.LNKTYPE, f"{TS}/ok.json", "hardlink"),
        (f"{TS}/dev", tarfile.CHRTYPE, "", "special file"),
        ("20240101-000000/x.json", tarfile.REGTYPE, "", f"top-level folder is not {TS}/"),
        (f"{TS}/sub/x.json", tarfile.REGTYPE, "", "no subfolders"),
        (f"{TS}/extra.json", tarfile.REGTYPE, "", "not a file of the export's export-summary.json"),
        (f"{TS}/ok.json", tarfile.REGTYPE, "", "a second copy"),
        (f"{TS}/export-summary.json", tarfile.REGTYPE, "", "a second copy"),
    ],
)
def test_extraction_refuses_unsafe_or_unexpected_members(
    tmp_path: Path, name: str, kind: bytes, linkname: str, reason: str
) -> None:
    if name == "ABSOLUTE":
        name = str(tmp_path / "evil")
    tarball = _evil_tarball(tmp_path / "evil.tar.gz", name, kind, linkname)
    target_parent = tmp_path / "exports" / "raw"
    with pytest.raises(IntegrityError) as caught:
        extract_stage(tarball, "raw", TS, target_parent)
    message = str(caught.value)
    assert "\n" not in message and printable(name) in message and reason in message
    assert list(target_parent.iterdir()) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "exports" / "evil").exists()


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"{}", "sha256"), (b"[]\n", "3 bytes, the summary says 2")],
)
def test_extraction_checks_every_file_against_the_summary(tmp_path: Path, data: bytes, reason: str) -> None:
    tarball = tmp_path / "t.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        _add(tar, f"{TS}/export-summary.json", _summary_listing({"ok.json": b"[]"}))
        _add(tar, f"{TS}/ok.json", data)
    with pytest.raises(IntegrityError, match=reason):
        extract_stage(tarball, "raw", TS, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_extraction_requires_the_summary_and_every_file_and_refuses_garbage(tmp_path: Path) -> None:
    tarball = tmp_path / "t.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        _add(tar, f"{TS}/other.json", b"[]")
    with pytest.raises(IntegrityError, match=r"no 20250622-072114/export-summary\.json"):
        extract_stage(tarball, "raw", TS, tmp_path / "out")
    lacking = tmp_path / "l.tar.gz"
    with tarfile.open(lacking, "w:gz") as tar:
        _add(tar, f"{TS}/export-summary.json", _summary_listing({"ok.json": b"[]"}))
    with pytest.raises(IntegrityError, match=r"lacks ok\.json, schema\.json"):
        extract_stage(lacking, "raw", TS, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
    garbage = tmp_path / "g.tar.gz"
    garbage.write_bytes(b"\x1f\x8b\x08\x00 not really gzip" * 10)
    with pytest.raises(IntegrityError, match=r"not a valid tar\.gz"):
        extract_stage(garbage, "raw", TS, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


# ---------------------------------------------------------------------------
# Upload, download, list
# ---------------------------------------------------------------------------


def test_upload_then_download_gives_identical_files(
    source_exports: ExportsLayout, s3_client: Any, location: S3Location, tmp_path: Path
) -> None:
    metadata = archive_export(s3_client, location, source_exports, TS, tmp_path / "work")
    assert _keys(s3_client, location.bucket) == sorted(
        [location.raw_key(TS), location.transformed_key(TS), location.metadata_key(TS)]
    )
    assert list((tmp_path / "work").iterdir()) == []

    stored = s3_client.head_object(Bucket=location.bucket, Key=location.raw_key(TS), ChecksumMode="ENABLED")
    raw_sha256 = metadata["exports"]["raw"]["sha256"]
    assert stored["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(raw_sha256)).decode()

    stored_metadata = json.loads(
        s3_client.get_object(Bucket=location.bucket, Key=location.metadata_key(TS))["Body"].read()
    )
    summary = json.loads(source_exports.summary_path("raw", TS).read_text())
    assert stored_metadata == metadata
    assert list(metadata) == [
        "timestamp",
        "export_date",
        "source",
        "exports",
        "databases_created",
        "export_duration_seconds",
        "export_complete",
        "uploaded_at",
    ]
    assert metadata["timestamp"] == TS and metadata["export_date"] == "2025-06-22"
    assert metadata["source"] == {"kind": "demo", "database": "media_tool_demo", "host": summary["host"]}
    raw = metadata["exports"]["raw"]
    assert raw == {
        "key": location.raw_key(TS),
        "size_bytes": stored["ContentLength"],
        "sha256": raw_sha256,
        "record_count": summary["totalRecords"],
        "tables_exported": 27,
    }
    assert metadata["exports"]["transformed"]["collections"] == ["campaigns"]
    assert metadata["databases_created"] == {"postgres": None, "mongodb": f"mediatool_{TS}"}
    assert metadata["export_duration_seconds"] == summary["durationSeconds"]
    assert metadata["export_complete"] is True and metadata["uploaded_at"].endswith("Z")

    target = ExportsLayout(tmp_path / "restored")
    created = download_export(s3_client, location, target, TS, work_dir=tmp_path / "dl")
    assert created == [target.stage_dir("raw", TS), target.stage_dir("transformed", TS)]
    for stage in ("raw", "transformed"):
        assert _files(target.stage_dir(stage, TS)) == _files(source_exports.stage_dir(stage, TS))
    assert list((tmp_path / "dl").iterdir()) == []

    with pytest.raises(ArchiveError, match="raw export 20250622-072114 already exists"):
        download_export(s3_client, location, target, TS, work_dir=tmp_path / "dl")


def test_multipart_upload_round_trip(
    source_exports: ExportsLayout, s3_client: Any, location: S3Location, tmp_path: Path
) -> None:
    layout = ExportsLayout(tmp_path / "src")
    shutil.copytree(source_exports.stage_dir("raw", TS), layout.stage_dir("raw", TS))
    write_transformed(layout, TS, padding=12 * 1024 * 1024)
    small_parts = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    archive_export(s3_client, location, layout, TS, tmp_path / "work", transfer_config=small_parts)
    head = s3_client.head_object(Bucket=location.bucket, Key=location.transformed_key(TS))
    assert head["ETag"].strip('"').endswith("-2")  # really uploaded in two parts
    target = ExportsLayout(tmp_path / "restored")
    download_export(s3_client, location, target, TS, work_dir=tmp_path / "dl")
    assert _files(target.stage_dir("transformed", TS)) == _files(layout.stage_dir("transformed", TS))


def test_metadata_is_written_last(
    source_exports: ExportsLayout,
    fault_proxy: FaultProxy,
    location: S3Location,
    s3_client: Any,
    tmp_path: Path,
) -> None:
    fault_proxy.deny_path = "-transformed.tar.gz"
    client = make_client(fault_proxy.url, "us-east-1")
    with pytest.raises(ArchiveError) as caught:
        archive_export(client, location, source_exports, TS, tmp_path / "work")
    assert str(caught.value) == f"s3://{location.bucket}: access denied (upload)"
    assert fault_proxy.denials >= 1
    assert location.metadata_key(TS) not in _keys(s3_client, location.bucket)
    assert list_remote(s3_client, location) == []
    with pytest.raises(ArchiveError, match=f"no export {TS} in s3://"):
        download_export(s3_client, location, ExportsLayout(tmp_path / "r"), TS, work_dir=tmp_path / "dl")

    fault_proxy.deny_path = None
    archive_export(client, location, source_exports, TS, tmp_path / "work")
    assert location.metadata_key(TS) in _keys(s3_client, location.bucket)


def test_dry_run_uploads_nothing(
    source_exports: ExportsLayout, s3_client: Any, location: S3Location, tmp_path: Path
) -> None:
    planned = plan_upload(location, source_exports, TS)
    assert [(a.stage, a.key, a.sha256) for a in planned] == [
        ("raw", location.raw_key(TS), None),
        ("transformed", location.transformed_key(TS), None),
    ]
    raw_bytes = sum(len(b) for b in _files(source_exports.stage_dir("raw", TS)).values())
    assert planned[0].size_bytes == raw_bytes
    assert _keys(s3_client, location.bucket) == []


def test_list_remote_newest_first_skipping_unreadable_metadata(
    source_exports: ExportsLayout, s3_client: Any, location: S3Location, tmp_path: Path
) -> None:
    stamps = ["20250621-080000", "20250623-080000", "20250620-080000"]
    layout = _copy_export(source_exports, tmp_path / "src", stamps[:2], transformed=True)
    _copy_export(source_exports, tmp_path / "src", stamps[2:], transformed=False)
    uploads = {ts: archive_export(s3_client, location, layout, ts, tmp_path / "w") for ts in stamps}
    s3_client.put_object(Bucket=location.bucket, Key=f"{location.prefix}/metadata/notes.txt", Body=b"x")
    broken = "20250619-080000"
    s3_client.put_object(Bucket=location.bucket, Key=location.metadata_key(broken), Body=b"{not json")
    warnings: list[str] = []
    listed = list_remote(s3_client, location, warn=warnings.append)
    assert [item.ts for item in listed] == sorted(stamps, reverse=True)
    assert len(warnings) == 1 and location.metadata_key(broken) in warnings[0] and "not valid JSON" in warnings[0]
    for item in listed:
        exports = uploads[item.ts]["exports"]
        assert item.raw_size_bytes == exports["raw"]["size_bytes"]
        expected_transformed = exports["transformed"]["size_bytes"] if exports["transformed"] else None
        assert item.transformed_size_bytes == expected_transformed
    assert listed[-1].has_transformed is False


def test_missing_export_is_named(s3_client: Any, location: S3Location, tmp_path: Path) -> None:
    with pytest.raises(ArchiveError) as caught:
        download_export(s3_client, location, ExportsLayout(tmp_path), TS, work_dir=tmp_path / "w")
    assert str(caught.value) == f"no export {TS} in s3://{location.bucket}/postgres-exports"


def test_corrupted_tarball_is_refused(
    source_exports: ExportsLayout, s3_client: Any, location: S3Location, tmp_path: Path
) -> None:
    archive_export(s3_client, location, source_exports, TS, tmp_path / "work")
    key = location.transformed_key(TS)
    s3_client.put_object(Bucket=location.bucket, Key=key, Body=b"corrupted bytes")
    target = ExportsLayout(tmp_path / "restored")
    with pytest.raises(ArchiveError) as caught:
        download_export(s3_client, location, target, TS, work_dir=tmp_path / "dl")
    message = str(caught.value)
    assert "\n" not in message and f"s3://{location.bucket}/{key}: checksum mismatch" in message
    for stage in ("raw", "transformed"):
        parent = target.root / stage
        assert not parent.exists() or list(parent.iterdir()) == []
    assert list((tmp_path / "dl").iterdir()) == []


def test_missing_bucket_is_one_line(source_exports: ExportsLayout, s3_client: Any, tmp_path: Path) -> None:
    location = S3Location("missing-bucket-bravo")
    with pytest.raises(ArchiveError) as caught:
        archive_export(s3_client, location, source_exports, TS, tmp_path / "w")
    assert str(caught.value) == "s3://missing-bucket-bravo: bucket does not exist (upload)"
    with pytest.raises(ArchiveError) as caught:
        download_export(s3_client, location, ExportsLayout(tmp_path / "r"), TS, work_dir=tmp_path / "w")
    assert str(caught.value) == "s3://missing-bucket-bravo: bucket does not exist (download)"
    with pytest.raises(ArchiveError) as caught:
        list_remote(s3_client, location)
    assert str(caught.value) == "s3://missing-bucket-bravo: bucket does not exist (list)"


def test_transient_server_errors_are_retried(
    source_exports: ExportsLayout,
    fault_proxy: FaultProxy,
    location: S3Location,
    s3_client: Any,
    tmp_path: Path,
) -> None:
    client = make_client(fault_proxy.url, "us-east-1")
    fault_proxy.fail_next = 2
    archive_export(client, location, source_exports, TS, tmp_path / "work")
    assert fault_proxy.failures_injected == 2
    assert location.metadata_key(TS) in _keys(s3_client, location.bucket)

    fault_proxy.fail_next = 2
    target = ExportsLayout(tmp_path / "restored")
    download_export(client, location, target, TS, work_dir=tmp_path / "dl")
    assert fault_proxy.failures_injected == 4
    assert _files(target.stage_dir("raw", TS)) == _files(source_exports.stage_dir("raw", TS))
