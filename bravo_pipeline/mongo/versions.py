"""MongoDB versions: load an export into `mediatool_<ts>`, promote one to the current database,
and read back what each database holds, from the database itself.

Every database the pipeline writes keeps a record of its content in the
collection `bravo_version` (one document): the version (export timestamp), the
count and exact Σ price.targetAmount of its campaigns, the sha256 of the
campaigns.json it came from, the action and a load id. That record, not the
registry file, is what `list`, `show`, `promote` and `cleanup` read; the
registry (`mongodb-versions.json`) is a log reconciled from it.

A load or promotion, crash-safe at every step:

1. the campaigns go into a staging collection with a name of its own, are
   indexed and counted (what the collection holds, not what was acknowledged);
2. the record gets a `pending` entry with the new content's fingerprint;
3. the staging collection is renamed over `campaigns` (atomic: readers see the
   old documents or the new ones);
4. `pending` becomes `current`.

After a crash between 2 and 4, the next reader compares what `campaigns`
holds (version, count, sum) with `pending` and settles the record either way.
Staging collections of dead writers are dropped by the next writer of that
database (which holds the database's claim, see bravo_pipeline.claims) and by cleanup.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bson.decimal128 import Decimal128

from bravo_pipeline.exact import exact_sum
from bravo_pipeline.faults import checkpoint
from bravo_pipeline.integrity import expected_digest, load_manifest, verified_lines
from bravo_pipeline.mongo.documents import batched, decimal_of, parse_documents, to_bson
from bravo_pipeline.mongo.store import CAMPAIGN_INDEXES, CountMismatchError, DocumentStore, StoreError
from bravo_pipeline.names import CAMPAIGNS_FILE, version_database
from bravo_pipeline.timestamps import iso_utc, validate_timestamp

COLLECTION = "campaigns"
RECORD_COLLECTION = "bravo_version"
RECORD_ID = "version"
STAGING_PREFIX = f"{COLLECTION}__staging_"
BATCH_SIZE = 1_000


@dataclass(frozen=True)
class Fingerprint:
    """What a campaigns collection holds: the version of its documents, how many, and their money."""

    version: str | None
    count: int
    target_amount_sum: str

    def as_record(self) -> dict[str, Any]:
        return {"version": self.version, "count": self.count, "targetAmountSum": self.target_amount_sum}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Fingerprint:
        return cls(record.get("version"), int(record.get("count") or 0), str(record.get("targetAmountSum") or "0"))


@dataclass(frozen=True)
class VersionState:
    """One database's content by its own record (settled if a crash left it pending)."""

    database: str
    version: str | None
    count: int
    target_amount_sum: str
    action: str
    load_id: str
    at: str
    source_sha256: str | None
    reconciled: bool = False


@dataclass(frozen=True)
class LoadResult:
    database: str
    collections: dict[str, int]
    indexes: list[str]
    seconds: float
    server: str
    state: VersionState


def _now() -> str:
    return iso_utc(datetime.now(UTC))


# ---------------------------------------------------------------------------
# The record in each database
# ---------------------------------------------------------------------------


def _record(store: DocumentStore, database: str) -> dict[str, Any] | None:
    return store.find_one(database, RECORD_COLLECTION, {"_id": RECORD_ID})


def _state(database: str, entry: dict[str, Any], *, reconciled: bool = False) -> VersionState:
    fingerprint = Fingerprint.from_record(entry)
    return VersionState(database, fingerprint.version, fingerprint.count, fingerprint.target_amount_sum,
                        str(entry.get("action") or "unknown"), str(entry.get("loadId") or ""),
                        str(entry.get("at") or ""), entry.get("sourceSha256"), reconciled)


def content_fingerprint(store: DocumentStore, database: str) -> Fingerprint | None:
    """What `campaigns` holds, read from the documents themselves (a full scan). None when empty."""
    count, total = store.count_and_decimal_sum(database, COLLECTION, "price.targetAmount")
    if count == 0:
        return None
    sample = store.find_one(database, COLLECTION, {}, {"exportTimestamp": 1}) or {}
    return Fingerprint(sample.get("exportTimestamp"), count, str(total))


def read_state(store: DocumentStore, database: str) -> VersionState | None:
    """What `database` holds; a record left pending by a crash is settled against the documents first."""
    record = _record(store, database)
    if record is not None and record.get("pending") is None:
        current = record.get("current")
        return _state(database, current) if current else None
    found = content_fingerprint(store, database)
    if record is None and found is None:
        return None
    current, pending = (record or {}).get("current"), (record or {}).get("pending")
    if pending and found == Fingerprint.from_record(pending):
        settled = pending
    elif current and found == Fingerprint.from_record(current):
        settled = current
    elif found is None:
        settled = None
    else:  # documents no record describes (a database loaded by an older version of the pipeline)
        settled = {**found.as_record(), "action": "unknown", "loadId": f"reconciled-{uuid.uuid4().hex}",
                   "at": _now(), "sourceSha256": None}
    store.put_document(database, RECORD_COLLECTION, {"_id": RECORD_ID, "current": settled, "pending": None})
    return _state(database, settled, reconciled=True) if settled else None


def catalog(store: DocumentStore, current_database: str) -> dict[str, VersionState]:
    """Every version database (`mediatool_<ts>`) and the current database, by what they hold."""
    states = {}
    for database in store.database_names():
        if database != current_database and not is_version_database(database):
            continue
        state = read_state(store, database)
        if state is not None:
            states[database] = state
    return states


