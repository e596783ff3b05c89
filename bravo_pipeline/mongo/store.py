"""The small interface the pipeline needs from MongoDB, over a pymongo-compatible client.

Two backends, one code path:
- a real server through `pymongo.MongoClient` (BRAVO_MONGODB_URI; in tests, mongomock
  patched in at that class);
- the embedded on-disk store, `litemongo` (a pymongo-compatible client that keeps
  each collection in an SQLite file), when no server is configured.

A collection is replaced by loading a staging collection in the same database,
indexing and counting it, then renaming it over the target (`renameCollection`
with dropTarget: atomic on a server, one SQLite transaction in the embedded
store, see mongo/embedded.py):
readers see the old collection or the new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact
from pathlib import Path
from typing import Any, Protocol

import bson
import pymongo
from bson.decimal128 import Decimal128
from pymongo.errors import BulkWriteError, DocumentTooLarge, OperationFailure, PyMongoError

from bravo_pipeline.mongo.embedded import embedded_client
from bravo_pipeline.uris import mongodb_label

SERVER_SELECTION_TIMEOUT_MS = 3_000
STAGING_SUFFIX = "__staging"
MAX_BSON_DOCUMENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class IndexSpec:
    field: str
    unique: bool = False

    @property
    def name(self) -> str:
        return f"{self.field}_1"


CAMPAIGN_INDEXES = (
    IndexSpec("campaignNumber", unique=True),
    IndexSpec("accountId"),
    IndexSpec("stage"),
    IndexSpec("team.accountManager.zohoUserId"),
    IndexSpec("dates.start"),
)


class StoreError(RuntimeError):
    """A MongoDB failure worded for the user (one line)."""


class CountMismatchError(StoreError):
    pass


class DocumentStore(Protocol):
    server: str

    def replace_collection(
        self,
        database: str,
        collection: str,
        batches: Iterable[list[dict[str, Any]]],
        indexes: Iterable[IndexSpec],
        expected_count: int,
    ) -> int: ...

    def iter_batches(self, database: str, collection: str, size: int) -> Iterator[list[dict[str, Any]]]: ...

    def count(self, database: str, collection: str) -> int: ...

    def index_names(self, database: str, collection: str) -> list[str]: ...

    def decimal_sum(self, database: str, collection: str, path: str) -> Decimal: ...

    def count_and_decimal_sum(self, database: str, collection: str, path: str) -> tuple[int, Decimal]: ...

    def database_names(self) -> list[str]: ...

    def drop_database(self, database: str) -> None: ...

    def close(self) -> None: ...


def _rejected_id(error: BulkWriteError, batch: list[dict[str, Any]]) -> str:
    details = (error.details or {}).get("writeErrors") or [{}]
    first = details[0]
    index = first.get("index")
    document_id = batch[index].get("_id") if isinstance(index, int) and index < len(batch) else "?"
    return f"document {document_id} rejected by MongoDB: {first.get('errmsg', error)}"


def _oversized_id(batch: list[dict[str, Any]]) -> str:
    for document in batch:
        size = len(bson.encode(document))
        if size > MAX_BSON_DOCUMENT_BYTES:
            return f"document {document.get('_id')} rejected by MongoDB: {size} bytes is over the 16 MB limit"
    return "a document of the batch was rejected by MongoDB as too large"


def connect_server(uri: str) -> MongoStore:
    """A MongoDB server; fails within seconds with the host:port when unreachable."""
    server = mongodb_label(uri)
    try:
        client = pymongo.MongoClient(
            uri, serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS, retryWrites=True, tz_aware=True
        )
    except (PyMongoError, ValueError, TypeError):  # their messages may quote the URI, password included
        raise StoreError(
            "BRAVO_MONGODB_URI is not a valid MongoDB URI (special characters in the user or password "
            "must be percent-encoded; expected mongodb://user:password@host:port)"
        ) from None
    try:
        client.admin.command("ping")
    except PyMongoError:
        client.close()
        raise StoreError(f"cannot reach MongoDB at {server}") from None
    return MongoStore(client, server)


def open_embedded(path: Path) -> MongoStore:
    """The embedded on-disk store under `path` (one folder per database)."""
    return MongoStore(embedded_client(path), f"embedded:{path}")


class MongoStore:
    """The DocumentStore over a pymongo-compatible client."""

    def __init__(self, client: Any, server: str) -> None:
        self._client = client
        self.server = server

    def replace_collection(
        self,
        database: str,
        collection: str,
        batches: Iterable[list[dict[str, Any]]],
        indexes: Iterable[IndexSpec],
        expected_count: int,
    ) -> int:
        db = self._client[database]
        staging = db[collection + STAGING_SUFFIX]
        staging.drop()
        loaded = 0
        try:
            for batch in batches:
                try:
                    loaded += len(staging.insert_many(batch, ordered=False).inserted_ids)
                except BulkWriteError as error:
                    raise StoreError(_rejected_id(error, batch)) from None
                except DocumentTooLarge:
                    raise StoreError(_oversized_id(batch)) from None
            for index in indexes:
                staging.create_index([(index.field, pymongo.ASCENDING)], name=index.name, unique=index.unique)
            # acknowledged inserts; the mongodb_matches_transformed check then reads the version back
            if loaded != expected_count:
                raise CountMismatchError(
                    f"{database}.{collection}: loaded {loaded} documents, expected {expected_count}"
                )
            staging.rename(collection, dropTarget=True)
        except BaseException:
            staging.drop()
            raise
        return loaded

    def iter_batches(self, database: str, collection: str, size: int) -> Iterator[list[dict[str, Any]]]:
        batch: list[dict[str, Any]] = []
        for document in self._client[database][collection].find({}, sort=[("_id", 1)], batch_size=size):
            batch.append(document)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def count(self, database: str, collection: str) -> int:
        return self._client[database][collection].count_documents({})

    def index_names(self, database: str, collection: str) -> list[str]:
        return sorted(self._client[database][collection].index_information())

    def decimal_sum(self, database: str, collection: str, path: str) -> Decimal:
        return self.count_and_decimal_sum(database, collection, path)[1]

    def count_and_decimal_sum(self, database: str, collection: str, path: str) -> tuple[int, Decimal]:
        """Documents read back, and the exact sum of a Decimal128 field over them (one pass, never rounded)."""
        count, total = 0, Decimal(0)
        exact = Context(prec=1_000, traps=[Inexact])
        for document in self._client[database][collection].find({}, {path: 1}):
            count += 1
            value: Any = document
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, Decimal128):
                total = exact.add(total, value.to_decimal())
        return count, total

    def database_names(self) -> list[str]:
        return sorted(self._client.list_database_names())

    def drop_database(self, database: str) -> None:
        try:
            self._client.drop_database(database)
        except OperationFailure as error:
            raise StoreError(f"cannot drop {database} on {self.server}: {error}") from None

    def close(self) -> None:
        self._client.close()
