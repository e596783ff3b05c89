"""The embedded on-disk store: litemongo, a pymongo-compatible client over SQLite files.

Where it differs from a server, or costs far more than it must, it is corrected here:

- it stores a document of any size, where a server refuses one over 16 MiB of
  BSON: here it raises pymongo's DocumentTooLarge, as pymongo does before
  sending such a document to a server;
- its renameCollection with dropTarget first empties the target and then copies
  the source in, so a reader in between sees an empty collection; its storage
  layer's rename already replaces the target in one SQLite transaction, so that
  is what a rename over an existing target uses here;
- filling the load's new staging collection (documents, then indexes), and
  reading a collection back for its count and sum, go to the collection's
  table directly (`fill_with_indexes`, `embedded_documents`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import bson
import litemongo
import litemongo.client
import litemongo.sqlite_store
from litemongo._vendor.mongomock.database import Database
from pymongo.errors import DocumentTooLarge

from bravo_pipeline.mongo.limits import MAX_BSON_DOCUMENT_BYTES, too_large

_store_encoded = litemongo.sqlite_store.TableDict._encode_doc


def _encode_within_server_limit(self: Any, doc: dict) -> bytes:
    encoded = _store_encoded(self, doc)
    if len(encoded) > MAX_BSON_DOCUMENT_BYTES:
        raise DocumentTooLarge(f"BSON document too large ({len(encoded)} bytes) - the connected server "
                               f"supports BSON document sizes up to {MAX_BSON_DOCUMENT_BYTES} bytes.")
    return encoded


litemongo.sqlite_store.TableDict._encode_doc = _encode_within_server_limit  # type: ignore[method-assign]


class _AtomicRenameDatabase(Database):
    def rename_collection(self, name: str, new_name: str, dropTarget: bool = False) -> dict[str, Any]:
        store = self._store
        if dropTarget and new_name in store and store[name].is_created:
            store.rename(name, new_name)
            return {"ok": 1}
        return super().rename_collection(name, new_name, dropTarget=dropTarget)


class _Client(litemongo.MongoClient):
    def get_database(self, *args: Any, **kwargs: Any) -> Database:
        database = super().get_database(*args, **kwargs)
        if type(database) is Database:
            database.__class__ = _AtomicRenameDatabase  # same state, one method corrected
        return database


def embedded_client(path: Path) -> Any:
    path.mkdir(parents=True, exist_ok=True)
    return _Client(litemongo.client.create_store(str(path)), tz_aware=True)


def embedded_documents(collection: Any) -> Iterator[dict[str, Any]]:
    """Every document of an embedded collection, decoded straight from its table (find() costs 7x more)."""
    store = collection._store
    if not store.is_created:
        return
    with store._rwlock.reader():
        yield from store._documents.values()


def embedded_count(collection: Any) -> int:
    """Documents in an embedded collection from its table's row count (count_documents decodes them all)."""
    return len(collection._store)


class RefusedDocumentError(ValueError):
    """A document a server would refuse: a repeated _id (E11000), or over 16 MiB of BSON."""

    def __init__(self, document_id: object, reason: str) -> None:
        super().__init__(reason)
        self.document_id = document_id


def _field_value(document: dict[str, Any], path: str) -> Any:
    """The value a server's index holds for `path` (a dotted field): None where it is missing."""
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _index_key(value: Any) -> object:
    try:
        hash(value)
    except TypeError:  # a sub-document or an array: compared by its BSON, as a server compares it
        return ("bson", bson.encode({"": value}))
    return (type(value).__name__, value)


def fill_with_indexes(collection: Any, batches: Iterable[list[dict[str, Any]]],
                      indexes: Iterable[tuple[str, str, bool]]) -> int:
    """Insert every document into an empty collection without indexes, in one SQLite transaction,
    then give it its single-field ascending `indexes` (name, field, unique).

    mongomock's insert validates, copies and BSON-encodes each document for its
    checks, then commits it alone: six times the cost of encoding it; its
    create_index of a unique index decodes every document again to check it.
    Into an empty collection without indexes only these checks can matter, and
    all are kept, on the documents in hand: each document is encoded once by the
    store (so one over 16 MiB is refused, see above), a repeated _id is
    refused, and so is a repeated value of a unique index's field (a missing
    field counts as null, as on a server). Nothing is stored unless every
    batch goes in.
    """
    store = collection._store
    if not store.is_empty or store.indexes:
        raise ValueError(f"{collection.full_name} is not an empty collection without indexes")
    indexes = list(indexes)
    unique: dict[str, set[object]] = {field: set() for _, field, is_unique in indexes if is_unique}
    table = store._documents
    insert = f"INSERT INTO {table._table_name} VALUES(?, ?)"  # nosec: litemongo's own table name
    seen: set[object] = set()
    with store._rwlock.writer(), store._connection:
        for batch in batches:
            rows = []
            for document in batch:
                document_id = document["_id"]
                if document_id in seen:
                    raise RefusedDocumentError(document_id, f"E11000 duplicate key error: _id {document_id!r} "
                                                            "is already in the collection")
                seen.add(document_id)
                for field, values in unique.items():
                    value = _field_value(document, field)
                    key = _index_key(value)
                    if key in values:
                        raise RefusedDocumentError(document_id, f"E11000 duplicate key error: {field} "
                                                                f"{value!r} is already in the collection")
                    values.add(key)
                try:
                    encoded = table._encode_doc(document)
                except DocumentTooLarge:
                    size = len(bson.encode(document))
                    raise RefusedDocumentError(document_id, too_large(size)) from None
                rows.append((table.encode_key(document_id), encoded))
            store._connection.executemany(insert, rows)
    store._query_index = None
    for name, field, is_unique in indexes:  # what create_index records, its check done above
        store.create_index(name, {"key": [(field, 1)], **({"unique": True} if is_unique else {})})
    return len(seen)
