"""What MongoDB holds, as `list`, `show`, `promote` and `cleanup` see it: the databases' own records.

The registry log is reconciled on the way (entries a crash kept from being
written are appended). When MongoDB cannot be reached the log's view is used
instead, and the caller is told so.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from bravo_pipeline.mongo.registry import Registry, RegistryError
from bravo_pipeline.mongo.store import DocumentStore, StoreError
from bravo_pipeline.mongo.versions import VersionState, catalog
from bravo_pipeline.names import version_database


@dataclass(frozen=True)
class MongoView:
    loaded: dict[str, VersionState | None]  # export timestamp → its version database's state
    current: str | None  # the version the current database holds
    from_databases: bool  # False: MongoDB was unreachable, this is the registry's view


def observe(open_store: Callable[[], AbstractContextManager[DocumentStore]], registry: Registry,
            current_database: str, warn: Callable[[str], None]) -> MongoView:
    try:
        with open_store() as store:
            states = catalog(store, current_database)
    except StoreError as error:
        warn(f"{error}; showing the registry's view of MongoDB")
        return MongoView({ts: None for ts in registry.loaded_versions()}, registry.current_version(), False)
    try:
        registry.reconcile(states)
    except (RegistryError, OSError) as error:
        warn(f"the registry could not be reconciled: {error}")
    loaded = {state.version: state for database, state in states.items()
              if database == version_database(state.version or "") and state.version}
    current = states.get(current_database)
    return MongoView(loaded, current.version if current else None, True)
