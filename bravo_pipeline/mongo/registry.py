"""`exports/mongodb-versions.json`: the registry of MongoDB databases the pipeline made.

A valid JSON array, one entry per event (loaded, restored, promoted, dropped),
rewritten atomically (temporary file + rename) under an exclusive file lock, so
concurrent runs never lose or break an entry.
"""

from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bravo_pipeline.file_lock import exclusive_lock
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
        except json.JSONDecodeError as error:
            raise RegistryError(f"{self.path} is not valid JSON (line {error.lineno})") from None
        if not isinstance(entries, list):
            raise RegistryError(f"{self.path} is not a JSON array")
        return entries

    def append(self, entry: dict[str, Any]) -> None:
        with self._locked():
            entries = [*self.entries(), entry]
            temporary = self.path.with_name(f".{REGISTRY_FILE}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            os.replace(temporary, self.path)

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


def registry_entry(
    ts: str,
    action: Action,
    *,
    database: str,
    collections: dict[str, int],
    source_postgres_db: str | None,
    purpose: str = "",
    notes: str = "",
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
    }
