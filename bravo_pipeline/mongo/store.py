"""The small interface the pipeline needs from MongoDB, over a pymongo-compatible client.

Two backends, one code path:
- a real server through `pymongo.MongoClient` (BRAVO_MONGODB_URI; in tests, mongomock
  patched in at that class);
- the embedded on-disk store, `litemongo` (a pymongo-compatible client that keeps
  each collection in an SQLite file), when no server is configured.

What a load or a promotion does with these operations (staging, counting,
renaming, the version record) is in mongo/versions.py; the rename over an
existing collection is atomic on a server and one SQLite transaction in the
embedded store (see mongo/embedded.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import bson
import pymongo
from bson.decimal128 import Decimal128
from pymongo.errors import BulkWriteError, DocumentTooLarge, DuplicateKeyError, OperationFailure, PyMongoError

from bravo_pipeline.exact import EXACT
from bravo_pipeline.mongo.documents import decimal_of
from bravo_pipeline.mongo.embedded import (
    RefusedDocumentError,
    embedded_client,
    embedded_count,
    embedded_documents,
    fill_with_indexes,
)
from bravo_pipeline.mongo.limits import MAX_BSON_DOCUMENT_BYTES, too_large
from bravo_pipeline.uris import mongodb_label

SERVER_SELECTION_TIMEOUT_MS = 3_000


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
    """The few operations versions.py needs; the same calls on a server and on the embedded store."""

    server: str

    def fill_collection(self, database: str, collection: str, batches: Iterable[list[dict[str, Any]]],
                        indexes: Iterable[IndexSpec]) -> int: ...

    def exact_count(self, database: str, collection: str) -> int: ...

    def rename(self, database: str, source: str, target: str) -> None: ...

    def drop_collection(self, database: str, collection: str) -> None: ...

    def collection_names(self, database: str) -> list[str]: ...

    def find_one(self, database: str, collection: str, filter: dict[str, Any],
                 projection: dict[str, Any] | None = None) -> dict[str, Any] | None: ...

    def put_document(self, database: str, collection: str, document: dict[str, Any]) -> None: ...

    def iter_batches(self, database: str, collection: str, size: int) -> Iterator[list[dict[str, Any]]]: ...

    def index_names(self, database: str, collection: str) -> list[str]: ...

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


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _oversized_id(batch: list[dict[str, Any]]) -> str:
    for document in batch:
        size = len(bson.encode(document))
        if size > MAX_BSON_DOCUMENT_BYTES:
            return f"document {document.get('_id')} rejected by MongoDB: {too_large(size)}"
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


@contextmanager
def opened_store(uri: str | None, embedded_path: Path) -> Iterator[MongoStore]:
    """The server at `uri`, or the embedded store under `embedded_path`; closed afterwards."""
    store = connect_server(uri) if uri else open_embedded(embedded_path)
    try:
        yield store
    finally:
        store.close()


def open_embedded(path: Path) -> MongoStore:
    """The embedded on-disk store under `path` (one folder per database)."""
    return MongoStore(embedded_client(path), f"embedded:{path}", embedded=True)


class MongoStore:
    """The DocumentStore over a pymongo-compatible client (a server's, or the embedded store's)."""

    def __init__(self, client: Any, server: str, *, embedded: bool = False) -> None:
        self._client = client
        self.server = server
        self._embedded = embedded

    def fill_collection(self, database: str, collection: str, batches: Iterable[list[dict[str, Any]]],
                        indexes: Iterable[IndexSpec]) -> int:
        """Insert every batch into a new collection, then create its indexes (on a server, building
        them once over the loaded documents is cheaper than keeping them up during the load). A
        document the server refuses, or a unique index it cannot build, is named (StoreError)."""
        target = self._client[database][collection]
        if self._embedded:
            try:
                return fill_with_indexes(target, batches, [(i.name, i.field, i.unique) for i in indexes])
            except RefusedDocumentError as error:
                raise StoreError(f"document {error.document_id} rejected by MongoDB: {error}") from None
        acknowledged = 0
        for batch in batches:
            try:
                acknowledged += len(target.insert_many(batch, ordered=False).inserted_ids)
            except BulkWriteError as error:
                raise StoreError(_rejected_id(error, batch)) from None
            except DocumentTooLarge:
                raise StoreError(_oversized_id(batch)) from None
        for index in indexes:
            try:
                target.create_index([(index.field, pymongo.ASCENDING)], name=index.name, unique=index.unique)
            except DuplicateKeyError as error:
                raise StoreError(f"{database}.{collection}: index {index.name} rejected by MongoDB: "
                                 f"{index.field} is not unique ({_first_line(error)})") from None
        return acknowledged

    def exact_count(self, database: str, collection: str) -> int:
        """The documents the collection holds now (not what was acknowledged)."""
        target = self._client[database][collection]
        if self._embedded:
            return embedded_count(target)
        return target.count_documents({})

    def rename(self, database: str, source: str, target: str) -> None:
        """Replace `target` with `source` in one step (renameCollection with dropTarget)."""
        self._client[database][source].rename(target, dropTarget=True)

    def drop_collection(self, database: str, collection: str) -> None:
        self._client[database][collection].drop()

    def collection_names(self, database: str) -> list[str]:
        return sorted(self._client[database].list_collection_names())

    def find_one(self, database: str, collection: str, filter: dict[str, Any],
                 projection: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return self._client[database][collection].find_one(filter, projection)

    def put_document(self, database: str, collection: str, document: dict[str, Any]) -> None:
        """Insert or replace the document with this `_id`."""
        self._client[database][collection].replace_one({"_id": document["_id"]}, document, upsert=True)

    def iter_batches(self, database: str, collection: str, size: int) -> Iterator[list[dict[str, Any]]]:
        batch: list[dict[str, Any]] = []
        for document in self._client[database][collection].find({}, sort=[("_id", 1)], batch_size=size):
            batch.append(document)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def index_names(self, database: str, collection: str) -> list[str]:
        return sorted(self._client[database][collection].index_information())

    def count_and_decimal_sum(self, database: str, collection: str, path: str) -> tuple[int, Decimal]:
        """Documents read back, and the exact sum of a Decimal128 field over them (one pass, never rounded)."""
        count, total = 0, Decimal(0)
        target = self._client[database][collection]
        for document in embedded_documents(target) if self._embedded else target.find({}, {path: 1}):
            count += 1
            value: Any = document
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, Decimal128):
                total = EXACT.add(total, decimal_of(value))
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
