"""Shared store mode: the exports root mirrored in S3 with the same layout, for steps on other hosts.

`s3://<bucket>/<prefix>/raw/<ts>/<table>.json` and so on. A published stage is
pushed file by file with its summary last (a reader treats a folder without
its summary as absent, in S3 as on disk); a host that lacks a stage pulls it
into a staging folder and renames it into place.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from bravo_pipeline.layout import SUMMARY_FILES, ExportsLayout, Stage
from bravo_pipeline.timestamps import validate_timestamp


class SharedStoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class SharedRoot:
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> SharedRoot:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not url.startswith("s3://") or not bucket:
            raise SharedStoreError(f"not an S3 location: {url} (expected s3://bucket/prefix)")
        return cls(bucket, prefix.strip("/"))

    def key(self, stage: Stage, ts: str, name: str = "") -> str:
        parts = [self.prefix, stage, ts, name] if self.prefix else [stage, ts, name]
        return "/".join(part for part in parts if part)


def shared_timestamps(client: Any, root: SharedRoot, stage: Stage) -> list[str]:
    """The timestamps whose `<stage>/<ts>/` is complete (summary present) in the shared root."""
    found = []
    prefix = root.key(stage, "") + "/"
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=root.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            ts, _, name = item["Key"].removeprefix(prefix).partition("/")
            if name == SUMMARY_FILES[stage]:
                try:
                    found.append(validate_timestamp(ts))
                except ValueError:
                    continue
    return sorted(found)


def push_stage(client: Any, root: SharedRoot, layout: ExportsLayout, stage: Stage, ts: str) -> int:
    """Upload a complete local stage folder; its summary goes last. Returns the files pushed."""
    folder = layout.require_complete(stage, ts)
    summary = SUMMARY_FILES[stage]
    client.delete_object(Bucket=root.bucket, Key=root.key(stage, ts, summary))
    files = [*sorted(p for p in folder.iterdir() if p.name != summary), folder / summary]
    for path in files:
        client.upload_file(str(path), root.bucket, root.key(stage, ts, path.name))
    return len(files)


def pull_stage(client: Any, root: SharedRoot, layout: ExportsLayout, stage: Stage, ts: str) -> bool:
    """Fetch a stage that is complete in S3 but not here. False when S3 does not have it complete."""
    summary = SUMMARY_FILES[stage]
    try:
        client.head_object(Bucket=root.bucket, Key=root.key(stage, ts, summary))
    except ClientError:
        return False
    staging = layout.begin_staging(stage, ts)
    try:
        # The summary first: files that arrive after it are read and hashed again by the checks
        # (raw_completeness trusts only files older than their summary, as the exporter writes them).
        client.download_file(root.bucket, root.key(stage, ts, summary), str(staging / summary))
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=root.bucket, Prefix=root.key(stage, ts) + "/"):
            for item in page.get("Contents", []):
                name = item["Key"].rsplit("/", 1)[1]
                if name != summary:
                    client.download_file(root.bucket, item["Key"], str(staging / name))
        layout.publish(staging, stage, ts, replace=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True
