"""Load a transformed export into `mediatool_<ts>`, and promote a version to the current database."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bravo_pipeline.mongo.documents import batched, read_documents, to_bson
from bravo_pipeline.mongo.store import CAMPAIGN_INDEXES, DocumentStore, StoreError
from bravo_pipeline.names import CAMPAIGNS_FILE, TRANSFORMATION_SUMMARY_FILE, version_database

COLLECTION = "campaigns"
BATCH_SIZE = 1_000


@dataclass(frozen=True)
class LoadResult:
    database: str
    collections: dict[str, int]
    indexes: list[str]
    seconds: float
    server: str


def load_version(store: DocumentStore, transformed_dir: Path, ts: str) -> LoadResult:
    """Replace `mediatool_<ts>.campaigns` with the documents of `transformed/<ts>/`, atomically."""
    started = time.perf_counter()
    summary_path = transformed_dir / TRANSFORMATION_SUMMARY_FILE
    if not summary_path.is_file():
        raise StoreError(f"transformed export {ts} is incomplete or missing")
    expected = json.loads(summary_path.read_text(encoding="utf-8"))["totalCampaigns"]
    database = version_database(ts)
    documents = (to_bson(document) for document in read_documents(transformed_dir / CAMPAIGNS_FILE))
    return _replace_campaigns(store, database, batched(documents, BATCH_SIZE), expected, started)


def promote_version(store: DocumentStore, ts: str, current_database: str) -> LoadResult:
    """Make `current_database.campaigns` hold exactly the documents of `mediatool_<ts>`."""
    started = time.perf_counter()
    source = version_database(ts)
    if source not in store.database_names():
        raise StoreError(f"MongoDB version {source} does not exist on {store.server}: load it first")
    expected = store.count(source, COLLECTION)
    if expected == 0:
        raise StoreError(f"MongoDB version {source} has no campaigns: load it first")
    batches = store.iter_batches(source, COLLECTION, BATCH_SIZE)
    return _replace_campaigns(store, current_database, batches, expected, started)


def _replace_campaigns(
    store: DocumentStore, database: str, batches: Iterable[list[dict[str, Any]]], expected: int, started: float
) -> LoadResult:
    count = store.replace_collection(database, COLLECTION, batches, CAMPAIGN_INDEXES, expected)
    return LoadResult(
        database=database,
        collections={COLLECTION: count},
        indexes=store.index_names(database, COLLECTION),
        seconds=time.perf_counter() - started,
        server=store.server,
    )
