"""`exports/mongodb-versions.json`: the log of what the pipeline did to MongoDB databases.

A valid JSON array, one entry per event (loaded, restored, promoted, dropped),
rewritten atomically (temporary file, flushed, renamed) under an exclusive file
lock, so concurrent runs never lose or break an entry. It is a log, not the
truth: each database records what it holds (mongo/versions.py), and
`reconcile` appends the entries a crash kept from being written. A command
reads (and so validates) the registry before it touches any database.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bravo_pipeline.durable import write_atomically
from bravo_pipeline.file_lock import exclusive_lock
from bravo_pipeline.mongo.versions import VersionState
from bravo_pipeline.names import REGISTRY_FILE
from bravo_pipeline.timestamps import iso_utc

Action = Literal["loaded", "restored", "promoted", "dropped"]


class RegistryError(RuntimeError):
    pass


class Registry:
    def __init__(self, exports_root: Path) -> None:
        self.path = exports_root / REGISTRY_FILE
        self._lock_path = exports_root / f".{REGISTRY_FILE}.lock"

    def _locked(self) -> AbstractContextManager[None]:
        return exclusive_lock(self._lock_path)

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError as error:
            raise RegistryError(f"{self.path} cannot be read ({error.strerror}); no database was touched") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            line = f" (line {error.lineno})" if isinstance(error, json.JSONDecodeError) else ""
            raise RegistryError(f"{self.path} is not valid JSON{line}; no database was touched") from None
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise RegistryError(f"{self.path} is not a JSON array of entries; no database was touched")
        return entries

    def append(self, *entries: dict[str, Any]) -> None:
        """Add entries at the end (an entry whose load id is logged already is not added twice)."""
        with self._locked():
            existing = self.entries()
            logged = {entry.get("load_id") for entry in existing if entry.get("load_id")}
            new = [entry for entry in entries if not entry.get("load_id") or entry["load_id"] not in logged]
            if new:
                document = json.dumps([*existing, *new], indent=2, ensure_ascii=False) + "\n"
                write_atomically(self.path, document.encode("utf-8"))

    def check(self) -> None:
        """RegistryError (naming the file) unless the registry can be read and appended to."""
        self.entries()

    def reconcile(self, states: dict[str, VersionState]) -> list[dict[str, Any]]:
        """Append what the databases hold but the log lacks (a crash between a load and its entry),
        and a `dropped` entry for each database the log holds as present that no longer exists."""
        entries = self.entries()
        logged = {entry.get("load_id") for entry in entries}
        missing = []
        for database, state in sorted(states.items()):
            if state.load_id and state.load_id not in logged:
                action = state.action if state.action in ("loaded", "restored", "promoted") else "loaded"
                missing.append(registry_entry(
                    state.version or "", action, database=database, collections={"campaigns": state.count},
                    source_postgres_db=None, notes="reconciled from the database", load_id=state.load_id,
                ))
        for database, entry in _present(entries).items():
            if database not in states:
                missing.append(registry_entry(
                    str(entry.get("version") or ""), "dropped", database=database, collections={},
                    source_postgres_db=None, notes="reconciled: the database no longer exists",
                ))
        self.append(*missing)
        return missing

    def current_version(self) -> str | None:
        """The version last promoted (None if never)."""
        promoted = [entry["version"] for entry in self.entries() if entry.get("action") == "promoted"]
        return promoted[-1] if promoted else None

    def loaded_versions(self) -> set[str]:
        """Versions whose database was loaded or restored and not dropped since."""
        state: dict[str, bool] = {}
        for entry in self.entries():
            if entry.get("action") in ("loaded", "restored"):
                state[entry["version"]] = True
            elif entry.get("action") == "dropped":
                state[entry["version"]] = False
        return {version for version, present in state.items() if present}


def _present(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """database → its last entry, for databases whose last entry is not `dropped`."""
    last: dict[str, dict[str, Any]] = {}
    for entry in entries:
        database = entry.get("database_name")
        if isinstance(database, str):
            last[database] = entry
    return {database: entry for database, entry in last.items() if entry.get("action") != "dropped"}


def registry_entry(
    ts: str,
    action: Action,
    *,
    database: str,
    collections: dict[str, int],
    source_postgres_db: str | None,
    purpose: str = "",
    notes: str = "",
    load_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    return {
        "version": ts,
        "database_name": database,
        "source_postgres_db": source_postgres_db,
        "created_at": iso_utc(now or datetime.now(UTC)),
        "raw_export": f"raw/{ts}",
        "transformed_export": f"transformed/{ts}",
        "collections": collections,
        "action": action,
        "purpose": purpose,
        "notes": notes,
        "load_id": load_id,
    }
