"""The embedded on-disk store: litemongo, a pymongo-compatible client over SQLite files.

One correction to it: its renameCollection with dropTarget first empties the
target and then copies the source in, so a reader in between sees an empty
collection. Its storage layer's rename already replaces the target in one
SQLite transaction, so that is what a rename over an existing target uses here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import litemongo
import litemongo.client
from litemongo._vendor.mongomock.database import Database


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
