"""The embedded on-disk store: litemongo, a pymongo-compatible client over SQLite files.

Two corrections to it. It stores a document of any size, where a server refuses
one over 16 MiB of BSON: here it raises pymongo's DocumentTooLarge, as pymongo
does before sending such a document to a server. And its renameCollection with dropTarget first empties the
target and then copies the source in, so a reader in between sees an empty
collection. Its storage layer's rename already replaces the target in one
SQLite transaction, so that is what a rename over an existing target uses here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import litemongo
import litemongo.client
import litemongo.sqlite_store
from litemongo._vendor.mongomock.database import Database
from pymongo.errors import DocumentTooLarge

from bravo_pipeline.mongo.limits import MAX_BSON_DOCUMENT_BYTES

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


def embedded_count(collection: Any) -> int:
    """Documents in an embedded collection from its table's row count (count_documents decodes them all)."""
    return len(collection._store)
