"""Write one transformed export: `campaigns.json`, then `transformation-summary.json` last."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bravo_pipeline.hashing import HashingWriter
from bravo_pipeline.integrity import load_manifest, seal
from bravo_pipeline.names import CAMPAIGNS_FILE, TRANSFORMATION_SUMMARY_FILE
from bravo_pipeline.timestamps import iso_utc
from bravo_pipeline.transform.campaigns import build_campaign_documents, documents_json_blocks, summary_counts
from bravo_pipeline.transform.raw_tables import read_transform_inputs

PREVIEW_DOCUMENTS = 3


def transform_export(raw_dir: Path, target: Path, ts: str) -> dict[str, Any]:
    """Transform the raw export in `raw_dir` into the empty folder `target`.

    Each table file read is checked against the export's summary as it is read.
    Returns the summary that was written.
    """
    started = time.perf_counter()
    _, contents = load_manifest(raw_dir, "raw")
    result = build_campaign_documents(read_transform_inputs(raw_dir, contents), ts)
    with (target / CAMPAIGNS_FILE).open("wb") as handle:
        out = HashingWriter(handle)
        for block in documents_json_blocks(result.documents):
            out.write(block)
    counts = summary_counts(result)
    summary = {
        "transformedAt": iso_utc(datetime.now(UTC)),
        "exportTimestamp": ts,
        "source": "PostgreSQL export",
        "totalCampaigns": counts["totalCampaigns"],
        "totalStrategies": counts["totalStrategies"],
        "totalLineItems": counts["totalLineItems"],
        "totalUsers": counts["totalUsers"],
        "outputFile": CAMPAIGNS_FILE,
        "sha256": out.hexdigest(),
        "size": out.size,
        "orphans": counts["orphans"],
        "unresolvedUsers": counts["unresolvedUsers"],
        "durationSeconds": round(time.perf_counter() - started, 3),
    }
    summary = seal(summary)
    (target / TRANSFORMATION_SUMMARY_FILE).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary


def preview_documents(campaigns_file: Path, count: int = PREVIEW_DOCUMENTS) -> list[dict[str, Any]]:
    """The first documents of campaigns.json (one per line), for a small preview."""
    documents = []
    with campaigns_file.open(encoding="utf-8") as handle:
        next(handle, None)
        for line in handle:
            line = line.rstrip().rstrip(",")
            if not line.startswith("{") or len(documents) == count:
                break
            documents.append(json.loads(line))
    return documents