def is_version_database(name: str) -> bool:
    prefix = version_database("")
    if not name.startswith(prefix):
        return False
    try:
        validate_timestamp(name.removeprefix(prefix))
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------
# Replacing a database's campaigns
# ---------------------------------------------------------------------------


def sweep_staging(store: DocumentStore, database: str) -> list[str]:
    """Drop staging collections in `database` (call it holding the database's claim)."""
    dropped = [name for name in store.collection_names(database) if name.startswith(STAGING_PREFIX)]
    for name in dropped:
        store.drop_collection(database, name)
    return dropped


class _Summing:
    """Passes BSON batches through, adding up price.targetAmount exactly on the way."""

    def __init__(self, batches: Iterable[list[dict[str, Any]]]) -> None:
        self._batches = batches
        self.total = Decimal(0)

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        for batch in self._batches:
            amounts = [((document.get("price") or {}).get("targetAmount")) for document in batch]
            self.total = exact_sum([self.total, *(decimal_of(a) for a in amounts if isinstance(a, Decimal128))])
            yield batch


def _replace_campaigns(
    store: DocumentStore, database: str, batches: Iterable[list[dict[str, Any]]], *, version: str,
    expected: int, action: str, source_sha256: str | None, point: str, expected_sum: str | None = None,
) -> VersionState:
    """Steps 1 to 4 of the module docstring; returns the new current state."""
    sweep_staging(store, database)
    staging = f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    summing = _Summing(batches)
    try:
        store.fill_collection(database, staging, summing, CAMPAIGN_INDEXES)
        held = store.exact_count(database, staging)
        if held != expected:
            raise CountMismatchError(f"{database}.{COLLECTION}: the load holds {held} documents, expected {expected}")
        if expected_sum is not None and str(summing.total) != expected_sum:
            raise StoreError(f"{database}.{COLLECTION}: the load sums to {summing.total}, expected {expected_sum}")
        checkpoint(f"{point}:staged")
        record = _record(store, database) or {"_id": RECORD_ID, "current": None}
        pending = {**Fingerprint(version, held, str(summing.total)).as_record(), "action": action,
                   "loadId": uuid.uuid4().hex, "at": _now(), "sourceSha256": source_sha256}
        store.put_document(database, RECORD_COLLECTION, {**record, "pending": pending})
        checkpoint(f"{point}:pending")
        store.rename(database, staging, COLLECTION)
    except BaseException:
        store.drop_collection(database, staging)
        raise
    checkpoint(f"{point}:renamed")
    store.put_document(database, RECORD_COLLECTION, {"_id": RECORD_ID, "current": pending, "pending": None})
    checkpoint(f"{point}:committed")
    return _state(database, pending)


def _documents(path: Path, expected_digest_of_file: Any) -> Iterator[dict[str, Any]]:
    """campaigns.json as BSON documents, the file checked against its digest as it is read."""
    return (to_bson(document) for document in parse_documents(verified_lines(path, expected_digest_of_file), path))


def load_version(store: DocumentStore, transformed_dir: Path, ts: str, *, action: str = "loaded") -> LoadResult:
    """Replace `mediatool_<ts>.campaigns` with the documents of `transformed/<ts>/`, atomically.

    campaigns.json is checked against its summary while it streams: a mismatch
    stops the load before the rename, leaving the database as it was.
    """
    started = time.perf_counter()
    if not transformed_dir.is_dir():
        raise StoreError(f"transformed export {ts} is incomplete or missing")
    summary, contents = load_manifest(transformed_dir, "transformed")
    digest = expected_digest(contents, CAMPAIGNS_FILE, str(transformed_dir / CAMPAIGNS_FILE))
    database = version_database(ts)
    documents = _documents(transformed_dir / CAMPAIGNS_FILE, digest)
    state = _replace_campaigns(
        store, database, batched(documents, BATCH_SIZE), version=ts, expected=int(summary["totalCampaigns"]),
        action=action, source_sha256=digest.sha256 if digest else None, point="load",
    )
    return _result(store, database, state, started)


def promote_version(store: DocumentStore, ts: str, current_database: str) -> LoadResult:
    """Make `current_database.campaigns` hold exactly the documents of `mediatool_<ts>`."""
    started = time.perf_counter()
    source = version_database(ts)
    if source not in store.database_names():
        raise StoreError(f"MongoDB version {source} does not exist on {store.server}: load it first")
    loaded = read_state(store, source)
    if loaded is None or loaded.count == 0:
        raise StoreError(f"MongoDB version {source} has no campaigns: load it first")
    if loaded.version != ts:
        raise StoreError(f"MongoDB database {source} holds version {loaded.version}, not {ts}")
    batches = store.iter_batches(source, COLLECTION, BATCH_SIZE)
    state = _replace_campaigns(
        store, current_database, batches, version=ts, expected=loaded.count, action="promoted",
        source_sha256=loaded.source_sha256, point="promote",
    )
    if state.target_amount_sum != loaded.target_amount_sum:
        raise StoreError(f"{current_database}: the promoted campaigns sum to {state.target_amount_sum}, "
                         f"{source} to {loaded.target_amount_sum}")
    return _result(store, current_database, state, started)


def _result(store: DocumentStore, database: str, state: VersionState, started: float) -> LoadResult:
    return LoadResult(
        database=database,
        collections={COLLECTION: state.count},
        indexes=store.index_names(database, COLLECTION),
        seconds=time.perf_counter() - started,
        server=store.server,
        state=state,
    )
