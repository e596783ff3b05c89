"""Exclusive claims: one writer at a time for one export timestamp, one MongoDB database.

A claim is held for a `with claim(...)` block and released when the block ends
or when its process dies (the operating system or the database releases it),
so a crash never leaves a claim behind. A second writer waits, saying what it
waits for and who holds it, or (`wait=False`) fails at once with `ClaimBusy`.

Two backends, chosen by the settings (no Dagster here):

- one host, the default: `flock` on a file per claim under
  `<exports root>/.claims/`, which also records the holder;
- several hosts (`BRAVO_CLAIMS_URI`, or the `DAGSTER_PG_*` variables of an
  instance on PostgreSQL storage): `pg_try_advisory_lock` on that database, on
  a connection held for the claim; the holder is that connection's
  `application_name`, which the waiting side reads from `pg_stat_activity`.

Within one process claims are re-entrant: a run that the CLI executes in its own
process may claim what the CLI already holds.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from bravo_pipeline.names import version_database
from bravo_pipeline.timestamps import validate_timestamp

POLL_SECONDS = 0.25
CLAIMS_DIR = ".claims"


class ClaimBusy(RuntimeError):
    """Another writer holds the claim (one line naming the claim and its holder)."""


def export_claim(ts: str) -> str:
    """Everything of one export timestamp: its folders, its partition, `mediatool_<ts>`, `media_tool_<ts>`."""
    return f"export {validate_timestamp(ts)}"


def database_claim(database: str) -> str:
    """One MongoDB database (the current database a promotion writes)."""
    return f"database {database}"


def version_claim(ts: str) -> str:
    return database_claim(version_database(ts))


def holder_label(purpose: str) -> str:
    return f"{purpose} (pid {os.getpid()} on {socket.gethostname()})"


class _Backend(Protocol):
    def try_acquire(self, name: str, holder: str) -> object | None: ...

    def release(self, handle: object) -> None: ...

    def holder(self, name: str) -> str: ...


class FileClaims:
    """flock on `<root>/.claims/<digest>` (one host)."""

    def __init__(self, root: Path) -> None:
        self.folder = root / CLAIMS_DIR

    def _path(self, name: str) -> Path:
        return self.folder / hashlib.sha256(name.encode()).hexdigest()[:32]

    def try_acquire(self, name: str, holder: str) -> object | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = self._path(name).open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{name}\n{holder}\n")
        handle.flush()
        return handle

    def release(self, handle: object) -> None:
        handle.truncate(0)  # type: ignore[attr-defined]
        fcntl.flock(handle, fcntl.LOCK_UN)  # type: ignore[arg-type]
        handle.close()  # type: ignore[attr-defined]

    def holder(self, name: str) -> str:
        try:
            lines = self._path(name).read_text().splitlines()
        except FileNotFoundError:
            return "another writer"
        return lines[1] if len(lines) > 1 else "another writer"


class PostgresClaims:
    """pg_try_advisory_lock on a PostgreSQL database shared by every host."""

    APPLICATION_PREFIX = "bravo-pipeline claim "

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @staticmethod
    def _key(name: str) -> int:
        return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") & (2**63 - 1)

    def try_acquire(self, name: str, holder: str) -> object | None:
        from bravo_pipeline.source.connection import connect

        label = (self.APPLICATION_PREFIX + holder)[:63]  # PostgreSQL keeps 63 bytes of it
        conn = connect(self.uri, application_name=label, autocommit=True)
        if conn.execute("SELECT pg_try_advisory_lock(%s)", [self._key(name)]).fetchone()[0]:
            return conn
        conn.close()
        return None

    def release(self, handle: object) -> None:
        handle.close()  # type: ignore[attr-defined]  # closing the session releases its advisory locks

    def holder(self, name: str) -> str:
        from bravo_pipeline.source.connection import connect

        key = self._key(name)
        with connect(self.uri, autocommit=True) as conn:
            row = conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
                [key],
            ).fetchone()
        label = row[0] if row else ""
        return label.removeprefix(self.APPLICATION_PREFIX) if label.startswith(self.APPLICATION_PREFIX) \
            else "another writer"


_held: dict[str, int] = {}
_held_lock = threading.Lock()
_backend: _Backend | None = None


def configure(exports_root: Path, claims_uri: str | None) -> None:
    """Choose the backend (called once the settings are read)."""
    global _backend
    _backend = PostgresClaims(claims_uri) if claims_uri else FileClaims(exports_root)


def _current_backend() -> _Backend:
    if _backend is None:
        from bravo_pipeline.settings import Settings

        settings = Settings.from_env()
        configure(settings.exports_dir, settings.claims_uri)
    assert _backend is not None
    return _backend


@contextmanager
def claim(name: str, purpose: str, *, wait: bool = True,
          say: Callable[[str], None] = lambda _: None) -> Iterator[None]:
    """Hold `name` exclusively for the block. Waits (telling `say` once) or raises ClaimBusy."""
    with _held_lock:
        if _held.get(name):
            _held[name] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_lock:
                _held[name] -= 1
        return
    backend = _current_backend()
    holder = holder_label(purpose)
    handle = backend.try_acquire(name, holder)
    told = False
    while handle is None:
        other = backend.holder(name)
        if not wait:
            raise ClaimBusy(f"{name} is in use by {other}")
        if not told:
            say(f"waiting for {name}: in use by {other}")
            told = True
        time.sleep(POLL_SECONDS)
        handle = backend.try_acquire(name, holder)
    with _held_lock:
        _held[name] = 1
    try:
        yield
    finally:
        with _held_lock:
            _held.pop(name, None)
        backend.release(handle)


def is_free(name: str) -> bool:
    """Whether nobody holds `name` now (a snapshot: hold the claim to act on it)."""
    with _held_lock:
        if _held.get(name):
            return False
    backend = _current_backend()
    handle = backend.try_acquire(name, holder_label("checking"))
    if handle is None:
        return False
    backend.release(handle)
    return True
